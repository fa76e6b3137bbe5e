/**
 * Exchange state → our state: how what the exchange reports about an order becomes its status,
 * its fills, a FillEvent and a notification.
 *
 * Invariants:
 * - A fill is the delta of the exchange's cumulative executed quantity over what we recorded;
 *   it is written together with the order's new filled quantity (one guarded statement, unique
 *   `fill_key`), so replaying the same exchange state never records a fill twice.
 * - The fill's price is the delta's own average (from the cumulative averages); its fee is the
 *   cumulative fee minus the fees already recorded.
 * - An execution is booked only from an answer that carries its price, fee and time: a placement
 *   answer without them (BingX's) makes the order be queried at once.
 * - An order that ends other than filled with something executed is `cancelled` (what was filled
 *   stays recorded); with nothing executed it takes the exchange's word (failed / expired / cancelled).
 * - A change made meanwhile by someone else wins: the guarded write is skipped and the order re-read.
 */
import { BigDecimal, Duration, Effect, Metric } from "effect"
import { divide, plain, toMetricNumber, ZERO } from "../domain/decimal.ts"
import { type Fill, isFinal, type Order, type OrderStatus } from "../domain/order.ts"
import type { PriceSource } from "../domain/vocabulary.ts"
import type { ExchangeOrder, PlacedOrder } from "../exchange/Exchange.ts"
import { orderNotional, taggedBy } from "../telemetry/metrics.ts"
import { bookedSide, type Execution } from "./execution.ts"
import type { NewFill } from "./OrderRepo.ts"

/** What the order becomes when the exchange reports `ex` (and why, when it ends unfilled). */
const statusFor = (order: Order, ex: PlacedOrder): { readonly to: OrderStatus; readonly reason: string | undefined } => {
  switch (ex.status) {
    case "filled":
      return { to: "filled", reason: undefined }
    case "partially_filled":
      return { to: "partially_filled", reason: undefined }
    case "new":
      return { to: BigDecimal.isPositive(ex.executedQuantity) ? "partially_filled" : order.status, reason: undefined }
    case "cancelled":
    case "expired":
    case "failed":
      return {
        to: order.status === "partially_filled" || BigDecimal.isPositive(ex.executedQuantity) ? "cancelled" : ex.status,
        reason: `the exchange reports the order ${ex.status.toUpperCase()}`
      }
  }
}

/** How a log line says where a fill's price came from. */
const priceFrom = (source: PriceSource | null): string =>
  source === "alert" ? "price from the alert, not the market" : source === "exchange" ? "price from the exchange" : "price source not recorded"

export const makeSettling = (x: Execution) => {
  const { exchange, repo } = x
  const notionalBy = taggedBy(orderNotional)

  /** `priceSource`: of the fill this update announces (null when it announces none). */
  const notifyUpdate = (order: Order, priceSource: PriceSource | null = null) =>
    x.notifier.notify({
      _tag: "OrderUpdate",
      orderId: order.id,
      symbol: order.symbol,
      action: order.action,
      status: order.status,
      quantity: BigDecimal.isZero(order.filledQuantity)
        ? order.quantity === null ? null : plain(order.quantity)
        : plain(order.filledQuantity),
      price: order.averagePrice === null ? null : plain(order.averagePrice),
      priceSource,
      reason: order.reason
    })

  /** Marks an order final with a reason (guarded) and notifies; undefined when it had moved. */
  const finish = Effect.fn("OrderExecutor.finish")(function*(order: Order, to: OrderStatus, reason: string) {
    const updated = yield* repo.transition(order.id, order.status, to, { reason })
    if (updated === undefined) return undefined
    const log = to === "filled" ? Effect.logInfo : Effect.logWarning
    yield* log(`order ${order.id} ${order.symbol} ${order.status} → ${to}: ${reason}`)
    yield* notifyUpdate(updated)
    return updated
  })

  const publishFill = (order: Order, fill: Fill) =>
    Effect.gen(function*() {
      yield* x.fills.publish({
        fillId: fill.id,
        orderId: order.id,
        symbol: order.symbol,
        action: order.action,
        positionSide: fill.positionSide,
        quantity: plain(fill.quantity),
        price: plain(fill.price),
        fee: plain(fill.fee),
        feeAsset: fill.feeAsset,
        filledAt: fill.filledAt
      })
      const notional = toMetricNumber(BigDecimal.multiply(fill.quantity, fill.price))
      yield* Metric.update(notionalBy({ symbol: order.symbol, action: order.action }), notional)
    })

  /** The fill that takes the recorded state of `order` to the exchange's `ex` (executed grew). */
  const nextFill = (order: Order, ex: ExchangeOrder, averagePrice: BigDecimal.BigDecimal) =>
    Effect.gen(function*() {
      const executed = ex.executedQuantity
      const previous = order.filledQuantity
      const delta = BigDecimal.subtract(executed, previous)
      const price = BigDecimal.isZero(previous) || order.averagePrice === null
        ? averagePrice
        : divide(
          BigDecimal.subtract(BigDecimal.multiply(averagePrice, executed), BigDecimal.multiply(order.averagePrice, previous)),
          delta,
          12
        )
      // Fills are recorded only together with a grown filled quantity: none exist before the first.
      const recorded = BigDecimal.isZero(previous) ? [] : yield* repo.fillsOf([order.id])
      const feeSoFar = recorded.reduce((acc, f) => BigDecimal.sum(acc, f.fee), ZERO)
      const fill: NewFill = {
        positionSide: bookedSide(ex.positionSide),
        fillKey: `${exchange.name}:${ex.orderId}:${plain(executed)}`,
        quantity: delta,
        price,
        fee: BigDecimal.subtract(ex.fee, feeSoFar),
        feeAsset: ex.feeAsset,
        priceSource: ex.priceSource,
        filledAt: ex.updatedAt
      }
      return fill
    })

  /** An execution the answer does not give the fee and time of (a BingX placement answer). */
  const unbookable = (ex: PlacedOrder) =>
    BigDecimal.isPositive(ex.executedQuantity) && (ex.fee === undefined || ex.updatedAt === undefined)

  /** Applies the exchange's view of an order; returns the order as it now is. */
  const apply = Effect.fn("OrderExecutor.apply")(function*(order: Order, ex: PlacedOrder) {
    const { to, reason } = statusFor(order, ex)
    const grew = BigDecimal.isGreaterThan(ex.executedQuantity, order.filledQuantity)
    if (to === order.status && !grew) {
      if (order.exchangeOrderId === null && ex.orderId !== "") yield* repo.setExchangeOrderId(order.id, order.status, ex.orderId)
      return order
    }
    let fill: NewFill | undefined
    if (grew) {
      if (ex.averagePrice === undefined) {
        yield* Effect.logWarning(
          `order ${order.id}: the exchange reports ${plain(ex.executedQuantity)} executed but no average price; will ask again`
        )
        return order
      }
      if (ex.fee === undefined || ex.updatedAt === undefined) {
        yield* Effect.logDebug(`order ${order.id}: the answer does not carry the fee and time of its execution; will ask the order`)
        return order
      }
      fill = yield* nextFill(order, { ...ex, fee: ex.fee, updatedAt: ex.updatedAt }, ex.averagePrice)
    }
    const result = yield* repo.recordFill({
      order,
      to,
      filledQuantity: ex.executedQuantity,
      averagePrice: ex.averagePrice ?? null,
      exchangeOrderId: ex.orderId === "" ? undefined : ex.orderId,
      reason,
      fill
    })
    if (result === undefined) {
      yield* Effect.logDebug(`order ${order.id} changed meanwhile; settling skipped`)
      return (yield* repo.get(order.id)) ?? order
    }
    if (result.fill !== undefined) yield* publishFill(result.order, result.fill)
    if (result.order.status !== order.status) {
      const log = isFinal(result.order.status) && result.order.status !== "filled" ? Effect.logWarning : Effect.logInfo
      yield* log(
        `order ${order.id} ${order.symbol} ${order.status} → ${result.order.status}` +
          (result.fill === undefined
            ? ""
            : ` (${plain(result.fill.quantity)} @ ${plain(result.fill.price)}, ${priceFrom(result.fill.priceSource)})`)
      )
      yield* notifyUpdate(result.order, result.fill?.priceSource ?? null)
    }
    return result.order
  })

  /** After placing: a MARKET order usually answers FILLED; if not, ask a few times, then leave it to reconciliation. */
  const settle = Effect.fn("OrderExecutor.settle")(function*(order: Order, placed: PlacedOrder) {
    let current = yield* apply(order, placed)
    let ex = placed
    const clientOrderId = placed.clientOrderId ?? order.clientOrderId!
    // An execution without its fee and time (a BingX placement answer) is asked for at once.
    let askAtOnce = unbookable(placed)
    for (const wait of x.settlePollMs) {
      if (isFinal(current.status) || (ex.status !== "new" && !unbookable(ex))) break
      if (!askAtOnce) yield* Effect.sleep(Duration.millis(wait))
      askAtOnce = false
      const queried = yield* x.guard(exchange.queryOrder(order.symbol, { clientOrderId })).pipe(Effect.option)
      if (queried._tag === "None") continue
      ex = queried.value
      current = yield* apply(current, ex)
    }
    if (!isFinal(current.status)) {
      yield* Effect.logInfo(`order ${order.id} is ${current.status} at the exchange; reconciliation will finish it`)
    }
  })

  return { notifyUpdate, finish, publishFill, apply, settle }
}

export type Settling = ReturnType<typeof makeSettling>
