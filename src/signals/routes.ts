/**
 * `POST /webhook/tradingview[/{token}]` (a raw route: its body is lenient on purpose) and the
 * handlers of the contract's `signals` group (`GET /signals`, `GET /signals/{id}`).
 *
 * The webhook, in order: client address (allowlist → 403, rate limit → 429), body as text whatever
 * the Content-Type (64 KiB → 413), JSON object or KEY=VALUE lines, the token (path, `?token=`, body
 * field, `X-TRADINGVIEW-TOKEN` header — the first one present counts; constant-time compare against
 * TRADINGVIEW_WEBHOOK_TOKEN and _NEXT → 401), then 400 for a body that did not parse, 422 for a
 * signal that does not validate, and 201 new / 200 duplicate / 202 stale. Bad input never gets a
 * 5xx (TradingView re-sends only on 5xx); a database outage is a 503, so it is re-sent — also when
 * the database does not answer within WEBHOOK_DATABASE_TIMEOUT_MS (a hung server or partition).
 */
import { ByteSize, Data, Duration, Effect, Layer, Metric, Schema } from "effect"
import { HttpIncomingMessage, HttpMiddleware, HttpRouter, HttpServerRequest, UrlParams } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { AppConfig } from "../config.ts"
import { parseBody, tokenFromBody, tokenFromUnparsedBody } from "../domain/webhookBody.ts"
import { Api } from "../api/Api.ts"
import { NotFound } from "../api/errors.ts"
import { orUnavailable } from "../api/server.ts"
import { DEFAULT_SIGNAL_LIMIT, Signal } from "../api/Signals.ts"
import { parseId } from "../domain/ids.ts"
import { ApiError, json, publicRoute } from "../http/respond.ts"
import { OrderService } from "../orders/OrderService.ts"
import { orderJson } from "../orders/OrderView.ts"
import { Secrets } from "../security/Secrets.ts"
import { matchesAny } from "../security/tokens.ts"
import { taggedBy, webhookRejections } from "../telemetry/metrics.ts"
import { UNTRACED_URLS } from "../telemetry/tracing.ts"
import { SignalService } from "./SignalService.ts"
import { WebhookGuard } from "./WebhookGuard.ts"

export const WEBHOOK_PATH = "/webhook/tradingview"
export const MAX_BODY_BYTES = 64 * 1024
const MAX_BODY_SIZE = ByteSize.bytes(MAX_BODY_BYTES)

/** Bounded label values of `tradingview_webhook_rejections_total`. */
export type RejectionReason =
  | "forbidden_ip"
  | "rate_limited"
  | "too_large"
  | "unauthorized"
  | "bad_body"
  | "invalid"
  | "unavailable"

const rejectionsBy = taggedBy(webhookRejections)

const reject = (reason: RejectionReason, client: string, error: ApiError) =>
  Metric.update(rejectionsBy({ reason }), 1).pipe(
    Effect.andThen(
      Effect.logWarning(`webhook rejected (${reason}, ${error.status}) from ${client}: ${error.message}`).pipe(
        Effect.annotateLogs({ reason, client, ...(error.fields ? { fields: error.fields } : {}) })
      )
    ),
    Effect.andThen(Effect.fail(error))
  )

const first = (v: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof v === "string" ? v : v?.[0]

const decodePathToken = (t: string | undefined): string | undefined => {
  if (t === undefined || t.length === 0) return undefined
  try {
    return decodeURIComponent(t)
  } catch {
    return t
  }
}

/** The database did not answer the ingest in time (answered 503). */
class IngestTimedOut extends Data.TaggedError("IngestTimedOut")<{ readonly ms: number }> {}

/** The webhook answers with the contract's wire form of a signal. */
const encodeSignal = Schema.encodeSync(Signal)

const UNAUTHORIZED =
  "missing or invalid webhook token: put TRADINGVIEW_WEBHOOK_TOKEN in the alert message (\"secret\": \"<token>\") or in the URL (/webhook/tradingview/<token>)"

const webhook = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const guard = yield* WebhookGuard
  const verdict = yield* guard.check(request)
  const client = verdict.client
  if (verdict._tag === "Forbidden") {
    return yield* reject(
      "forbidden_ip",
      client,
      new ApiError({
        status: 403,
        message: `address ${client} is not in TRADINGVIEW_IP_ALLOWLIST (behind a reverse proxy? set TRUST_PROXY=true)`
      })
    )
  }
  if (verdict._tag === "RateLimited") {
    return yield* reject(
      "rate_limited",
      client,
      new ApiError({
        status: 429,
        message: `too many webhook requests from ${client} (WEBHOOK_RATE_LIMIT_PER_MINUTE); retry in ${verdict.retryAfterSeconds} s`,
        headers: { "retry-after": String(verdict.retryAfterSeconds) }
      })
    )
  }

  // Errors are built only when they happen (an Error captures a stack trace: not per request).
  const tooLarge = () => new ApiError({ status: 413, message: `body is larger than ${MAX_BODY_BYTES / 1024} KiB` })
  const declared = Number(request.headers["content-length"])
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return yield* reject("too_large", client, tooLarge())
  const text = yield* request.text.pipe(
    Effect.provideService(HttpIncomingMessage.MaxBodySize, MAX_BODY_SIZE),
    Effect.catchTag("HttpServerError", (e) =>
      e.reason._tag === "RequestParseError" && e.reason.reason === "BodyTooLarge"
        ? reject("too_large", client, tooLarge())
        : reject("bad_body", client, new ApiError({ status: 400, message: "could not read the request body" })))
  )
  const parsed = parseBody(text, request.headers["content-type"])

  const params = yield* HttpRouter.params
  const search = yield* HttpServerRequest.ParsedSearchParams
  const token = decodePathToken(params.token) ??
    first(search.token) ??
    (parsed.ok ? tokenFromBody(parsed.body) : tokenFromUnparsedBody(text)) ??
    request.headers["x-tradingview-token"]
  const secrets = yield* Secrets
  if (token === undefined || !matchesAny(token, secrets.webhookTokens)) {
    return yield* reject("unauthorized", client, new ApiError({ status: 401, message: UNAUTHORIZED }))
  }
  if (!parsed.ok) {
    return yield* reject("bad_body", client, new ApiError({ status: 400, message: parsed.problem.message }))
  }

  const service = yield* SignalService
  const { webhookTimeoutMs } = (yield* AppConfig).database
  const result = yield* service.ingest(parsed.body).pipe(
    // A hung database (partition, frozen server) must not hold the answer past TradingView's 3 s.
    Effect.timeoutOrElse({
      duration: Duration.millis(webhookTimeoutMs),
      orElse: () => Effect.fail(new IngestTimedOut({ ms: webhookTimeoutMs }))
    }),
    Effect.catchTags({
      IngestTimedOut: (e) =>
        Effect.logError(`webhook: the database did not answer within ${e.ms} ms`).pipe(
          Effect.andThen(
            reject(
              "unavailable",
              client,
              new ApiError({
                status: 503,
                message:
                  `database did not answer within ${e.ms} ms (WEBHOOK_DATABASE_TIMEOUT_MS): the alert may still be stored; re-sending it is safe (a repeat is recognised)`
              })
            )
          )
        ),
      SignalInvalid: (e) => reject("invalid", client, new ApiError({ status: 422, message: e.message, fields: e.fields })),
      SqlError: (e) =>
        Effect.logError("webhook: database unavailable; TradingView will re-send on 503", e).pipe(
          Effect.andThen(
            reject("unavailable", client, new ApiError({ status: 503, message: "database unavailable, try again shortly" }))
          )
        )
    })
  )
  const status = result.outcome === "created" ? 201 : result.outcome === "stale" ? 202 : 200
  const body = result.list ? { signals: result.signals.map((s) => encodeSignal(s)) } : encodeSignal(result.signals[0]!)
  return json(body, status)
})

export const webhookRoutes = Layer.mergeAll(
  publicRoute("POST", WEBHOOK_PATH, webhook),
  publicRoute("POST", `${WEBHOOK_PATH}/:token`, webhook)
)

/**
 * Keeps webhook tokens out of traces: no server span for token-in-path requests (its `url.path`
 * would carry the token; the `SignalService.ingest` span is still recorded), and `token` joins the
 * query parameters redacted in `url.query`/`url.full`. Provide it to the API server.
 */
export const isTokenInPath = (url: string): boolean => url.startsWith(`${WEBHOOK_PATH}/`)
export const layerWebhookTraceRedaction = Layer.mergeAll(
  // Replaces the app-wide TracerDisabledWhen on :8000, so it keeps the probes untraced as well.
  Layer.succeed(
    HttpMiddleware.TracerDisabledWhen,
    (request: HttpServerRequest.HttpServerRequest) => isTokenInPath(request.url) || UNTRACED_URLS.includes(request.url)
  ),
  Layer.succeed(UrlParams.CurrentRedactedNames, [...UrlParams.CurrentRedactedNames.defaultValue(), "token"])
)

// ---------------------------------------------------------------------------------------------
// Read API (the contract's `signals` group)
// ---------------------------------------------------------------------------------------------

/** `GET /signals` and `GET /signals/{id}` (with the orders as `GET /orders/{id}` shows them). */
export const signalsGroup = HttpApiBuilder.group(Api, "signals", (handlers) =>
  handlers
    .handle("list", ({ query }) =>
      Effect.gen(function*() {
        const service = yield* SignalService
        const signals = yield* orUnavailable(service.list({
          limit: query.limit ?? DEFAULT_SIGNAL_LIMIT,
          symbol: query.symbol,
          since: query.since === undefined ? undefined : new Date(query.since)
        }))
        return { signals }
      }))
    .handle("get", ({ params }) =>
      Effect.gen(function*() {
        const notFound = NotFound.of(`signal ${params.id} not found`)
        const id = parseId(params.id)
        if (id === undefined) return yield* notFound
        const signal = yield* orUnavailable((yield* SignalService).get(id))
        if (signal._tag === "None") return yield* notFound
        const orders = yield* orUnavailable((yield* OrderService).ofSignal(id))
        return { ...signal.value, orders: orders.map(orderJson) }
      })))

export const signalRoutes = webhookRoutes
