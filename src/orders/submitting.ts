/**
 * Sending a `submitted` order's planned request until the exchange settles it one way or another.
 *
 * Invariants:
 * - Only the planned request is ever sent (the one stored with `pending → submitted`): a resend
 *   reuses its clientOrderId, quantity, stop-loss, take-profit and price hint unchanged.
 * - Refused → `rejected`. Transient (not placed) → wait and resend while the order is young enough,
 *   else `expired`.
 * - Unknown outcome (timeout, 5xx, 101500, a success answer that does not name the order) → query
 *   by clientOrderId before anything is resent: found → settle it; not found → resend after a
 *   bounded wait (seconds, not the next reconciliation pass); unresolved (the query keeps failing)
 *   → left `submitted` for reconciliation. A duplicate is impossible: the exchange refuses a
 *   repeated clientOrderId, which the exchange layer answers with the existing order.
 */
import { Clock, Effect, Metric } from "effect"
import type { Order } from "../domain/order.ts"
import type { OrderRequest } from "../domain/orderPlan.ts"
import type { ExchangeOrder } from "../exchange/Exchange.ts"
import { orderSubmitDuration, taggedBy } from "../telemetry/metrics.ts"
import type { Execution } from "./execution.ts"
import type { Settling } from "./settling.ts"

type Lookup =
  | { readonly _tag: "Found"; readonly order: ExchangeOrder }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Unresolved" }

/** Attempts at querying an order by clientOrderId after an unknown outcome. */
const LOOKUP_ATTEMPTS = 5

export const makeSubmitting = (x: Execution, settling: Settling) => {
  const { exchange, repo, guard, backoff, failure } = x
  const submitDurationBy = taggedBy(orderSubmitDuration)
  const maxAgeSeconds = x.config.orders.signalMaxAgeSeconds

  /** Looks an order up by clientOrderId after an unknown outcome. */
  const lookup = Effect.fn("OrderExecutor.lookup")(function*(order: Order, clientOrderId: string) {
    for (let n = 0; n < LOOKUP_ATTEMPTS; n++) {
      const result = yield* guard(exchange.queryOrder(order.symbol, { clientOrderId })).pipe(Effect.result)
      if (result._tag === "Success") return { _tag: "Found", order: result.success } satisfies Lookup as Lookup
      const e = result.failure
      if (e._tag === "ExchangeOrderNotFound") return { _tag: "NotFound" } as Lookup
      if (e._tag === "ExchangeRejectedError") {
        yield* Effect.logWarning(`order ${order.id}: query by clientOrderId refused: ${e.message}`)
        return { _tag: "Unresolved" } as Lookup
      }
      yield* backoff(n, e._tag === "ExchangeTransientError" ? e.retryAfterMs : undefined)
    }
    return { _tag: "Unresolved" } as Lookup
  })

  /** Sends the planned request of a `submitted` order until the exchange settles it. */
  const submit = Effect.fn("OrderExecutor.submit")(function*(initial: Order, request: OrderRequest) {
    yield* Effect.annotateCurrentSpan({ "order.id": initial.id, "order.client_order_id": request.clientOrderId })
    const started = yield* Clock.currentTimeMillis
    const observe = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Metric.update(submitDurationBy({ symbol: request.symbol }), (now - started) / 1000))
    let order = initial
    let n = 0
    while (true) {
      const result = yield* guard(exchange.placeOrder(request)).pipe(Effect.result)
      let unknown: string
      if (result._tag === "Success") {
        if (result.success.orderId !== "") {
          yield* observe
          return yield* settling.settle(order, result.success)
        }
        unknown = "the exchange answered without naming the order"
      } else {
        const e = result.failure
        if (e._tag === "ExchangeRejectedError" || e._tag === "PriceUnavailable") {
          yield* failure(request.symbol, "permanent")
          yield* observe
          yield* settling.finish(
            order,
            "rejected",
            e._tag === "PriceUnavailable" ? e.message : `the exchange refused the order: ${e.message}`
          )
          return
        }
        if (e._tag === "ExchangeTransientError") {
          yield* failure(request.symbol, "transient")
          if ((yield* x.ageMs(order)) > x.maxAgeMs) {
            yield* observe
            yield* settling.finish(order, "expired", `not placed within SIGNAL_MAX_AGE_SECONDS (${maxAgeSeconds} s): ${e.message}`)
            return
          }
          yield* Effect.logWarning(`order ${order.id}: ${e.message}; will resend ${request.clientOrderId}`)
          yield* backoff(n++, e.retryAfterMs)
          continue
        }
        unknown = e.message
      }
      yield* failure(request.symbol, "unknown")
      yield* Effect.logWarning(`order ${order.id}: outcome unknown (${unknown}); querying ${request.clientOrderId} before anything else`)
      const found = yield* lookup(order, request.clientOrderId)
      if (found._tag === "Found") {
        yield* observe
        return yield* settling.settle(order, found.order)
      }
      if (found._tag === "Unresolved") {
        yield* Effect.logWarning(`order ${order.id}: still unknown; reconciliation will query ${request.clientOrderId} again`)
        return
      }
      if ((yield* x.ageMs(order)) > x.maxAgeMs) {
        yield* observe
        yield* settling.finish(
          order,
          "failed",
          `not placed: the outcome was unknown (${unknown}) and no order ${request.clientOrderId} exists at the exchange; older than SIGNAL_MAX_AGE_SECONDS`
        )
        return
      }
      order = (yield* repo.get(order.id)) ?? order
      if (order.status !== "submitted") return
      yield* backoff(n++, undefined)
      yield* Effect.logWarning(`order ${order.id}: ${request.clientOrderId} is not at the exchange; sending the planned request again`)
    }
  })

  return { submit }
}
