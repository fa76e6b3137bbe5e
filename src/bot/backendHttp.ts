/**
 * The bot's HTTP client of the backend (role bot), derived from the operator API's contract with
 * `HttpApiClient` — the paths, queries, bodies and their decoding are the contract's, not a copy.
 * `BACKEND_BASE_URL` + `Authorization: Bearer <API_TOKEN>` (the contract's `Operator` middleware,
 * client side), one span per call (`BackendClient.get` / `BackendClient.post`), the
 * `tvtelegrambingx_bot_backend_*` metrics labelled with the route template (never the raw path),
 * a per-call timeout of `BOT_BACKEND_TIMEOUT` seconds, and no retries: a POST (approve, reject,
 * settings) is sent exactly once per user action.
 *
 * A settings patch is checked with the contract's rule first (a patch the server would refuse
 * fails `Invalid` with the same fields, unsent).
 * Errors: the contract's 404 / 409 / 400 / 422 arrive as themselves (400 as `Invalid`); a refused
 * token, a 5xx, a timeout, an unreachable backend or a body that does not match the contract is
 * `BackendUnavailable` with a message that says which.
 */
import { Clock, Context, Duration, Effect, Metric, Redacted } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient, HttpApiMiddleware } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { decodeSettingsBody } from "../api/Bot.ts"
import { Invalid } from "../api/errors.ts"
import { Operator } from "../api/middleware.ts"
import { AppConfig } from "../config.ts"
import { botBackendRequestDuration, botBackendRequests } from "../telemetry/metrics.ts"
import { type BackendError, BackendUnavailable, type BotBackendShape } from "./contract.ts"

/** The status of the answer to the call in progress (set by the client, read by `call`). */
class AnswerStatus extends Context.Service<AnswerStatus, { status: number | undefined }>()(
  "tvtelegrambingx/bot/backendHttp/AnswerStatus"
) {}

interface Route {
  readonly method: "GET" | "POST"
  /** The route template, for the span and the metric labels (e.g. /orders/{id}/approve). */
  readonly route: string
  /** The concrete path (e.g. /orders/34/approve). */
  readonly path: string
}

const REFUSED = (status: number) => `backend refused the bot's API_TOKEN (${status}); set API_TOKEN to the backend's token`

export const makeHttp = Effect.gen(function*() {
  const config = yield* AppConfig
  const baseUrl = config.telegram.backendBaseUrl
  const timeout = Duration.millis(Math.round(config.telegram.backendTimeoutSeconds * 1000))
  const token = config.security.apiToken

  if (token === undefined) {
    yield* Effect.logWarning(
      "API_TOKEN is not set: the bot calls the backend without a bearer token and will be refused; set API_TOKEN to the backend's token"
    )
  }

  const bearer = HttpApiMiddleware.layerClient(Operator, ({ next, request }) =>
    next(token === undefined ? request : HttpClientRequest.bearerToken(request, Redacted.value(token))))

  const client = yield* HttpApiClient.make(Api, {
    transformClient: (c) =>
      c.pipe(
        HttpClient.mapRequest(HttpClientRequest.prependUrl(baseUrl)),
        HttpClient.tap((response) =>
          Effect.map(Effect.serviceOption(AnswerStatus), (seen) => {
            if (seen._tag === "Some") seen.value.status = response.status
          })
        )
      )
  }).pipe(Effect.provide(bearer))

  /** The contract's failures in the bot's terms. */
  const failure = (r: Route, e: unknown): BackendError => {
    const tag = (e as { readonly _tag?: string })._tag
    switch (tag) {
      case "NotFound":
      case "Conflict":
      case "Invalid":
        return e as BackendError
      case "BadRequest": {
        const bad = e as { readonly error: string; readonly fields: Invalid["fields"] }
        return Invalid.of(bad.error, bad.fields)
      }
      case "Unauthorized":
        return new BackendUnavailable({ message: REFUSED(401) })
      case "Unavailable":
      case "PayloadTooLarge":
        return new BackendUnavailable({ message: (e as { readonly error: string }).error })
      case "TimeoutError":
        return new BackendUnavailable({ message: `backend did not answer ${r.method} ${r.route} within ${Duration.format(timeout)}` })
      case "SchemaError":
        return new BackendUnavailable({
          message: `backend answered ${r.method} ${r.route} with an unexpected body: ${(e as Error).message}`
        })
      case "HttpClientError": {
        const reason = (e as { readonly reason: { readonly _tag: string; readonly response?: { readonly status: number } } }).reason
        if (reason._tag === "StatusCodeError") {
          const status = reason.response?.status ?? 0
          return new BackendUnavailable({ message: status === 401 || status === 403 ? REFUSED(status) : `backend answered ${status}` })
        }
        if (reason._tag === "DecodeError") {
          return new BackendUnavailable({
            message: `backend answered ${r.method} ${r.route} with an unexpected body: ${(e as Error).message}`
          })
        }
        return new BackendUnavailable({ message: `backend unreachable at ${baseUrl} (${r.method} ${r.route})` })
      }
      default:
        return new BackendUnavailable({ message: `backend call ${r.method} ${r.route} failed: ${String(e)}` })
    }
  }

  /** One call: span, metrics (route template), timeout, error mapping. */
  const call = <A>(r: Route, effect: Effect.Effect<A, unknown>): Effect.Effect<A, BackendError> =>
    Effect.gen(function*() {
      const started = yield* Clock.currentTimeNanos
      const seen: { status: number | undefined } = { status: undefined }
      const exit = yield* effect.pipe(Effect.timeout(timeout), Effect.provideService(AnswerStatus, seen), Effect.exit)
      const label = seen.status !== undefined
        ? String(seen.status)
        : exit._tag === "Failure" && exit.cause.reasons.some((x) => x._tag === "Fail" && (x.error as { _tag?: string })._tag === "TimeoutError")
        ? "timeout"
        : exit._tag === "Failure" ? "error" : "200"
      const seconds = Number((yield* Clock.currentTimeNanos) - started) / 1e9
      yield* Metric.update(Metric.withAttributes(botBackendRequests, { method: r.method, path: r.route, status: label }), 1)
      yield* Metric.update(Metric.withAttributes(botBackendRequestDuration, { method: r.method, path: r.route }), seconds)
      yield* Effect.annotateCurrentSpan({ "http.status_code": label })
      return yield* Effect.mapError(exit, (e) => failure(r, e))
    }).pipe(
      Effect.withSpan(r.method === "GET" ? "BackendClient.get" : "BackendClient.post", {
        attributes: { "http.method": r.method, "http.route": r.route, "url.path": r.path }
      })
    )

  const byId = (orderId: string, action: "" | "/approve" | "/reject"): Route => ({
    method: action === "" ? "GET" : "POST",
    route: `/orders/{id}${action}`,
    path: `/orders/${encodeURIComponent(orderId)}${action}`
  })

  const service: BotBackendShape = {
    status: call({ method: "GET", route: "/bot/status", path: "/bot/status" }, client.bot.status()),
    updateSettings: (patch) => {
      // The contract's own rule and wording: a patch the server would refuse is not sent.
      const checked = decodeSettingsBody(patch)
      return checked.ok
        ? call({ method: "POST", route: "/bot/settings", path: "/bot/settings" }, client.bot.settings({ payload: patch }))
        : Effect.fail(Invalid.of("invalid settings", checked.fields))
    },
    recentSignals: (limit) =>
      call({ method: "GET", route: "/bot/reports", path: "/bot/reports" }, client.bot.reports({ query: { limit } })).pipe(
        Effect.map((r) => r.signals)
      ),
    orders: (limit) =>
      call({ method: "GET", route: "/orders", path: "/orders" }, client.orders.list({ query: { limit } })).pipe(
        Effect.map((r) => r.orders)
      ),
    order: (orderId) => call(byId(orderId, ""), client.orders.get({ params: { id: orderId } })),
    approve: (orderId) => call(byId(orderId, "/approve"), client.orders.approve({ params: { id: orderId } })),
    reject: (orderId) => call(byId(orderId, "/reject"), client.orders.reject({ params: { id: orderId } })),
    pnl: (period) => call({ method: "GET", route: "/pnl", path: "/pnl" }, client.pnl.summary({ query: { period } })),
    positions: call({ method: "GET", route: "/positions", path: "/positions" }, client.pnl.positions()).pipe(
      Effect.map((r) => r.positions)
    ),
    audit: (entry) =>
      Effect.gen(function*() {
        yield* Effect.logInfo(`audit: telegram ${entry.action} → ${entry.result}`).pipe(
          Effect.annotateLogs({
            audit_actor: "telegram",
            audit_actor_id: String(entry.actor.userId),
            telegram_username: entry.actor.username ?? null
          })
        )
        yield* call(
          { method: "POST", route: "/bot/audit", path: "/bot/audit" },
          client.bot.audit({
            payload: {
              actor_id: String(entry.actor.userId),
              username: entry.actor.username ?? null,
              action: entry.action,
              payload: entry.payload,
              result: entry.result.slice(0, 500)
            }
          })
        )
      }).pipe(
        Effect.catch((e) => Effect.logWarning(`audit row not stored by the backend (${e._tag}: ${e.message}); the log line above is the record`))
      )
  }
  return service
})
