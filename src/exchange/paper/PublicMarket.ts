/**
 * BingX public market data for the paper exchange: last price and contract rules from
 * `BINGX_BASE_URL` (no key needed). One attempt per call with a short timeout: when the public API
 * does not answer (offline, blocked), the paper exchange falls back to the signal's price.
 */
import { BigDecimal, Clock, Context, Duration, Effect, Layer, Metric } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { AppConfig } from "../../config.ts"
import { exchangeRequestDuration } from "../../telemetry/metrics.ts"
import { asBool, asNumber, asText, field, parseExact } from "../bingx/json.ts"
import { unsignedQuery } from "../bingx/sign.ts"
import { fromWire, ZERO } from "../decimal.ts"
import type { ContractRules } from "../Exchange.ts"

export interface PublicMarketShape {
  /** Last traded price, or undefined when the public API does not answer. */
  readonly lastPrice: (symbol: string) => Effect.Effect<BigDecimal.BigDecimal | undefined>
  /** Contract rules, or undefined when unknown / unreachable. */
  readonly contract: (symbol: string) => Effect.Effect<ContractRules | undefined>
}

const PUBLIC_TIMEOUT_MS = 3_000

export class PublicMarket extends Context.Service<PublicMarket, PublicMarketShape>()("tvtelegrambingx/PublicMarket") {
  static readonly make = Effect.gen(function*() {
    const config = yield* AppConfig
    const http = yield* HttpClient.HttpClient
    const baseUrl = config.bingx.baseUrl
    const timeout = Math.min(config.bingx.timeoutMs, PUBLIC_TIMEOUT_MS)
    const contracts = new Map<string, { readonly at: number; readonly rules: ContractRules }>()

    const get = (path: string, params: Record<string, string>) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeNanos
        const request = HttpClientRequest.get(`${baseUrl}${path}?${unsignedQuery(params)}`)
        const body = yield* http.execute(request).pipe(
          Effect.flatMap((r) => (r.status === 200 ? r.text : Effect.fail(new Error(`HTTP ${r.status}`)))),
          Effect.timeout(Duration.millis(timeout)),
          Effect.map((text) => parseExact(text)),
          Effect.option
        )
        const elapsed = Number((yield* Clock.currentTimeNanos) - started) / 1e9
        yield* Metric.update(Metric.withAttributes(exchangeRequestDuration, { endpoint: path }), elapsed)
        if (body._tag === "None" || asNumber(field(body.value, "code")) !== 0) return undefined
        return field(body.value, "data")
      }).pipe(
        Effect.catchCause(() => Effect.succeed(undefined)),
        Effect.provideService(HttpClient.TracerPropagationEnabled, false)
      )

    const lastPrice = (symbol: string) =>
      Effect.map(get("/openApi/swap/v2/quote/price", { symbol }), (data) => {
        const price = fromWire(field(data, "price"))
        return price !== undefined && BigDecimal.isPositive(price) ? price : undefined
      }).pipe(Effect.withSpan("PublicMarket.lastPrice", { attributes: { symbol } }))

    const contract = (symbol: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const cached = contracts.get(symbol)
        if (cached !== undefined && now - cached.at < 3_600_000) return cached.rules
        const data = yield* get("/openApi/swap/v2/quote/contracts", { symbol })
        const c = Array.isArray(data) ? data.find((x) => asText(field(x, "symbol")) === symbol) : undefined
        if (c === undefined) return undefined
        const rules: ContractRules = {
          symbol,
          quantityPrecision: asNumber(field(c, "quantityPrecision")) ?? 8,
          pricePrecision: asNumber(field(c, "pricePrecision")) ?? 8,
          minQuantity: fromWire(field(c, "tradeMinQuantity")) ?? ZERO,
          minNotional: fromWire(field(c, "tradeMinUSDT")) ?? ZERO,
          maxLongLeverage: asNumber(field(c, "maxLongLeverage")) ?? 125,
          maxShortLeverage: asNumber(field(c, "maxShortLeverage")) ?? 125,
          tradable: (asNumber(field(c, "status")) ?? 1) === 1 &&
            (field(c, "apiStateOpen") === undefined || asBool(field(c, "apiStateOpen")))
        }
        contracts.set(symbol, { at: now, rules })
        return rules
      }).pipe(Effect.withSpan("PublicMarket.contract", { attributes: { symbol } }))

    return PublicMarket.of({ lastPrice, contract })
  })

  static readonly layerNoDeps = Layer.effect(PublicMarket, PublicMarket.make)
  static readonly layer = PublicMarket.layerNoDeps.pipe(Layer.provide(FetchHttpClient.layer))
}
