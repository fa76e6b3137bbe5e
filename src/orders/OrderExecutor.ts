/**
 * What the order actor does with one order (`OrderService.handle_signal`), and how an order that
 * was already sent is brought to its final state (reconciliation, protective fills).
 *
 * Executing a `pending` order:
 *  1. re-read it: still `pending` and younger than SIGNAL_MAX_AGE_SECONDS (counted from when it
 *     became pending), else `expired`;
 *  2. plan it: bot settings fill in margin mode and leverage the signal did not give; the position
 *     mode decides `positionSide` (one-way: BOTH + reduceOnly for closes; hedge: LONG/SHORT);
 *     quantity from the signal or sized from `margin_usdt × leverage / price`, rounded DOWN to the
 *     contract precision; below the minimum quantity / notional, a stop-loss or take-profit on the
 *     wrong side of the price, an untradable symbol or a leverage above the maximum → `rejected`
 *     with the reason, before anything is sent; margin type and leverage are set (the exchange
 *     layer skips what is already set). A permanent refusal of any of these calls (position mode,
 *     contract, price, margin type, leverage — e.g. a wrong API secret) rejects the order with the
 *     exchange's reason; transient failures leave it pending and are retried;
 *  3. write-ahead: `pending → submitted` with the clientOrderId BEFORE sending, so a crash leaves a
 *     `submitted` order that reconciliation resolves by querying that clientOrderId;
 *  4. place the MARKET order. Refused → `rejected`. Transient (not placed) → wait and resend the
 *     same clientOrderId while the order is young enough, else `expired`. Unknown outcome → query by
 *     clientOrderId before anything is resent; found → settle it, not found → resend (a duplicate is
 *     impossible: the exchange refuses a repeated clientOrderId and we then query it).
 *  5. settle: fills (delta of the cumulative executed quantity, one `fills` row each, unique
 *     `fill_key`), `filled` / `partially_filled` / `cancelled`…, FillEvents, Notifier.
 * Every exchange call goes through the circuit breaker (it waits while the breaker is open).
 *
 * clientOrderId = `tvb-<installation prefix>-<order id>`: lowercase, ≤ 40 characters, stable for an
 * order; the prefix is random per installation (stored in `settings`), so a reset database or a
 * second installation on the same account never reuses an id ("clientOrderId cannot be repeated").
 */
import { BigDecimal, Clock, Context, Duration, Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import * as Crypto from "node:crypto"
import { AppConfig } from "../config.ts"
import { divide, floorTo, parseUnsafe, plain, roundTo, sizeFromMargin, ZERO } from "../domain/decimal.ts"
import { isFinal, type OrderStatus } from "../domain/order.ts"
import type {
  Action,
  ExchangePositionSide,
  ExchangeSide,
  MarginMode,
  PositionMode,
  PositionSide,
  PriceSource
} from "../domain/vocabulary.ts"
import {
  type ContractRules,
  Exchange,
  type ExchangeOrder,
  type ExchangeRejectedError,
  type PlaceOrderRequest
} from "../exchange/Exchange.ts"
import type { ExchangeEvent } from "../exchange/ExchangeEvents.ts"
import { Notifier } from "../notify/Notifier.ts"
import { BotSettings } from "../settings/BotSettings.ts"
import { orderNotional, orderSubmitDuration, orderSubmitFailures, signalQueueWait, taggedBy } from "../telemetry/metrics.ts"
import { Breaker, exchangeVerdict } from "./Breaker.ts"
import { FillEvents } from "./FillEvents.ts"
import { type FillRow, type NewFill, OrderRepo, type OrderRow } from "./OrderRepo.ts"
import type { QueuedOrder } from "./SignalQueue.ts"

export const CLIENT_ORDER_ID_PREFIX_KEY = "client_order_id_prefix"

export const clientOrderIdFor = (prefix: string, orderId: string): string => `tvb-${prefix}-${orderId}`.toLowerCase()

/** BingX side / positionSide / reduceOnly for an order, given the account's position mode. */
export const exchangeSides = (
  order: { readonly action: Action; readonly position_side: PositionSide | null; readonly reduce_only: boolean },
  mode: PositionMode
): { readonly side: ExchangeSide; readonly positionSide: ExchangePositionSide; readonly reduceOnly: boolean; readonly closing: boolean } => {
  const side: ExchangeSide = order.action === "buy" ? "BUY" : "SELL"
  if (mode === "one_way") {
    const closing = order.reduce_only ||
      (order.position_side === "long" && order.action === "sell") ||
      (order.position_side === "short" && order.action === "buy")
    return { side, positionSide: "BOTH", reduceOnly: closing, closing }
  }
  const leg = order.position_side ??
    (order.reduce_only ? (order.action === "buy" ? "short" : "long") : (order.action === "buy" ? "long" : "short"))
  const positionSide = leg === "long" ? "LONG" : "SHORT"
  const closing = (leg === "long" && order.action === "sell") || (leg === "short" && order.action === "buy")
  // Hedge mode: BingX refuses reduceOnly; closing is the opposite side on the same positionSide.
  return { side, positionSide, reduceOnly: false, closing }
}

/** How a log line says where a fill's price came from. */
const priceFrom = (source: PriceSource | null): string =>
  source === "alert" ? "price from the alert, not the market" : source === "exchange" ? "price from the exchange" : "price source not recorded"

/** The side a fill is booked on: hedge legs long/short, one-way (BOTH) is a net position (null). */
const bookedSide = (positionSide: ExchangePositionSide): PositionSide | null =>
  positionSide === "LONG" ? "long" : positionSide === "SHORT" ? "short" : null

/** Refused before anything was sent: the order becomes `rejected` with this reason. */
class Refused {
  readonly _tag = "Refused"
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

export interface ExecutorOptions {
  /** First wait between attempts after a transient failure (doubles, capped at 15 s). */
  readonly retryBaseMs?: number
  /** Waits while a MARKET order is still NEW at the exchange right after placing it. */
  readonly settlePollMs?: ReadonlyArray<number>
}

export interface OrderExecutorShape {
  /** `OrderService.handle_signal`: executes a pending order (anything else is left alone). */
  readonly execute: (item: QueuedOrder) => Effect.Effect<void, SqlError>
  /** Brings a `submitted` / `partially_filled` order up to date with the exchange. */
  readonly reconcile: (orderId: string) => Effect.Effect<void, SqlError>
  /** Records a fill of an attached stop-loss / take-profit as an order + fill. */
  readonly recordProtectiveFill: (event: Extract<ExchangeEvent, { _tag: "ProtectiveFill" }>) => Effect.Effect<void, SqlError>
  /** Marks an order final with a reason (guarded) and notifies. */
  readonly finish: (order: OrderRow, to: OrderStatus, reason: string) => Effect.Effect<OrderRow | undefined, SqlError>
  readonly clientOrderIdPrefix: string
}

export class OrderExecutor extends Context.Service<OrderExecutor, OrderExecutorShape>()("tvtelegrambingx/OrderExecutor") {
  static readonly make = (options: ExecutorOptions = {}) =>
    Effect.gen(function*() {
      const config = yield* AppConfig
      const sql = yield* SqlClient.SqlClient
      const exchange = yield* Exchange
      const repo = yield* OrderRepo
      const breaker = yield* Breaker
      const settings = yield* BotSettings
      const notifier = yield* Notifier
      const fills = yield* FillEvents
      const maxAgeMs = config.trading.signalMaxAgeSeconds * 1000
      const retryBaseMs = options.retryBaseMs ?? 1_000
      const settlePollMs = options.settlePollMs ?? [250, 500, 1_000, 2_000]
      const submitFailuresBy = taggedBy(orderSubmitFailures)
      const notionalBy = taggedBy(orderNotional)
      const submitDurationBy = taggedBy(orderSubmitDuration)

      // The per-installation clientOrderId prefix (created once, atomically).
      const candidate = Crypto.randomBytes(8).readBigUInt64BE().toString(36).padStart(8, "0").slice(-8)
      yield* sql`INSERT INTO settings (key, value) VALUES (${CLIENT_ORDER_ID_PREFIX_KEY}, ${candidate}) ON CONFLICT (key) DO NOTHING`
      const [stored] = yield* sql<{ value: string }>`SELECT value FROM settings WHERE key = ${CLIENT_ORDER_ID_PREFIX_KEY}`
      const prefix = stored!.value

      const guard = <A, E extends { readonly _tag: string }, R>(call: Effect.Effect<A, E, R>) => breaker.guard(call, exchangeVerdict)
      /** Calls the exchange layer may answer from its cache: a hit is no sign the exchange is healthy. */
      const guardCached = <A, E extends { readonly _tag: string }, R>(call: Effect.Effect<A, E, R>) =>
        breaker.guard(call, exchangeVerdict, { cached: true })

      const ageMs = (order: OrderRow) =>
        Effect.map(Clock.currentTimeMillis, (now) => now - new Date(order.pending_since ?? order.created_at).getTime())

      const backoff = (n: number, retryAfterMs: number | undefined) =>
        Effect.sleep(Duration.millis(Math.max(Math.min(retryBaseMs * 2 ** n, 15_000), retryAfterMs ?? 0)))

      /** `priceSource`: of the fill this update announces (null when it announces none). */
      const notifyUpdate = (order: OrderRow, priceSource: PriceSource | null = null) =>
        notifier.notify({
          _tag: "OrderUpdate",
          orderId: order.id,
          symbol: order.symbol,
          action: order.action,
          status: order.status,
          quantity: order.filled_quantity !== "0" && order.filled_quantity !== null
            ? plain(parseUnsafe(order.filled_quantity))
            : order.quantity === null ? null : plain(parseUnsafe(order.quantity)),
          price: order.average_price === null ? null : plain(parseUnsafe(order.average_price)),
          priceSource,
          reason: order.reason
        })

      const finish = (order: OrderRow, to: OrderStatus, reason: string) =>
        Effect.gen(function*() {
          const updated = yield* repo.transition(order.id, order.status, to, { reason })
          if (updated === undefined) return undefined
          const log = to === "filled" ? Effect.logInfo : Effect.logWarning
          yield* log(`order ${order.id} ${order.symbol} ${order.status} → ${to}: ${reason}`)
          yield* notifyUpdate(updated)
          return updated
        })

      const failure = (symbol: string, kind: "transient" | "permanent" | "unknown") =>
        Metric.update(submitFailuresBy({ symbol, kind }), 1)

      // ------------------------------------------------------------------------------------------
      // Planning
      // ------------------------------------------------------------------------------------------

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

      // The exchange's price of a symbol, reused for ORDER_PRICE_MAX_AGE_MS: the next order of the
      // same symbol (a reversal's close + open, a burst) is sized without another round trip on the
      // path to the exchange. Only prices the exchange gave are kept.
      const priceMaxAgeMs = config.trading.orderPriceMaxAgeMs
      const recentPrices = new Map<string, { readonly price: BigDecimal.BigDecimal; readonly at: number }>()
      const exchangePrice = (symbol: string) =>
        priceMaxAgeMs === 0 ? guard(exchange.lastPrice(symbol)) : Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const recent = recentPrices.get(symbol)
          if (recent !== undefined && now - recent.at < priceMaxAgeMs) return Effect.succeed(recent.price)
          return guard(exchange.lastPrice(symbol)).pipe(
            Effect.tap((price) => Effect.sync(() => recentPrices.set(symbol, { price, at: now })))
          )
        })

      const referencePrice = (order: OrderRow) =>
        exchangePrice(order.symbol).pipe(
          refuseOn(`could not read the price of ${order.symbol}`),
          Effect.map((p): BigDecimal.BigDecimal | undefined => p),
          Effect.catchTag("PriceUnavailable", () => Effect.succeed(undefined)),
          Effect.map((p) => p ?? (order.price === null ? undefined : parseUnsafe(order.price)))
        )

      const plan = (order: OrderRow, clientOrderId: string) =>
        Effect.gen(function*() {
          const current = yield* settings.current
          const marginMode: MarginMode = order.margin_mode ?? current.marginMode
          const leverage = order.leverage ?? current.leverage
          // A refusal here (e.g. 100001: BINGX_API_SECRET does not match) is final for the order:
          // retrying would only knock until it expires, with a reason that hides the cause.
          const mode = yield* guardCached(exchange.positionMode).pipe(refuseOn("could not read the account's position mode"))
          const sides = exchangeSides(order, mode)
          const rules: ContractRules = yield* guardCached(exchange.contract(order.symbol)).pipe(refuseOn(`${order.symbol} cannot be traded`))
          if (!rules.tradable) return yield* Effect.fail(new Refused(`${order.symbol} is not open for API trading on the exchange`))
          const maxLeverage = sides.positionSide === "SHORT" || (sides.positionSide === "BOTH" && order.action === "sell" && !sides.closing)
            ? rules.maxShortLeverage
            : rules.maxLongLeverage
          if (!sides.closing && leverage > maxLeverage) {
            return yield* Effect.fail(new Refused(`leverage ${leverage} is above the maximum ${maxLeverage} for ${order.symbol}`))
          }
          const price = yield* referencePrice(order)
          if (price === undefined) {
            return yield* Effect.fail(new Refused(
              `no price for ${order.symbol}: the exchange gave none and the signal has no price`
            ))
          }
          let quantity: BigDecimal.BigDecimal
          let asked: string
          if (order.quantity !== null) {
            asked = plain(parseUnsafe(order.quantity))
            quantity = floorTo(parseUnsafe(order.quantity), rules.quantityPrecision)
          } else if (order.margin_usdt !== null) {
            asked = `${plain(parseUnsafe(order.margin_usdt))} USDT × ${leverage} ÷ ${plain(price)}`
            quantity = sizeFromMargin(parseUnsafe(order.margin_usdt), leverage, price, rules.quantityPrecision)
          } else return yield* Effect.fail(new Refused("the order has neither a quantity nor margin_usdt to size it from"))
          if (!BigDecimal.isPositive(quantity) || BigDecimal.isLessThan(quantity, rules.minQuantity)) {
            return yield* Effect.fail(new Refused(
              `quantity ${plain(quantity)} (${asked} rounded down to ${rules.quantityPrecision} decimals) is below the minimum ${plain(rules.minQuantity)} for ${order.symbol}`
            ))
          }
          const notional = BigDecimal.multiply(quantity, price)
          if (!sides.closing && BigDecimal.isLessThan(notional, rules.minNotional)) {
            return yield* Effect.fail(new Refused(
              `order value ${plain(roundTo(notional, 8))} USDT is below the minimum ${plain(rules.minNotional)} USDT for ${order.symbol}`
            ))
          }
          let stopLoss: BigDecimal.BigDecimal | undefined
          let takeProfit: BigDecimal.BigDecimal | undefined
          if (!sides.closing) {
            const long = sides.side === "BUY"
            if (order.stop_loss !== null) {
              stopLoss = roundTo(parseUnsafe(order.stop_loss), rules.pricePrecision)
              if (long ? !BigDecimal.isLessThan(stopLoss, price) : !BigDecimal.isGreaterThan(stopLoss, price)) {
                return yield* Effect.fail(new Refused(
                  `stop_loss ${plain(stopLoss)} is not ${long ? "below" : "above"} the price ${plain(price)} of ${order.symbol} for a ${long ? "long" : "short"} entry`
                ))
              }
            }
            if (order.take_profit !== null) {
              takeProfit = roundTo(parseUnsafe(order.take_profit), rules.pricePrecision)
              if (long ? !BigDecimal.isGreaterThan(takeProfit, price) : !BigDecimal.isLessThan(takeProfit, price)) {
                return yield* Effect.fail(new Refused(
                  `take_profit ${plain(takeProfit)} is not ${long ? "above" : "below"} the price ${plain(price)} of ${order.symbol} for a ${long ? "long" : "short"} entry`
                ))
              }
            }
            const marginType = marginMode === "cross" ? "CROSSED" : "ISOLATED"
            yield* guardCached(exchange.setMarginType(order.symbol, marginType)).pipe(
              refuseOn(`could not set margin type ${marginType} on ${order.symbol}`)
            )
            yield* guardCached(exchange.setLeverage(order.symbol, leverage, sides.positionSide)).pipe(
              refuseOn(`could not set leverage ${leverage} on ${order.symbol} (${sides.positionSide})`)
            )
          } else if (order.stop_loss !== null || order.take_profit !== null) {
            yield* Effect.logInfo(`order ${order.id} closes a position: its stop_loss/take_profit are not attached`)
          }
          const request: PlaceOrderRequest = {
            symbol: order.symbol,
            side: sides.side,
            positionSide: sides.positionSide,
            type: "MARKET",
            quantity,
            clientOrderId,
            reduceOnly: sides.reduceOnly,
            stopLoss,
            takeProfit,
            priceHint: price
          }
          return { request, leverage, marginMode }
        })

      // ------------------------------------------------------------------------------------------
      // Settling: exchange state → our state
      // ------------------------------------------------------------------------------------------

      const apply = (order: OrderRow, ex: ExchangeOrder) =>
        Effect.gen(function*() {
          const executed = ex.executedQuantity
          const previous = parseUnsafe(order.filled_quantity)
          let to: OrderStatus = order.status
          let reason: string | undefined
          switch (ex.status) {
            case "filled":
              to = "filled"
              break
            case "partially_filled":
              to = "partially_filled"
              break
            case "new":
              if (BigDecimal.isPositive(executed)) to = "partially_filled"
              break
            case "cancelled":
            case "expired":
            case "failed":
              to = order.status === "partially_filled" || BigDecimal.isPositive(executed)
                ? "cancelled"
                : ex.status === "failed" ? "failed" : ex.status === "expired" ? "expired" : "cancelled"
              reason = `the exchange reports the order ${ex.status.toUpperCase()}`
              break
          }
          const grew = BigDecimal.isGreaterThan(executed, previous)
          if (to === order.status && !grew) {
            if (order.exchange_order_id === null && ex.orderId !== "") yield* repo.setExchangeOrderId(order.id, order.status, ex.orderId)
            return order
          }
          let fill: NewFill | undefined
          if (grew) {
            if (ex.averagePrice === undefined) {
              yield* Effect.logWarning(`order ${order.id}: the exchange reports ${plain(executed)} executed but no average price; will ask again`)
              return order
            }
            const delta = BigDecimal.subtract(executed, previous)
            const price = BigDecimal.isZero(previous) || order.average_price === null
              ? ex.averagePrice
              : divide(
                BigDecimal.subtract(BigDecimal.multiply(ex.averagePrice, executed), BigDecimal.multiply(parseUnsafe(order.average_price), previous)),
                delta,
                12
              )
            // Fills are recorded only together with a grown filled quantity: none exist before the first.
            const recorded = BigDecimal.isZero(previous) ? [] : yield* repo.fillsOf([order.id])
            const feeSoFar = recorded.reduce((acc, f) => BigDecimal.sum(acc, parseUnsafe(f.fee)), ZERO)
            fill = {
              positionSide: bookedSide(ex.positionSide),
              fillKey: `${exchange.name}:${ex.orderId}:${plain(executed)}`,
              quantity: plain(delta),
              price: plain(price),
              fee: plain(BigDecimal.subtract(ex.fee, feeSoFar)),
              feeAsset: ex.feeAsset,
              priceSource: ex.priceSource,
              filledAt: ex.updatedAt
            }
          }
          const result = yield* repo.recordFill({
            order,
            to,
            filledQuantity: plain(executed),
            averagePrice: ex.averagePrice === undefined ? null : plain(ex.averagePrice),
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
                (result.fill === undefined ? "" : ` (${result.fill.quantity} @ ${result.fill.price}, ${priceFrom(result.fill.price_source)})`)
            )
            yield* notifyUpdate(result.order, result.fill?.price_source ?? null)
          }
          return result.order
        })

      const publishFill = (order: OrderRow, fill: FillRow) =>
        Effect.gen(function*() {
          yield* fills.publish({
            fillId: fill.id,
            orderId: order.id,
            symbol: order.symbol,
            action: order.action,
            positionSide: fill.position_side,
            quantity: plain(parseUnsafe(fill.quantity)),
            price: plain(parseUnsafe(fill.price)),
            fee: plain(parseUnsafe(fill.fee)),
            feeAsset: fill.fee_asset,
            filledAt: new Date(fill.filled_at)
          })
          const notional = Number(plain(BigDecimal.multiply(parseUnsafe(fill.quantity), parseUnsafe(fill.price))))
          yield* Metric.update(notionalBy({ symbol: order.symbol, action: order.action }), notional)
        })

      /** After placing: a MARKET order usually answers FILLED; if not, ask a few times, then leave it to reconciliation. */
      const settle = (order: OrderRow, placed: ExchangeOrder) =>
        Effect.gen(function*() {
          let current = yield* apply(order, placed)
          let ex = placed
          for (const wait of settlePollMs) {
            if (isFinal(current.status) || ex.status !== "new") break
            yield* Effect.sleep(Duration.millis(wait))
            const queried = yield* guard(exchange.queryOrder(order.symbol, { clientOrderId: placed.clientOrderId ?? order.client_order_id! }))
              .pipe(Effect.option)
            if (queried._tag === "None") continue
            ex = queried.value
            current = yield* apply(current, ex)
          }
          if (!isFinal(current.status)) {
            yield* Effect.logInfo(`order ${order.id} is ${current.status} at the exchange; reconciliation will finish it`)
          }
        })

      // ------------------------------------------------------------------------------------------
      // Sending
      // ------------------------------------------------------------------------------------------

      /** Looks an order up by clientOrderId after an unknown outcome: found, not found, or unresolved. */
      const lookup = (order: OrderRow) =>
        Effect.gen(function*() {
          for (let n = 0; n < 5; n++) {
            const result = yield* guard(exchange.queryOrder(order.symbol, { clientOrderId: order.client_order_id! })).pipe(Effect.result)
            if (result._tag === "Success") return { _tag: "Found" as const, order: result.success }
            const e = result.failure
            if (e._tag === "ExchangeOrderNotFound") return { _tag: "NotFound" as const }
            if (e._tag === "ExchangeRejectedError") {
              yield* Effect.logWarning(`order ${order.id}: query by clientOrderId refused: ${e.message}`)
              return { _tag: "Unresolved" as const }
            }
            yield* backoff(n, e._tag === "ExchangeTransientError" ? e.retryAfterMs : undefined)
          }
          return { _tag: "Unresolved" as const }
        })

      /** Sends a `submitted` order until the exchange settles it one way or another. */
      const submit = (initial: OrderRow, request: PlaceOrderRequest) =>
        Effect.gen(function*() {
          const started = yield* Clock.currentTimeMillis
          const observe = Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Metric.update(submitDurationBy({ symbol: request.symbol }), (now - started) / 1000))
          let order = initial
          let n = 0
          while (true) {
            const result = yield* guard(exchange.placeOrder(request)).pipe(Effect.result)
            if (result._tag === "Success") {
              yield* observe
              return yield* settle(order, result.success)
            }
            const e = result.failure
            switch (e._tag) {
              case "ExchangeRejectedError":
              case "PriceUnavailable": {
                yield* failure(request.symbol, "permanent")
                yield* observe
                yield* finish(order, "rejected", e._tag === "PriceUnavailable" ? e.message : `the exchange refused the order: ${e.message}`)
                return
              }
              case "ExchangeTransientError": {
                yield* failure(request.symbol, "transient")
                if ((yield* ageMs(order)) > maxAgeMs) {
                  yield* observe
                  yield* finish(order, "expired", `not placed within SIGNAL_MAX_AGE_SECONDS (${config.trading.signalMaxAgeSeconds} s): ${e.message}`)
                  return
                }
                yield* Effect.logWarning(`order ${order.id}: ${e.message}; will resend ${request.clientOrderId}`)
                yield* backoff(n++, e.retryAfterMs)
                continue
              }
              case "ExchangeUnknownOutcome": {
                yield* failure(request.symbol, "unknown")
                yield* Effect.logWarning(`order ${order.id}: outcome unknown (${e.message}); querying ${request.clientOrderId} before anything else`)
                const found = yield* lookup(order)
                if (found._tag === "Found") {
                  yield* observe
                  return yield* settle(order, found.order)
                }
                if (found._tag === "Unresolved") {
                  yield* Effect.logWarning(`order ${order.id}: still unknown; reconciliation will query ${request.clientOrderId} again`)
                  return
                }
                if ((yield* ageMs(order)) > maxAgeMs) {
                  yield* observe
                  yield* finish(
                    order,
                    "failed",
                    `not placed: the outcome was unknown (${e.message}) and no order ${request.clientOrderId} exists at the exchange; older than SIGNAL_MAX_AGE_SECONDS`
                  )
                  return
                }
                order = (yield* repo.get(order.id)) ?? order
                if (order.status !== "submitted") return
                yield* backoff(n++, undefined)
                continue
              }
            }
          }
        })

      const handleSignal = Effect.fn("OrderService.handle_signal")(function*(item: QueuedOrder) {
        yield* Effect.annotateCurrentSpan({ "order.id": item.orderId, "order.symbol": item.symbol })
        yield* Metric.update(signalQueueWait, Math.max(0, Date.now() - item.enqueuedAt) / 1000)
        let n = 0
        let announcedPause = false
        while (true) {
          const order = yield* repo.get(item.orderId)
          if (order === undefined) return yield* Effect.logWarning(`order ${item.orderId} does not exist`)
          if (order.status !== "pending") {
            return yield* Effect.logDebug(`order ${order.id} is ${order.status}, not pending: nothing to do`)
          }
          const age = yield* ageMs(order)
          if (age <= maxAgeMs && (yield* settings.current).paused) {
            // Paused: nothing is sent; the order waits (and expires if the pause outlasts its max age).
            if (!announcedPause) yield* Effect.logInfo(`order ${order.id} waits: the bot is paused`)
            announcedPause = true
            yield* Effect.sleep("500 millis")
            continue
          }
          if (age > maxAgeMs) {
            yield* finish(order, "expired", `not executed within SIGNAL_MAX_AGE_SECONDS (${config.trading.signalMaxAgeSeconds} s); it waited ${Math.round(age / 1000)} s`)
            return
          }
          const clientOrderId = clientOrderIdFor(prefix, order.id)
          const planned = yield* plan(order, clientOrderId).pipe(Effect.result)
          if (planned._tag === "Failure") {
            const e = planned.failure
            if (e instanceof Refused) {
              yield* failure(order.symbol, "permanent")
              yield* finish(order, "rejected", e.reason)
              return
            }
            // Transient while planning: the order stays pending; wait (the breaker may hold us) and retry.
            yield* failure(order.symbol, "transient")
            yield* Effect.logWarning(`order ${order.id}: ${e.message}; retrying`)
            yield* backoff(n++, e._tag === "ExchangeTransientError" ? e.retryAfterMs : undefined)
            continue
          }
          const { request, leverage, marginMode } = planned.success
          const now = yield* Clock.currentTimeMillis
          const submitted = yield* repo.transition(order.id, "pending", "submitted", {
            clientOrderId,
            quantity: plain(request.quantity),
            leverage,
            marginMode,
            incrementAttempts: true
          }, new Date(now - maxAgeMs))
          if (submitted === undefined) continue // moved meanwhile (or just got too old): re-check
          yield* Effect.logInfo(
            `order ${order.id}: ${request.side} ${plain(request.quantity)} ${request.symbol} ${request.positionSide}` +
              `${request.reduceOnly ? " reduceOnly" : ""} as ${clientOrderId}`
          )
          return yield* submit(submitted, request)
        }
      })

      /** The queue carries the span that committed the order: one trace from the webhook to the exchange. */
      const execute = (item: QueuedOrder) =>
        item.parentSpan === undefined ? handleSignal(item) : Effect.withParentSpan(handleSignal(item), item.parentSpan)

      /** Rebuilds the request of a `submitted` order that never reached the exchange. */
      const resend = (order: OrderRow) =>
        Effect.gen(function*() {
          const mode = yield* guardCached(exchange.positionMode)
          const sides = exchangeSides(order, mode)
          const request: PlaceOrderRequest = {
            symbol: order.symbol,
            side: sides.side,
            positionSide: sides.positionSide,
            type: "MARKET",
            quantity: parseUnsafe(order.quantity!),
            clientOrderId: order.client_order_id!,
            reduceOnly: sides.reduceOnly,
            stopLoss: sides.closing || order.stop_loss === null ? undefined : parseUnsafe(order.stop_loss),
            takeProfit: sides.closing || order.take_profit === null ? undefined : parseUnsafe(order.take_profit),
            priceHint: order.price === null ? undefined : parseUnsafe(order.price)
          }
          yield* Effect.logWarning(`order ${order.id}: ${order.client_order_id} never reached the exchange; sending it now`)
          return yield* submit(order, request)
        })

      const reconcile = Effect.fn("OrderService.reconcile_order")(function*(orderId: string) {
        const order = yield* repo.get(orderId)
        if (order === undefined || (order.status !== "submitted" && order.status !== "partially_filled")) return
        yield* Effect.annotateCurrentSpan({ "order.id": order.id, "order.symbol": order.symbol })
        if (order.client_order_id === null) {
          yield* finish(order, "failed", "submitted without a clientOrderId: cannot be looked up")
          return
        }
        const byId = order.exchange_order_id !== null
        const result = yield* guard(exchange.queryOrder(
          order.symbol,
          byId ? { orderId: order.exchange_order_id! } : { clientOrderId: order.client_order_id }
        )).pipe(Effect.result)
        if (result._tag === "Success") {
          yield* apply(order, result.success)
          return
        }
        const e = result.failure
        if (e._tag !== "ExchangeOrderNotFound") {
          yield* Effect.logWarning(`order ${order.id}: reconciliation could not query the exchange: ${e.message}`)
          return
        }
        if (byId || order.status === "partially_filled") {
          yield* Effect.logWarning(`order ${order.id}: exchange order ${order.exchange_order_id} is not found any more; left as ${order.status}`)
          return
        }
        if ((yield* ageMs(order)) > maxAgeMs) {
          yield* finish(
            order,
            "failed",
            `not placed: no order ${order.client_order_id} exists at the exchange, and the order is older than SIGNAL_MAX_AGE_SECONDS (${config.trading.signalMaxAgeSeconds} s)`
          )
          return
        }
        yield* resend(order).pipe(Effect.catch((e) => Effect.logWarning(`order ${order.id}: resend failed: ${e.message}`)))
      })

      const recordProtectiveFill = Effect.fn("OrderService.record_protective_fill")(function*(
        event: Extract<ExchangeEvent, { _tag: "ProtectiveFill" }>
      ) {
        if ((yield* repo.byExchangeOrderId(event.exchangeOrderId)) !== undefined) return
        const parent = event.parentClientOrderId !== undefined
          ? yield* repo.byClientOrderId(event.parentClientOrderId)
          : yield* repo.latestProtectedEntry(event.symbol)
        if (parent === undefined) {
          yield* Effect.logWarning(
            `${event.kind} fill ${event.exchangeOrderId} on ${event.symbol} matches no order of ours; not recorded`
          )
          return
        }
        const what = event.kind === "stop_loss" ? "stop-loss" : "take-profit"
        const recorded = yield* repo.insertFilledChild({
          parent,
          action: event.side === "BUY" ? "buy" : "sell",
          exchangeOrderId: event.exchangeOrderId,
          quantity: plain(event.quantity),
          price: plain(event.price),
          reason: `${what} of order ${parent.id} triggered at ${plain(event.price)}`,
          fill: {
            positionSide: bookedSide(event.positionSide),
            fillKey: `${exchange.name}:${event.exchangeOrderId}:${plain(event.quantity)}`,
            quantity: plain(event.quantity),
            price: plain(event.price),
            fee: plain(event.fee),
            feeAsset: event.feeAsset,
            // Triggers fire on market prices, at BingX and in the paper exchange alike.
            priceSource: "exchange",
            filledAt: event.filledAt
          }
        })
        if (recorded === undefined) return
        yield* Effect.logInfo(`order ${recorded.order.id}: ${what} of order ${parent.id} filled ${plain(event.quantity)} @ ${plain(event.price)}`)
        yield* publishFill(recorded.order, recorded.fill)
        yield* notifyUpdate(recorded.order, recorded.fill.price_source)
      })

      return OrderExecutor.of({ execute, reconcile, recordProtectiveFill, finish, clientOrderIdPrefix: prefix })
    })

  /** Needs AppConfig, SqlClient, Exchange, OrderRepo, Breaker, BotSettings, Notifier, FillEvents. */
  static readonly layer = (options: ExecutorOptions = {}) => Layer.effect(OrderExecutor, OrderExecutor.make(options))
}
