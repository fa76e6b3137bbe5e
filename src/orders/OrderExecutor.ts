/**
 * What the order actor does with one order (`OrderService.handle_signal`), and how an order that
 * was already sent is brought to its final state (reconciliation, protective fills). The I/O lives
 * here and in its parts; every decision about the request itself is the pure order plan.
 *
 * Executing a `pending` order:
 *  1. re-read it: still `pending` and younger than SIGNAL_MAX_AGE_SECONDS (counted from when it
 *     became pending), else `expired`; while the bot is paused it waits;
 *  2. plan it (`planning.ts`): refused → `rejected` with the reason, before anything is sent;
 *     transient failures leave it pending and are retried;
 *  3. write-ahead: `pending → submitted` with the clientOrderId AND the planned request BEFORE
 *     sending, so a crash leaves a `submitted` order that reconciliation resolves by querying that
 *     clientOrderId — and re-sends exactly the planned request when the exchange has no such order;
 *  4. send it (`submitting.ts`) and settle it (`settling.ts`).
 * Every exchange call goes through the circuit breaker (it waits while the breaker is open).
 *
 * clientOrderId = `tvb-<installation prefix>-<order id>`: lowercase, ≤ 40 characters, stable for an
 * order; the prefix is random per installation (stored in `settings`), so a reset database or a
 * second installation on the same account never reuses an id ("clientOrderId cannot be repeated").
 */
import { Clock, Context, Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import * as Crypto from "node:crypto"
import { plain } from "../domain/decimal.ts"
import type { Order, OrderStatus } from "../domain/order.ts"
import type { ExchangeEvent } from "../exchange/ExchangeEvents.ts"
import { signalQueueWait } from "../telemetry/metrics.ts"
import { continueQueuedTrace } from "../telemetry/queueTrace.ts"
import { bookedSide, type ExecutorOptions, makeExecution } from "./execution.ts"
import { makePlanning, Refused } from "./planning.ts"
import { makeSettling } from "./settling.ts"
import { type QueuedOrder, queueWaitSeconds } from "./SignalQueue.ts"
import { makeSubmitting } from "./submitting.ts"

export type { ExecutorOptions } from "./execution.ts"

export const CLIENT_ORDER_ID_PREFIX_KEY = "client_order_id_prefix"

export const clientOrderIdFor = (prefix: string, orderId: string): string => `tvb-${prefix}-${orderId}`.toLowerCase()

export interface OrderExecutorShape {
  /** `OrderService.handle_signal`: executes a pending order (anything else is left alone). */
  readonly execute: (item: QueuedOrder) => Effect.Effect<void, SqlError>
  /** Brings a `submitted` / `partially_filled` order up to date with the exchange. */
  readonly reconcile: (orderId: string) => Effect.Effect<void, SqlError>
  /** Records a fill of an attached stop-loss / take-profit as an order + fill. */
  readonly recordProtectiveFill: (event: Extract<ExchangeEvent, { _tag: "ProtectiveFill" }>) => Effect.Effect<void, SqlError>
  /** Marks an order final with a reason (guarded) and notifies. */
  readonly finish: (order: Order, to: OrderStatus, reason: string) => Effect.Effect<Order | undefined, SqlError>
  readonly clientOrderIdPrefix: string
}

export class OrderExecutor extends Context.Service<OrderExecutor, OrderExecutorShape>()("tvtelegrambingx/OrderExecutor") {
  static readonly make = (options: ExecutorOptions = {}) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const x = yield* makeExecution(options)
      const { config, exchange, repo, maxAgeMs } = x
      const settling = makeSettling(x)
      const { finish, apply, publishFill, notifyUpdate } = settling
      const { plan } = makePlanning(x)
      const { submit } = makeSubmitting(x, settling)

      // The per-installation clientOrderId prefix (created once, atomically).
      const candidate = Crypto.randomBytes(8).readBigUInt64BE().toString(36).padStart(8, "0").slice(-8)
      yield* sql`INSERT INTO settings (key, value) VALUES (${CLIENT_ORDER_ID_PREFIX_KEY}, ${candidate}) ON CONFLICT (key) DO NOTHING`
      const [stored] = yield* sql<{ value: string }>`SELECT value FROM settings WHERE key = ${CLIENT_ORDER_ID_PREFIX_KEY}`
      const prefix = stored!.value

      const handleSignal = Effect.fn("OrderService.handle_signal")(function*(item: QueuedOrder) {
        yield* Effect.annotateCurrentSpan({ "order.id": item.orderId, "order.symbol": item.symbol })
        yield* Metric.update(signalQueueWait, yield* queueWaitSeconds(item))
        let n = 0
        let announcedPause = false
        while (true) {
          const order = yield* repo.get(item.orderId)
          if (order === undefined) return yield* Effect.logWarning(`order ${item.orderId} does not exist`)
          if (order.status !== "pending") {
            return yield* Effect.logDebug(`order ${order.id} is ${order.status}, not pending: nothing to do`)
          }
          const age = yield* x.ageMs(order)
          if (age <= maxAgeMs && (yield* x.settings.current).paused) {
            // Paused: nothing is sent; the order waits (and expires if the pause outlasts its max age).
            if (!announcedPause) yield* Effect.logInfo(`order ${order.id} waits: the bot is paused`)
            announcedPause = true
            yield* Effect.sleep("500 millis")
            continue
          }
          if (age > maxAgeMs) {
            yield* finish(
              order,
              "expired",
              `not executed within SIGNAL_MAX_AGE_SECONDS (${config.orders.signalMaxAgeSeconds} s); it waited ${Math.round(age / 1000)} s`
            )
            return
          }
          const clientOrderId = clientOrderIdFor(prefix, order.id)
          const planned = yield* plan(order, clientOrderId).pipe(Effect.result)
          if (planned._tag === "Failure") {
            const e = planned.failure
            if (e instanceof Refused) {
              yield* x.failure(order.symbol, "permanent")
              yield* finish(order, "rejected", e.reason)
              return
            }
            // Transient while planning: the order stays pending; wait (the breaker may hold us) and retry.
            yield* x.failure(order.symbol, "transient")
            yield* Effect.logWarning(`order ${order.id}: ${e.message}; retrying`)
            yield* x.backoff(n++, e._tag === "ExchangeTransientError" ? e.retryAfterMs : undefined)
            continue
          }
          const { request, leverage, marginMode } = planned.success
          const now = yield* Clock.currentTimeMillis
          const submitted = yield* repo.transition(order.id, "pending", "submitted", {
            clientOrderId,
            quantity: request.quantity,
            leverage,
            marginMode,
            planned: request,
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
      const execute = (item: QueuedOrder) => handleSignal(item).pipe(continueQueuedTrace(item))

      /**
       * Sends a `submitted` order that never reached the exchange: its planned request as it was
       * first sent. (An order submitted before plans were stored is planned again.)
       */
      const resend = (order: Order, clientOrderId: string) =>
        Effect.gen(function*() {
          const request = order.planned ?? (yield* plan(order, clientOrderId)).request
          yield* Effect.logWarning(`order ${order.id}: ${clientOrderId} never reached the exchange; sending it now`)
          return yield* submit(order, request)
        })

      const reconcile = Effect.fn("OrderExecutor.reconcile")(function*(orderId: string) {
        const order = yield* repo.get(orderId)
        if (order === undefined || (order.status !== "submitted" && order.status !== "partially_filled")) return
        yield* Effect.annotateCurrentSpan({ "order.id": order.id, "order.symbol": order.symbol })
        const clientOrderId = order.clientOrderId
        if (clientOrderId === null) {
          yield* finish(order, "failed", "submitted without a clientOrderId: cannot be looked up")
          return
        }
        const exchangeOrderId = order.exchangeOrderId
        const result = yield* x.guard(exchange.queryOrder(
          order.symbol,
          exchangeOrderId !== null ? { orderId: exchangeOrderId } : { clientOrderId }
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
        if (exchangeOrderId !== null || order.status === "partially_filled") {
          yield* Effect.logWarning(`order ${order.id}: exchange order ${exchangeOrderId} is not found any more; left as ${order.status}`)
          return
        }
        if ((yield* x.ageMs(order)) > maxAgeMs) {
          yield* finish(
            order,
            "failed",
            `not placed: no order ${clientOrderId} exists at the exchange, and the order is older than SIGNAL_MAX_AGE_SECONDS (${config.orders.signalMaxAgeSeconds} s)`
          )
          return
        }
        yield* resend(order, clientOrderId).pipe(
          Effect.catch((e) => Effect.logWarning(`order ${order.id}: resend failed: ${e instanceof Refused ? e.reason : e.message}`))
        )
      })

      const recordProtectiveFill = Effect.fn("OrderExecutor.recordProtectiveFill")(function*(
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
          quantity: event.quantity,
          price: event.price,
          reason: `${what} of order ${parent.id} triggered at ${plain(event.price)}`,
          fill: {
            positionSide: bookedSide(event.positionSide),
            fillKey: `${exchange.name}:${event.exchangeOrderId}:${plain(event.quantity)}`,
            quantity: event.quantity,
            price: event.price,
            fee: event.fee,
            feeAsset: event.feeAsset,
            // Triggers fire on market prices, at BingX and in the paper exchange alike.
            priceSource: "exchange",
            filledAt: event.filledAt
          }
        })
        if (recorded === undefined) return
        yield* Effect.logInfo(`order ${recorded.order.id}: ${what} of order ${parent.id} filled ${plain(event.quantity)} @ ${plain(event.price)}`)
        yield* publishFill(recorded.order, recorded.fill)
        yield* notifyUpdate(recorded.order, recorded.fill.priceSource)
      })

      return OrderExecutor.of({ execute, reconcile, recordProtectiveFill, finish, clientOrderIdPrefix: prefix })
    })

  /** Needs AppConfig, SqlClient, Exchange, OrderRepo, Breaker, BotSettings, Notifier, FillEvents. */
  static readonly layer = (options: ExecutorOptions = {}) => Layer.effect(OrderExecutor, OrderExecutor.make(options))
}
