/**
 * `POST /webhook/tradingview[/{token}]` and the signal read API (`GET /signals`, `GET /signals/{id}`).
 *
 * The webhook, in order: client address (allowlist → 403, rate limit → 429), body as text whatever
 * the Content-Type (64 KiB → 413), JSON object or KEY=VALUE lines, the token (path, `?token=`, body
 * field, `X-TRADINGVIEW-TOKEN` header — the first one present counts; constant-time compare against
 * TRADINGVIEW_WEBHOOK_TOKEN and _NEXT → 401), then 400 for a body that did not parse, 422 for a
 * signal that does not validate, and 201 new / 200 duplicate / 202 stale. Bad input never gets a
 * 5xx (TradingView re-sends only on 5xx); a database outage is a 503, so it is re-sent — also when
 * the database does not answer within WEBHOOK_DATABASE_TIMEOUT_MS (a hung server or partition).
 */
import { ByteSize, Data, Duration, Effect, Layer, Metric } from "effect"
import { HttpIncomingMessage, HttpMiddleware, HttpRouter, HttpServerRequest, UrlParams } from "effect/http"
import { AppConfig } from "../config.ts"
import { isId } from "../domain/ids.ts"
import { normaliseSymbol, parseTimestamp } from "../domain/signal.ts"
import { parseBody, tokenFromBody, tokenFromUnparsedBody } from "../domain/webhookBody.ts"
import type { FieldProblem } from "../domain/vocabulary.ts"
import { ApiError, json, operatorRoute, publicRoute } from "../http/respond.ts"
import { OrderService } from "../orders/OrderService.ts"
import { orderJson } from "../orders/OrderView.ts"
import { Secrets } from "../security/Secrets.ts"
import { matchesAny } from "../security/tokens.ts"
import { taggedBy, webhookRejections } from "../telemetry/metrics.ts"
import { UNTRACED_URLS } from "../telemetry/tracing.ts"
import { signalJson } from "./json.ts"
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
  const body = result.list ? { signals: result.signals.map(signalJson) } : signalJson(result.signals[0]!)
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
// Read API
// ---------------------------------------------------------------------------------------------

export const DEFAULT_LIST_LIMIT = 50
export const MAX_LIST_LIMIT = 500

/** `limit` query parameter: a whole number 1..max, else a field problem. */
export const parseLimit = (
  raw: string | undefined,
  fallback: number,
  problems: Array<FieldProblem>
): number => {
  if (raw === undefined || raw.trim() === "") return fallback
  const n = /^\d{1,6}$/.test(raw.trim()) ? Number(raw.trim()) : NaN
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    problems.push({ field: "limit", problem: `must be a whole number from 1 to ${MAX_LIST_LIMIT}` })
    return fallback
  }
  return n
}

const listSignals = Effect.gen(function*() {
  const search = yield* HttpServerRequest.ParsedSearchParams
  const problems: Array<FieldProblem> = []
  const limit = parseLimit(first(search.limit), DEFAULT_LIST_LIMIT, problems)
  let symbol: string | undefined
  const rawSymbol = first(search.symbol)
  if (rawSymbol !== undefined && rawSymbol.trim() !== "") {
    const s = normaliseSymbol(rawSymbol)
    if (s.ok) symbol = s.value
    else problems.push({ field: "symbol", problem: s.problem })
  }
  let since: Date | undefined
  const rawSince = first(search.since)
  if (rawSince !== undefined && rawSince.trim() !== "") {
    const t = parseTimestamp(rawSince)
    if (t.ok) since = new Date(t.value)
    else problems.push({ field: "since", problem: t.problem })
  }
  if (problems.length > 0) return yield* new ApiError({ status: 422, message: "invalid query", fields: problems })
  const service = yield* SignalService
  const signals = yield* service.list({ limit, symbol, since })
  return json({ signals: signals.map(signalJson) })
})

const getSignal = Effect.gen(function*() {
  const { id } = yield* HttpRouter.params
  const notFound = new ApiError({ status: 404, message: `signal ${id ?? ""} not found` })
  if (!isId(id)) return yield* notFound
  const service = yield* SignalService
  const signal = yield* service.get(id)
  if (signal._tag === "None") return yield* notFound
  // The orders as GET /orders/{id} shows them (one encoder for both).
  const orders = yield* (yield* OrderService).ofSignal(id)
  return json({ ...signalJson(signal.value), orders: orders.map(orderJson) })
})

export const signalReadRoutes = Layer.mergeAll(
  operatorRoute("GET", "/signals", listSignals),
  operatorRoute("GET", "/signals/:id", getSignal)
)

export const signalRoutes = Layer.mergeAll(webhookRoutes, signalReadRoutes)
