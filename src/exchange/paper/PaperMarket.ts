/**
 * The paper exchange's view of the market: which price a paper order fills at, where that price came
 * from, and which contracts exist — with the fallbacks made explicit.
 *
 * Invariants:
 * - A fill's price is BingX's live public price (`exchange`), or a live price this process read for
 *   the symbol within ORDER_PRICE_MAX_AGE_MS + `RECENT_GRACE_MS` (the one the order was sized with:
 *   also `exchange`), or — only with PAPER_PRICE_FALLBACK=alert — the order's `priceHint`, the
 *   signal's price (`alert`). Otherwise the order is refused with `PriceUnavailable`, whose message
 *   says why the public price could not be had and which setting decides.
 * - Only live prices count as recent; a price a fill was booked at is remembered for marks
 *   (positions, balances) only.
 * - A symbol missing from a contract list that was read is refused (109400, like BingX); when the
 *   list cannot be read, the default rules (8 decimals, no minimums) apply and that is logged.
 */
import { type BigDecimal, Clock, Effect } from "effect"
import type { AppConfigShape } from "../../config.ts"
import { ZERO } from "../../domain/decimal.ts"
import type { PriceSource } from "../../domain/vocabulary.ts"
import { type ContractRules, ExchangeRejectedError, type PlaceOrderRequest, PriceUnavailable } from "../Exchange.ts"
import type { PublicMarketShape, PublicMarketUnavailable } from "./PublicMarket.ts"

/** Beyond ORDER_PRICE_MAX_AGE_MS, how old a live price may be to still count for a fill. */
export const RECENT_GRACE_MS = 5_000

export const DEFAULT_RULES = (symbol: string): ContractRules => ({
  symbol,
  quantityPrecision: 8,
  pricePrecision: 8,
  minQuantity: ZERO,
  minNotional: ZERO,
  maxLongLeverage: 125,
  maxShortLeverage: 125,
  tradable: true
})

export interface FillPrice {
  readonly price: BigDecimal.BigDecimal
  readonly source: PriceSource
  /** Why the live price was not used (set for `alert` fills). */
  readonly unavailable: string | undefined
}

export const rejected = (code: number, message: string) => new ExchangeRejectedError({ code, message: `paper: ${message}` })

export const makePaperMarket = (market: PublicMarketShape, config: AppConfigShape) =>
  Effect.sync(() => {
    const fallback = config.paper.priceFallback
    const recentMs = config.orders.orderPriceMaxAgeMs + RECENT_GRACE_MS
    const lastLive = new Map<string, { readonly price: BigDecimal.BigDecimal; readonly at: number }>()
    /** The last price seen for a symbol, live or filled at: what positions are marked at offline. */
    const lastSeen = new Map<string, BigDecimal.BigDecimal>()
    const api = `the BingX public API (BINGX_BASE_URL=${market.baseUrl})`

    const live = (symbol: string): Effect.Effect<BigDecimal.BigDecimal, PublicMarketUnavailable> =>
      Effect.tap(market.lastPrice(symbol), (price) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          Effect.sync(() => {
            lastLive.set(symbol, { price, at })
            lastSeen.set(symbol, price)
          })))

    /** The price a MARKET order fills at, and its source; see the file comment. */
    const forFill = (req: PlaceOrderRequest): Effect.Effect<FillPrice, PriceUnavailable> =>
      Effect.catch(
        Effect.map(live(req.symbol), (price): FillPrice => ({ price, source: "exchange", unavailable: undefined })),
        (e) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const recent = lastLive.get(req.symbol)
            if (recent !== undefined && now - recent.at <= recentMs) {
              return { price: recent.price, source: "exchange" as const, unavailable: undefined }
            }
            const why = `${api} ${e.reason}`
            if (fallback === "alert" && req.priceHint !== undefined) {
              return { price: req.priceHint, source: "alert" as const, unavailable: why }
            }
            return yield* new PriceUnavailable({
              symbol: req.symbol,
              message: fallback === "alert"
                ? `no price for ${req.symbol}: ${why}, and the signal has no price`
                : `no live price for ${req.symbol}: ${why}; PAPER_PRICE_FALLBACK=refuse (set PAPER_PRICE_FALLBACK=alert to fill paper orders at the alert's price instead)`
            })
          })
      )

    /** Contract rules: the listed ones, the defaults when the list cannot be read, a refusal when it does not list `symbol`. */
    const contract = (symbol: string): Effect.Effect<ContractRules, ExchangeRejectedError> =>
      market.contract(symbol).pipe(
        Effect.catch((e) =>
          Effect.as(
            Effect.logWarning(`paper: contract rules of ${symbol} unknown (${api} ${e.reason}): using defaults (8 decimals, no minimums)`),
            DEFAULT_RULES(symbol)
          )
        ),
        Effect.flatMap((rules) =>
          rules === undefined
            ? Effect.fail(rejected(109400, `symbol not exist: ${symbol} is not in the contract list of ${api}`))
            : Effect.succeed(rules)
        )
      )

    /** What one start-up line should say about prices, given whether the public API answered. */
    const startupNotice = (reachable: PublicMarketUnavailable | undefined): { readonly warn: boolean; readonly text: string } => {
      const alertFills = "paper orders fill at the alert's price (marked price_source=alert, warned about on each fill)"
      if (reachable !== undefined) {
        return {
          warn: true,
          text: fallback === "alert"
            ? `paper exchange: ${api} ${reachable.reason}; while it does not answer, ${alertFills} (PAPER_PRICE_FALLBACK=alert)`
            : `paper exchange: ${api} ${reachable.reason}; while it does not answer, paper orders are rejected (PAPER_PRICE_FALLBACK=refuse; set PAPER_PRICE_FALLBACK=alert to fill at the alert's price)`
        }
      }
      return fallback === "alert"
        ? { warn: true, text: `paper exchange: prices from ${market.baseUrl}; PAPER_PRICE_FALLBACK=alert: when it does not answer, ${alertFills}` }
        : { warn: false, text: `paper exchange: prices from ${market.baseUrl}; when it does not answer, paper orders are rejected (PAPER_PRICE_FALLBACK=refuse)` }
    }

    return {
      live,
      forFill,
      contract,
      startupNotice,
      /** Remembers a fill's price for marks. */
      filledAt: (symbol: string, price: BigDecimal.BigDecimal) => Effect.sync(() => void lastSeen.set(symbol, price)),
      lastSeen: (symbol: string): BigDecimal.BigDecimal | undefined => lastSeen.get(symbol)
    }
  })

export type PaperMarket = Effect.Success<ReturnType<typeof makePaperMarket>>
