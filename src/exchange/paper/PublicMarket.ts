/**
 * BingX public market data for the paper exchange: last price and contract rules from
 * `BINGX_BASE_URL` (no key needed).
 *
 * Invariants:
 * - One attempt per call, bounded by `PUBLIC_TIMEOUT_MS` (2 s, or BINGX_TIMEOUT_MS when shorter):
 *   an order never waits longer than that on one public read.
 * - A call that gets no usable answer fails with `PublicMarketUnavailable`, whose reason says what
 *   happened (timeout, connection refused, HTTP status, business code); each such failure, and each
 *   answer slower than `SLOW_MS`, is logged as a warning with the path and the time taken.
 * - After a transport failure (timeout, unreachable, HTTP 5xx) the API is not asked again for
 *   `UNREACHABLE_RETRY_MS`: calls in that window fail at once with the same reason, so an API that
 *   hangs costs one timeout per window, not one per read.
 * - Contracts come from the whole contract list, cached for an hour (a stale list is used when a
 *   refresh fails): a symbol the list does not have is unknown (`undefined`), which is different
 *   from a list that could not be read (`PublicMarketUnavailable`).
 * - Answers are decoded with the live exchange's schemas (`bingx/wire.ts`): the same contract-rules
 *   parser, the same refusals when a field is missing, no defaults of its own. A price or a
 *   contract that cannot be read is `PublicMarketUnavailable` naming the endpoint and the field.
 */
import { type BigDecimal, Clock, Context, Data, Duration, Effect, Layer, Metric, Result } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { AppConfig } from "../../config.ts"
import { exchangeRequestDuration } from "../../telemetry/metrics.ts"
import { asNumber, asText, field, parseExact } from "../bingx/json.ts"
import { unsignedQuery } from "../bingx/sign.ts"
import { type BingxMalformedAnswer, CONTRACTS_PATH, decodeContracts, decodeLastPriceResult, LAST_PRICE_PATH } from "../bingx/wire.ts"
import type { ContractRules } from "../Exchange.ts"

/** The public API gave no usable answer; `reason` completes "the BingX public API at <url> …". */
export class PublicMarketUnavailable extends Data.TaggedError("PublicMarketUnavailable")<{
  readonly reason: string
}> {}

export interface PublicMarketShape {
  readonly baseUrl: string
  /** Last traded price. */
  readonly lastPrice: (symbol: string) => Effect.Effect<BigDecimal.BigDecimal, PublicMarketUnavailable>
  /** Contract rules; `undefined` when the contract list does not list `symbol`. */
  readonly contract: (symbol: string) => Effect.Effect<ContractRules | undefined, PublicMarketUnavailable>
  /** Reads the contract list (once an hour at most): whether the public API answers. */
  readonly probe: Effect.Effect<void, PublicMarketUnavailable>
}

/** Upper bound of one public request. */
export const PUBLIC_TIMEOUT_MS = 2_000
/** An answer slower than this is logged. */
export const SLOW_MS = 1_000
/** After a transport failure, how long calls fail at once instead of asking again. */
export const UNREACHABLE_RETRY_MS = 10_000
const CONTRACTS_MAX_AGE_MS = 3_600_000

/** A failed attempt: why, and whether it says the API is unreachable (rather than answering "no"). */
interface Failed {
  readonly reason: string
  readonly transport: boolean
}

export class PublicMarket extends Context.Service<PublicMarket, PublicMarketShape>()("tvtelegrambingx/PublicMarket") {
  static readonly make = Effect.gen(function*() {
    const config = yield* AppConfig
    const http = yield* HttpClient.HttpClient
    const baseUrl = config.bingx.baseUrl
    const timeout = Math.min(config.bingx.timeoutMs, PUBLIC_TIMEOUT_MS)
    let down: { readonly since: number; readonly until: number; readonly reason: string } | undefined
    let contracts:
      | { readonly at: number; readonly bySymbol: ReadonlyMap<string, Result.Result<ContractRules, BingxMalformedAnswer>> }
      | undefined

    const attempt = (path: string, params: Record<string, string>): Effect.Effect<unknown, Failed> => {
      const query = unsignedQuery(params)
      return http.execute(HttpClientRequest.get(`${baseUrl}${path}${query === "" ? "" : `?${query}`}`)).pipe(
        Effect.mapError((e): Failed => ({ reason: `could not be reached (${e.message})`, transport: true })),
        Effect.flatMap((r) =>
          r.status === 200
            ? Effect.mapError(r.text, (e): Failed => ({ reason: `answer could not be read (${e.message})`, transport: true }))
            : Effect.fail<Failed>({ reason: `answered HTTP ${r.status}`, transport: r.status >= 500 })
        ),
        Effect.timeoutOrElse({
          duration: Duration.millis(timeout),
          orElse: () => Effect.fail<Failed>({ reason: `did not answer within ${timeout} ms`, transport: true })
        }),
        Effect.flatMap((text) => {
          let body: unknown
          try {
            body = parseExact(text)
          } catch {
            return Effect.fail<Failed>({ reason: "answered with a body that is not JSON", transport: false })
          }
          const code = asNumber(field(body, "code"))
          if (code !== 0) {
            return Effect.fail<Failed>({ reason: `answered code ${code ?? "(none)"}: ${asText(field(body, "msg")) ?? ""}`.trim(), transport: false })
          }
          return Effect.succeed(field(body, "data"))
        })
      )
    }

    const get = (path: string, params: Record<string, string>) =>
      Effect.gen(function*() {
        const what = `${path}${params["symbol"] === undefined ? "" : ` (${params["symbol"]})`}`
        const now = yield* Clock.currentTimeMillis
        if (down !== undefined && now < down.until) {
          const again = `asked again in ${Math.ceil((down.until - now) / 1000)} s`
          yield* Effect.logDebug(`BingX public API ${what} not asked: ${Math.round((now - down.since) / 1000)} s ago it ${down.reason}; ${again}`)
          return yield* new PublicMarketUnavailable({ reason: `${down.reason} (${Math.round((now - down.since) / 1000)} s ago; ${again})` })
        }
        const started = yield* Clock.currentTimeNanos
        const result = yield* Effect.result(attempt(path, params))
        const ms = Number((yield* Clock.currentTimeNanos) - started) / 1e6
        yield* Metric.update(Metric.withAttributes(exchangeRequestDuration, { endpoint: path }), ms / 1000)
        if (result._tag === "Success") {
          down = undefined
          if (ms > SLOW_MS) yield* Effect.logWarning(`BingX public API ${what} at ${baseUrl} was slow: answered in ${Math.round(ms)} ms`)
          return result.success
        }
        const failed = result.failure
        if (failed.transport) {
          const at = yield* Clock.currentTimeMillis
          down = { since: at, until: at + UNREACHABLE_RETRY_MS, reason: failed.reason }
        }
        yield* Effect.logWarning(`BingX public API ${what} at ${baseUrl} ${failed.reason} (after ${Math.round(ms)} ms)`)
        return yield* new PublicMarketUnavailable({ reason: failed.reason })
      }).pipe(Effect.provideService(HttpClient.TracerPropagationEnabled, false))

    /** An answer the live exchange's schemas refuse: unusable, with the field named. */
    const unreadable = (what: string) => (e: BingxMalformedAnswer) =>
      Effect.andThen(
        Effect.logWarning(`BingX public API at ${baseUrl}: ${e.message}`),
        new PublicMarketUnavailable({ reason: `gave ${what} that cannot be read (${e.message})` })
      )

    const lastPrice = (symbol: string) =>
      get(LAST_PRICE_PATH, { symbol }).pipe(
        Effect.flatMap((data) => Effect.fromResult(decodeLastPriceResult(data))),
        Effect.catchTag("BingxMalformedAnswer", unreadable(`a price for ${symbol}`)),
        Effect.map((d) => d.price),
        Effect.withSpan("PublicMarket.lastPrice", { attributes: { symbol } })
      )

    const contractList = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (contracts !== undefined && now - contracts.at < CONTRACTS_MAX_AGE_MS) return contracts.bySymbol
      const data = yield* get(CONTRACTS_PATH, {}).pipe(
        Effect.catch((e) => (contracts !== undefined ? Effect.succeed(undefined) : Effect.fail(e)))
      )
      if (data === undefined) return contracts!.bySymbol // refresh failed: the stale list
      const bySymbol = yield* Effect.fromResult(decodeContracts(data)).pipe(
        Effect.catchTag("BingxMalformedAnswer", unreadable("a contract list"))
      )
      contracts = { at: now, bySymbol }
      return bySymbol
    })

    const contract = (symbol: string) =>
      Effect.flatMap(contractList, (bySymbol) => {
        const rules = bySymbol.get(symbol)
        if (rules === undefined) return Effect.succeed(undefined)
        return Result.isSuccess(rules) ? Effect.succeed(rules.success) : unreadable(`the contract of ${symbol}`)(rules.failure)
      }).pipe(Effect.withSpan("PublicMarket.contract", { attributes: { symbol } }))

    return PublicMarket.of({ baseUrl, lastPrice, contract, probe: Effect.asVoid(contractList) })
  })

  static readonly layerNoDeps = Layer.effect(PublicMarket, PublicMarket.make)
  static readonly layer = PublicMarket.layerNoDeps.pipe(Layer.provide(FetchHttpClient.layer))
}
