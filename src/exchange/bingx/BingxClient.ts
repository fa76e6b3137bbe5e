/**
 * The BingX REST client (Effect `HttpClient`): signing, server-time offset, per-call timeout,
 * jittered retries of transient failures only, and typed errors from the body `code` even on
 * HTTP 200.
 *
 * - Every parameter goes in the query string, sorted a→z, values percent-encoded; signed calls add
 *   `timestamp` (local clock + server offset) and `recvWindow`, then `signature`.
 * - `X-BX-APIKEY` on every call when a key is configured; `X-BX-SUBACCOUNT-ID` when
 *   BINGX_SUBACCOUNT_ID is set.
 * - The server-time offset is synced when the client starts and again on 100421 ("timestamp
 *   mismatch"), after which the call is repeated once.
 * - Transient (retried here, with jittered exponential backoff, up to BINGX_MAX_RETRIES): 100410
 *   (waits for its unblock time when it is short), 100500/100503, 80012, 80019, 429/418, 5xx and
 *   timeouts of reads. Permanent errors are never retried.
 * - A call that places an order is not idempotent: a timeout, a 5xx or 101500 is an
 *   `ExchangeUnknownOutcome` and is never resent here; the caller queries by clientOrderId first.
 */
import { Clock, Context, Duration, Effect, Layer, Metric, Random, Redacted, Ref } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { AppConfig } from "../../config.ts"
import { exchangeRequestDuration, taggedBy } from "../../telemetry/metrics.ts"
import { ExchangeRejectedError, ExchangeTransientError, ExchangeUnknownOutcome } from "../Exchange.ts"
import { asNumber, asText, field, parseExact } from "./json.ts"
import { type Params, signParams, unsignedQuery } from "./sign.ts"
import { decodeServerTime } from "./wire.ts"

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE"

export interface BingxRequest {
  readonly method: HttpMethod
  readonly path: string
  readonly params?: Params
  /** Private endpoint: timestamp + recvWindow + signature. */
  readonly signed: boolean
  /** Places an order: timeouts, 5xx and 101500 are unknown outcomes, never retried here. */
  readonly placesOrder?: boolean
  /** listenKey endpoints answer without the `{code,msg,data}` envelope. */
  readonly bare?: boolean
}

export type BingxError = ExchangeTransientError | ExchangeRejectedError | ExchangeUnknownOutcome

/** Order not found codes (query/cancel). */
export const NOT_FOUND_CODES: ReadonlySet<number> = new Set([80016, 109414, 109421])

/** What one attempt can end with, before retry decisions. */
type AttemptFailure =
  | { readonly kind: "transient"; readonly message: string; readonly code: number | undefined; readonly retryAfterMs: number | undefined }
  | { readonly kind: "unknown"; readonly message: string; readonly code: number | undefined }
  | { readonly kind: "rejected"; readonly message: string; readonly code: number | undefined }
  | { readonly kind: "clock"; readonly message: string; readonly code: number }

class Attempt {
  readonly failure: AttemptFailure
  constructor(failure: AttemptFailure) {
    this.failure = failure
  }
}

/** "… will be unblocked after 1700000000000" (epoch ms) or "after 30000" (ms). */
export const unblockDelayMs = (msg: string, serverNow: number): number | undefined => {
  const m = /unblock(?:ed)?\s+after\s+(\d+)/i.exec(msg)
  if (m === null) return undefined
  const value = Number(m[1])
  if (!Number.isFinite(value)) return undefined
  return value > 1e12 ? Math.max(0, value - serverNow) : value
}

/** Maps a BingX business code to a failure kind. */
export const classifyCode = (
  code: number,
  msg: string,
  placesOrder: boolean,
  serverNow: number
): AttemptFailure => {
  const text = `BingX ${code}: ${msg || "no message"}`
  switch (code) {
    case 100410:
      return { kind: "transient", message: text, code, retryAfterMs: unblockDelayMs(msg, serverNow) }
    case 100500:
    case 100503:
    case 80019:
      return { kind: "transient", message: text, code, retryAfterMs: undefined }
    case 80012:
      return /margin|symbol not exist|insufficient|balance/i.test(msg)
        ? { kind: "rejected", message: text, code }
        : { kind: "transient", message: text, code, retryAfterMs: undefined }
    case 80001:
      return /busy|network|timeout/i.test(msg)
        ? { kind: "transient", message: text, code, retryAfterMs: undefined }
        : { kind: "rejected", message: text, code }
    case 80014:
      if (/timestamp/i.test(msg)) return { kind: "clock", message: text, code }
      return /temporarily disabled|fluctuation/i.test(msg)
        ? { kind: "transient", message: text, code, retryAfterMs: undefined }
        : { kind: "rejected", message: text, code }
    case 100421:
      // Also used for "pair restricted from API trading": only a timestamp complaint is a clock issue.
      return msg === "" || /timestamp|time/i.test(msg)
        ? { kind: "clock", message: text, code }
        : { kind: "rejected", message: text, code }
    case 101500:
      return placesOrder
        ? { kind: "unknown", message: text, code }
        : { kind: "transient", message: text, code, retryAfterMs: undefined }
    case 109500:
      return /network|failed/i.test(msg)
        ? { kind: "transient", message: text, code, retryAfterMs: undefined }
        : { kind: "rejected", message: text, code }
    default:
      return { kind: "rejected", message: text, code }
  }
}

/** Errors that show the request never left this machine (safe to resend even an order). */
const notSent = (cause: unknown): boolean => {
  const seen = new Set<unknown>()
  let current: unknown = cause
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current)
    const code = (current as { code?: unknown }).code
    if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "ERR_INVALID_URL") return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

export interface BingxClientShape {
  /** The parsed body (numbers as exact text). Fails with typed exchange errors. */
  readonly request: (request: BingxRequest) => Effect.Effect<unknown, BingxError>
  /** Re-reads the server time and updates the offset. */
  readonly syncTime: Effect.Effect<void, BingxError>
  /** Current offset (server − local), ms. */
  readonly timeOffset: Effect.Effect<number>
  /** Server time now (local clock + offset), ms. */
  readonly serverNow: Effect.Effect<number>
}

export interface BingxClientOptions {
  /** First backoff delay (doubles per retry, jittered 50–100 %). */
  readonly retryBaseMs?: number
  /** Longest wait (e.g. a 100410 unblock time) taken inside one call; longer ones are returned. */
  readonly maxRetryWaitMs?: number
}

export class BingxClient extends Context.Service<BingxClient, BingxClientShape>()("tvtelegrambingx/BingxClient") {
  static readonly make = (options: BingxClientOptions = {}) =>
    Effect.gen(function*() {
      const config = yield* AppConfig
      const http = yield* HttpClient.HttpClient
      const { baseUrl, recvWindow, timeoutMs, maxRetries, subaccountId } = config.bingx
      const apiKey = config.bingx.apiKey === undefined ? undefined : Redacted.value(config.bingx.apiKey)
      const secret = config.bingx.apiSecret === undefined ? undefined : Redacted.value(config.bingx.apiSecret)
      const retryBaseMs = options.retryBaseMs ?? 250
      const maxRetryWaitMs = options.maxRetryWaitMs ?? 15_000
      const offset = yield* Ref.make(0)
      const requestDurationBy = taggedBy(exchangeRequestDuration)

      const serverNow = Effect.map(Effect.all([Clock.currentTimeMillis, Ref.get(offset)]), ([now, o]) => now + o)

      /** One HTTP exchange; everything that is not a success becomes an `Attempt`. */
      const attempt = (req: BingxRequest) =>
        Effect.gen(function*() {
          const placesOrder = req.placesOrder === true
          let query: string
          if (req.signed) {
            if (secret === undefined) {
              return yield* Effect.fail(new Attempt({
                kind: "rejected",
                message: `${req.path} needs BINGX_API_SECRET (not set)`,
                code: undefined
              }))
            }
            const timestamp = yield* serverNow
            query = signParams({ ...req.params, timestamp, recvWindow }, secret).query
          } else {
            query = unsignedQuery(req.params ?? {})
          }
          const url = `${baseUrl}${req.path}${query.length > 0 ? `?${query}` : ""}`
          let request = HttpClientRequest.make(req.method)(url)
          if (apiKey !== undefined) request = HttpClientRequest.setHeader(request, "X-BX-APIKEY", apiKey)
          if (subaccountId !== undefined) request = HttpClientRequest.setHeader(request, "X-BX-SUBACCOUNT-ID", subaccountId)
          const started = yield* Clock.currentTimeNanos
          const outcome = yield* http.execute(request).pipe(
            Effect.flatMap((response) => Effect.map(response.text, (body) => ({ response, body }))),
            Effect.timeout(Duration.millis(timeoutMs)),
            Effect.result
          )
          const elapsed = Number((yield* Clock.currentTimeNanos) - started) / 1e9
          yield* Metric.update(requestDurationBy({ endpoint: req.path }), elapsed)
          if (outcome._tag === "Failure") {
            const e = outcome.failure
            if (e._tag === "TimeoutError") {
              const message = `${req.method} ${req.path}: no answer within ${timeoutMs} ms (BINGX_TIMEOUT_MS)`
              return yield* Effect.fail(new Attempt(placesOrder
                ? { kind: "unknown", message, code: undefined }
                : { kind: "transient", message, code: undefined, retryAfterMs: undefined }))
            }
            const message = `${req.method} ${req.path}: ${e.message}`
            return yield* Effect.fail(new Attempt(placesOrder && !notSent(e)
              ? { kind: "unknown", message, code: undefined }
              : { kind: "transient", message, code: undefined, retryAfterMs: undefined }))
          }
          const { response, body } = outcome.success
          const status = response.status
          if (status === 429 || status === 418) {
            const retryAfter = asNumber(response.headers["retry-after"])
            return yield* Effect.fail(new Attempt({
              kind: "transient",
              message: `${req.method} ${req.path}: HTTP ${status} (rate limited)`,
              code: status,
              retryAfterMs: retryAfter === undefined ? undefined : retryAfter * 1000
            }))
          }
          if (status >= 500 || status === 408) {
            const message = `${req.method} ${req.path}: HTTP ${status}`
            return yield* Effect.fail(new Attempt(placesOrder
              ? { kind: "unknown", message, code: status }
              : { kind: "transient", message, code: status, retryAfterMs: undefined }))
          }
          let parsed: unknown
          try {
            parsed = parseExact(body)
          } catch {
            const message = `${req.method} ${req.path}: HTTP ${status} with a body that is not JSON`
            return yield* Effect.fail(new Attempt(
              status >= 400
                ? { kind: "rejected", message, code: status }
                : placesOrder
                ? { kind: "unknown", message, code: undefined }
                : { kind: "transient", message, code: undefined, retryAfterMs: undefined }
            ))
          }
          const code = asNumber(field(parsed, "code"))
          if (status >= 400) {
            const msg = asText(field(parsed, "msg")) ?? ""
            return yield* Effect.fail(new Attempt({
              kind: "rejected",
              message: `${req.method} ${req.path}: HTTP ${status}${msg ? ` (${msg})` : ""}`,
              code: code ?? status
            }))
          }
          if (req.bare === true || code === 0 || code === undefined) return parsed
          const msg = asText(field(parsed, "msg")) ?? ""
          return yield* Effect.fail(new Attempt(classifyCode(code, msg, placesOrder, yield* serverNow)))
        })

      const syncTime = Effect.gen(function*() {
        const before = yield* Clock.currentTimeMillis
        const body = yield* attempt({ method: "GET", path: "/openApi/swap/v2/server/time", signed: false })
        const after = yield* Clock.currentTimeMillis
        const { serverTime } = yield* decodeServerTime(field(body, "data")).pipe(
          Effect.mapError((e) => new Attempt({ kind: "transient", message: e.message, code: undefined, retryAfterMs: undefined }))
        )
        const o = Math.round(serverTime - (before + after) / 2)
        yield* Ref.set(offset, o)
        yield* Effect.logDebug(`BingX server time offset ${o} ms`)
      }).pipe(
        Effect.mapError((a) => toError(a.failure)),
        Effect.withSpan("BingxClient.syncTime")
      )

      const backoff = (n: number, retryAfterMs: number | undefined) =>
        Effect.gen(function*() {
          const base = retryBaseMs * 2 ** n
          const jittered = Math.round(base * (yield* Random.nextBetween(0.5, 1)))
          return Math.max(jittered, retryAfterMs ?? 0)
        })

      const request = Effect.fn("BingxClient.request")(function*(req: BingxRequest) {
        yield* Effect.annotateCurrentSpan({ "bingx.method": req.method, "bingx.path": req.path })
        let resynced = false
        let retries = 0
        while (true) {
          const result = yield* Effect.result(attempt(req))
          if (result._tag === "Success") return result.success
          const failure = result.failure.failure
          if (failure.kind === "clock") {
            if (resynced) return yield* Effect.fail(toError({ ...failure, kind: "rejected" }))
            resynced = true
            yield* Effect.logWarning(`${failure.message}: re-syncing the server time and retrying`)
            yield* syncTime.pipe(Effect.ignore)
            continue
          }
          if (failure.kind !== "transient" || retries >= maxRetries) return yield* Effect.fail(toError(failure))
          const wait = yield* backoff(retries, failure.retryAfterMs)
          if (wait > maxRetryWaitMs) return yield* Effect.fail(toError(failure))
          retries++
          yield* Effect.logWarning(`${failure.message}: retry ${retries}/${maxRetries} in ${wait} ms`)
          yield* Effect.sleep(Duration.millis(wait))
        }
      }, Effect.provideService(HttpClient.TracerPropagationEnabled, false))

      return BingxClient.of({ request, syncTime, timeOffset: Ref.get(offset), serverNow })
    })

  /** Needs AppConfig and an HttpClient. Syncs the server time at start (a failure only warns). */
  static readonly layerNoDeps = (options: BingxClientOptions = {}) =>
    Layer.effect(
      BingxClient,
      Effect.gen(function*() {
        const client = yield* BingxClient.make(options)
        yield* client.syncTime.pipe(
          Effect.catch((e) => Effect.logWarning(`could not read the BingX server time at start: ${e.message}`))
        )
        return client
      })
    )
}

const toError = (f: AttemptFailure): BingxError => {
  switch (f.kind) {
    case "transient":
      return new ExchangeTransientError({ message: f.message, code: f.code, retryAfterMs: f.retryAfterMs })
    case "unknown":
      return new ExchangeUnknownOutcome({ message: f.message, code: f.code })
    case "rejected":
    case "clock":
      return new ExchangeRejectedError({ message: f.message, code: f.code })
  }
}
