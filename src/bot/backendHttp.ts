/**
 * The bot's HTTP client of the backend (role bot): the seed's `BackendClient` on Effect's
 * HttpClient. `BACKEND_BASE_URL` + `Authorization: Bearer <API_TOKEN>`, one span per call
 * (`BackendClient.get` / `BackendClient.post`), the seed's metrics labelled with the route
 * template (never the raw path), a per-call timeout of `BOT_BACKEND_TIMEOUT` seconds, and no
 * retries: a POST (approve, reject, settings) is sent exactly once per user action.
 */
import { Clock, Duration, Effect, Metric, Redacted, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { AppConfig } from "../config.ts"
import { botBackendRequestDuration, botBackendRequests } from "../telemetry/metrics.ts"
import {
  BackendUnavailable,
  type BotBackendShape,
  BotState,
  Conflict,
  Invalid,
  NotFound,
  Order,
  OrderList,
  patchToJson,
  PnlReport,
  PositionList,
  SignalList
} from "./contract.ts"

type Method = "GET" | "POST"

interface Call {
  readonly method: Method
  /** The route template, used for the span and the metric labels (e.g. /orders/{id}/approve). */
  readonly route: string
  /** The concrete path (e.g. /orders/34/approve). */
  readonly path: string
  readonly query?: Readonly<Record<string, string>>
  readonly body?: unknown
}

interface ErrorBody {
  readonly error?: unknown
  readonly fields?: unknown
}

const errorMessage = (body: unknown, fallback: string): string => {
  const e = (body as ErrorBody | null)?.error
  return typeof e === "string" && e.length > 0 ? e : fallback
}

const errorFields = (body: unknown): ReadonlyArray<{ field: string; problem: string }> => {
  const fields = (body as ErrorBody | null)?.fields
  if (!Array.isArray(fields)) return []
  return fields.flatMap((f) =>
    typeof f?.field === "string" && typeof f?.problem === "string" ? [{ field: f.field, problem: f.problem }] : []
  )
}

export const makeHttp = Effect.gen(function*() {
  const config = yield* AppConfig
  const client = yield* HttpClient.HttpClient
  const baseUrl = config.telegram.backendBaseUrl
  const timeout = Duration.millis(Math.round(config.telegram.backendTimeoutSeconds * 1000))
  const token = config.security.apiToken

  if (token === undefined) {
    yield* Effect.logWarning(
      "API_TOKEN is not set: the bot calls the backend without a bearer token and will be refused; set API_TOKEN to the backend's token"
    )
  }

  /** One request: span, metrics, timeout, status mapping; yields the JSON body of a 2xx answer. */
  const call = (c: Call): Effect.Effect<unknown, BackendUnavailable | NotFound | Conflict | Invalid> => {
    const spanName = c.method === "GET" ? "BackendClient.get" : "BackendClient.post"
    let request = (c.method === "GET" ? HttpClientRequest.get : HttpClientRequest.post)(`${baseUrl}${c.path}`).pipe(
      HttpClientRequest.acceptJson
    )
    if (token !== undefined) request = HttpClientRequest.bearerToken(request, Redacted.value(token))
    if (c.query !== undefined) request = HttpClientRequest.setUrlParams(request, c.query)
    if (c.body !== undefined) request = HttpClientRequest.bodyJsonUnsafe(request, c.body)

    const record = (status: string, startedNanos: bigint) =>
      Effect.gen(function*() {
        const seconds = Number((yield* Clock.currentTimeNanos) - startedNanos) / 1e9
        yield* Metric.update(Metric.withAttributes(botBackendRequests, { method: c.method, path: c.route, status }), 1)
        yield* Metric.update(Metric.withAttributes(botBackendRequestDuration, { method: c.method, path: c.route }), seconds)
        yield* Effect.annotateCurrentSpan({ "http.status_code": status })
      })

    return Effect.gen(function*() {
      const started = yield* Clock.currentTimeNanos
      const response = yield* client.execute(request).pipe(
        Effect.timeout(timeout),
        Effect.tapError((e) => record(e._tag === "TimeoutError" ? "timeout" : "error", started)),
        Effect.mapError((e) =>
          new BackendUnavailable({
            message: e._tag === "TimeoutError"
              ? `backend did not answer ${c.method} ${c.route} within ${Duration.format(timeout)}`
              : `backend unreachable at ${baseUrl} (${c.method} ${c.route})`
          })
        )
      )
      const status = response.status
      yield* record(String(status), started)
      const body: unknown = yield* response.json.pipe(Effect.orElseSucceed(() => undefined as unknown))
      if (status >= 200 && status < 300) return body
      if (status === 404) return yield* new NotFound({ message: errorMessage(body, `not found: ${c.path}`) })
      if (status === 409) return yield* new Conflict({ message: errorMessage(body, "conflict") })
      if (status === 400 || status === 422) {
        return yield* new Invalid({ message: errorMessage(body, "invalid request"), fields: errorFields(body) })
      }
      if (status === 401 || status === 403) {
        return yield* new BackendUnavailable({
          message: `backend refused the bot's API_TOKEN (${status}); set API_TOKEN to the backend's token`
        })
      }
      return yield* new BackendUnavailable({ message: errorMessage(body, `backend answered ${status}`) })
    }).pipe(
      Effect.withSpan(spanName, {
        attributes: { "http.method": c.method, "http.route": c.route, "url.path": c.path }
      })
    )
  }

  /** Decodes a 2xx body; a body that does not match the contract is the backend's fault. */
  const decoded = <S extends Schema.Codec<any, any, never, never>>(schema: S, c: Call) =>
    call(c).pipe(
      Effect.flatMap((body) =>
        Schema.decodeUnknownEffect(schema)(body).pipe(
          Effect.mapError((e) =>
            new BackendUnavailable({ message: `backend answered ${c.method} ${c.route} with an unexpected body: ${e.message}` })
          )
        )
      )
    ) as Effect.Effect<S["Type"], BackendUnavailable | NotFound | Conflict | Invalid>

  const service: BotBackendShape = {
    status: decoded(BotState, { method: "GET", route: "/bot/status", path: "/bot/status" }),
    updateSettings: (patch) =>
      decoded(BotState, { method: "POST", route: "/bot/settings", path: "/bot/settings", body: patchToJson(patch) }),
    recentSignals: (limit) =>
      decoded(SignalList, {
        method: "GET",
        route: "/bot/reports",
        path: "/bot/reports",
        query: { limit: String(limit) }
      }).pipe(Effect.map((r) => r.signals)),
    orders: (limit) =>
      decoded(OrderList, { method: "GET", route: "/orders", path: "/orders", query: { limit: String(limit) } }).pipe(
        Effect.map((r) => r.orders)
      ),
    order: (orderId) =>
      decoded(Order, { method: "GET", route: "/orders/{id}", path: `/orders/${encodeURIComponent(orderId)}` }),
    approve: (orderId) =>
      decoded(Order, {
        method: "POST",
        route: "/orders/{id}/approve",
        path: `/orders/${encodeURIComponent(orderId)}/approve`
      }),
    reject: (orderId) =>
      decoded(Order, {
        method: "POST",
        route: "/orders/{id}/reject",
        path: `/orders/${encodeURIComponent(orderId)}/reject`
      }),
    pnl: (period) => decoded(PnlReport, { method: "GET", route: "/pnl", path: "/pnl", query: { period } }),
    positions: decoded(PositionList, { method: "GET", route: "/positions", path: "/positions" }).pipe(
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
        yield* call({
          method: "POST",
          route: "/bot/audit",
          path: "/bot/audit",
          body: {
            actor_id: String(entry.actor.userId),
            username: entry.actor.username ?? null,
            action: entry.action,
            payload: entry.payload,
            result: entry.result.slice(0, 500)
          }
        })
      }).pipe(
        Effect.catch((e) => Effect.logWarning(`audit row not stored by the backend (${e._tag}: ${e.message}); the log line above is the record`))
      )
  }
  return service
})
