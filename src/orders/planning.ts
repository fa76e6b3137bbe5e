/**
 * Planning a `pending` order against the exchange: the I/O around the pure order plan
 * (`domain/orderPlan.ts`). It reads the bot settings, the account's position mode, the contract's
 * rules and the live price, lets `planOrder` decide, and for an entry sets margin type and leverage
 * (the exchange layer skips what is already set).
 *
 * Invariants:
 * - A refusal of the plan, or a permanent refusal of any of these exchange calls (e.g. 100001: a
 *   wrong BINGX_API_SECRET), is `Refused`: the order becomes `rejected` with that reason — retrying
 *   would only knock until it expires, with a reason that hides the cause. Transient failures pass
 *   through (the order stays pending and is retried).
 * - The price is the exchange's, reused for ORDER_PRICE_MAX_AGE_MS (a reversal's close + open or a
 *   burst of one symbol is sized without another round trip); only prices the exchange gave are
 *   kept. Without one (paper mode offline), the signal's price is used.
 */
import { type BigDecimal, Clock, Effect } from "effect"
import type { Order } from "../domain/order.ts"
import { type OrderPlan, planOrder, reasonOf } from "../domain/orderPlan.ts"
import { exchangeMarginType } from "../domain/vocabulary.ts"
import type { ExchangeRejectedError } from "../exchange/Exchange.ts"
import type { Execution } from "./execution.ts"

/** Refused before anything was sent: the order becomes `rejected` with this reason. */
export class Refused {
  readonly _tag = "Refused"
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

/** Exchange errors while planning: permanent ones refuse the order with `what` as context. */
const refuseOn = (what: string) =>
<A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, ExchangeRejectedError> | Refused, R> =>
  Effect.catchIf(
    effect,
    (e): e is Extract<E, ExchangeRejectedError> => e._tag === "ExchangeRejectedError",
    (e) => Effect.fail(new Refused(`${what}: ${e.message}`))
  ) as Effect.Effect<A, Exclude<E, ExchangeRejectedError> | Refused, R>

export const makePlanning = (x: Execution) => {
  const { exchange, guard, guardCached } = x
  const priceMaxAgeMs = x.config.orders.orderPriceMaxAgeMs
  const recentPrices = new Map<string, { readonly price: BigDecimal.BigDecimal; readonly at: number }>()

  const exchangePrice = (symbol: string) =>
    priceMaxAgeMs === 0 ? guard(exchange.lastPrice(symbol)) : Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const recent = recentPrices.get(symbol)
      if (recent !== undefined && now - recent.at < priceMaxAgeMs) return Effect.succeed(recent.price)
      return guard(exchange.lastPrice(symbol)).pipe(
        Effect.tap((price) => Effect.sync(() => recentPrices.set(symbol, { price, at: now })))
      )
    })

  const referencePrice = (order: Order) =>
    exchangePrice(order.symbol).pipe(
      refuseOn(`could not read the price of ${order.symbol}`),
      Effect.map((p): BigDecimal.BigDecimal | undefined => p),
      Effect.catchTag("PriceUnavailable", () => Effect.succeed(undefined)),
      Effect.map((p) => p ?? order.price ?? undefined)
    )

  /** The exchange request for `order` (and what it settled on), or `Refused`. */
  const plan = Effect.fn("OrderExecutor.plan")(function*(order: Order, clientOrderId: string) {
    const settings = yield* x.settings.current
    const mode = yield* guardCached(exchange.positionMode).pipe(refuseOn("could not read the account's position mode"))
    const rules = yield* guardCached(exchange.contract(order.symbol)).pipe(refuseOn(`${order.symbol} cannot be traded`))
    const price = yield* referencePrice(order)
    const result = planOrder({ order, settings, mode, rules, price, clientOrderId })
    if (result._tag === "Refused") return yield* Effect.fail(new Refused(reasonOf(result.problem)))
    const planned: OrderPlan = result.plan
    const { request, leverage, marginMode } = planned
    if (!planned.closing) {
      const marginType = exchangeMarginType(marginMode)
      yield* guardCached(exchange.setMarginType(order.symbol, marginType)).pipe(
        refuseOn(`could not set margin type ${marginType} on ${order.symbol}`)
      )
      yield* guardCached(exchange.setLeverage(order.symbol, leverage, request.positionSide)).pipe(
        refuseOn(`could not set leverage ${leverage} on ${order.symbol} (${request.positionSide})`)
      )
    } else if (planned.droppedProtection) {
      yield* Effect.logInfo(`order ${order.id} closes a position: its stop_loss/take_profit are not attached`)
    }
    return planned
  })

  return { plan }
}
