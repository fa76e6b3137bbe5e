/**
 * Orders as operators and the bot use them: read (`get`, `list`), decide (`approve`, `reject`) and
 * the exchange circuit breaker's status. The HTTP routes (`routes.ts`) and the Telegram bot call
 * these same methods; they take and return domain records (`OrderWithFills`) — the wire shape is
 * produced at the HTTP edge (`OrderView.ts`). An id that is not one we could have issued is simply
 * not found.
 *
 * - approve: `awaiting_approval → pending` (then enqueued for the actor); an order created more than
 *   APPROVAL_TIMEOUT_SECONDS ago becomes `expired` instead and the caller gets a conflict saying so.
 * - reject: `awaiting_approval → rejected` ("rejected by operator").
 * Both are guarded transitions (a concurrent approve/reject/expiry cannot both win) and both are
 * audited (actor, action, outcome).
 */
import { Clock, Context, Data, Effect, Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { AuditLog } from "../audit/AuditLog.ts"
import { AppConfig } from "../config.ts"
import { parseId } from "../domain/ids.ts"
import type { Fill, Order, OrderStatus, OrderWithFills } from "../domain/order.ts"
import { plainOrNull } from "../domain/decimal.ts"
import { Notifier } from "../notify/Notifier.ts"
import type { Actor } from "../settings/BotSettings.ts"
import { Breaker, type BreakerStatus } from "./Breaker.ts"
import { OrderRepo } from "./OrderRepo.ts"
import { queuedOrder, SignalQueue } from "./SignalQueue.ts"

export class OrderNotFound extends Data.TaggedError("OrderNotFound")<{
  readonly orderId: string
  readonly message: string
}> {}

/** The order is not in a state that allows the action (or it just expired). */
export class OrderConflict extends Data.TaggedError("OrderConflict")<{
  readonly orderId: string
  readonly status: OrderStatus
  readonly message: string
}> {}

export interface OrderListFilter {
  readonly status?: OrderStatus | undefined
  readonly symbol?: string | undefined
  /** 1..500, default 50. */
  readonly limit?: number | undefined
}

export interface OrderServiceShape {
  readonly get: (orderId: string) => Effect.Effect<OrderWithFills, OrderNotFound | SqlError>
  /** Newest first, with fills. */
  readonly list: (filter?: OrderListFilter) => Effect.Effect<ReadonlyArray<OrderWithFills>, SqlError>
  /** The orders a signal created (oldest first), with their fills. */
  readonly ofSignal: (signalId: string) => Effect.Effect<ReadonlyArray<OrderWithFills>, SqlError>
  readonly approve: (orderId: string, actor: Actor) => Effect.Effect<OrderWithFills, OrderNotFound | OrderConflict | SqlError>
  readonly reject: (orderId: string, actor: Actor) => Effect.Effect<OrderWithFills, OrderNotFound | OrderConflict | SqlError>
  readonly breakerStatus: Effect.Effect<BreakerStatus>
}

export const REJECTED_BY_OPERATOR = "rejected by operator"

/** Each order with its own fills (from one batch of fills). */
const withOwnFills = (orders: ReadonlyArray<Order>, fills: ReadonlyArray<Fill>): ReadonlyArray<OrderWithFills> =>
  orders.map((order) => ({ order, fills: fills.filter((f) => f.orderId === order.id) }))

export class OrderService extends Context.Service<OrderService, OrderServiceShape>()("tvtelegrambingx/OrderService") {
  static readonly make = Effect.gen(function*() {
    const config = yield* AppConfig
    const repo = yield* OrderRepo
    const queue = yield* SignalQueue
    const audit = yield* AuditLog
    const notifier = yield* Notifier
    const breaker = yield* Breaker
    const approvalTimeoutMs = config.orders.approvalTimeoutSeconds * 1000

    const withFills = (order: Order) => Effect.map(repo.fillsOf([order.id]), (fills): OrderWithFills => ({ order, fills }))

    const load = (orderId: string) =>
      Effect.gen(function*() {
        const id = parseId(orderId)
        const order = id === undefined ? undefined : yield* repo.get(id)
        if (order === undefined) return yield* new OrderNotFound({ orderId, message: `order ${orderId} not found` })
        return order
      })

    const get = Effect.fn("OrderService.get")(function*(orderId: string) {
      return yield* withFills(yield* load(orderId))
    })

    const list = Effect.fn("OrderService.list")(function*(filter: OrderListFilter = {}) {
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500)
      const orders = yield* repo.list({ status: filter.status, symbol: filter.symbol, limit })
      return withOwnFills(orders, yield* repo.fillsOf(orders.map((o) => o.id)))
    })

    const ofSignal = Effect.fn("OrderService.ofSignal")(function*(signalId: string) {
      const orders = yield* repo.bySignal(signalId)
      return withOwnFills(orders, yield* repo.fillsOf(orders.map((o) => o.id)))
    })

    const notifyUpdate = (order: Order) =>
      notifier.notify({
        _tag: "OrderUpdate",
        orderId: order.id,
        symbol: order.symbol,
        action: order.action,
        status: order.status,
        quantity: plainOrNull(order.quantity),
        price: plainOrNull(order.price),
        priceSource: null,
        reason: order.reason
      })

    const conflict = (order: Order, action: string, actor: Actor) =>
      Effect.gen(function*() {
        const message = `order ${order.id} is already ${order.status.replace("_", " ")}`
        yield* audit.record({ ...actor, action, payload: { order_id: order.id }, result: `conflict: ${message}` })
        return yield* new OrderConflict({ orderId: order.id, status: order.status, message })
      })

    /** Expires an approval that came too late; answers the conflict that says so. */
    const expireIfLate = (order: Order, action: string, actor: Actor) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (now - order.createdAt.getTime() <= approvalTimeoutMs) return
        const reason = `approval timed out: not approved within APPROVAL_TIMEOUT_SECONDS (${config.orders.approvalTimeoutSeconds} s)`
        const expired = yield* repo.transition(order.id, "awaiting_approval", "expired", { reason })
        if (expired === undefined) {
          const current = (yield* repo.get(order.id)) ?? order
          return yield* conflict(current, action, actor)
        }
        yield* notifyUpdate(expired)
        const message = `order ${order.id} expired: it was not approved within ${config.orders.approvalTimeoutSeconds} s`
        yield* audit.record({ ...actor, action, payload: { order_id: order.id }, result: `conflict: ${message}` })
        return yield* new OrderConflict({ orderId: order.id, status: "expired", message })
      })

    const approve = Effect.fn("OrderService.approve")(function*(orderId: string, actor: Actor) {
      yield* Effect.annotateCurrentSpan({ "order.id": orderId })
      const order = yield* load(orderId)
      if (order.status !== "awaiting_approval") return yield* conflict(order, "order.approve", actor)
      yield* expireIfLate(order, "order.approve", actor)
      const pending = yield* repo.transition(order.id, "awaiting_approval", "pending", { reason: undefined })
      if (pending === undefined) return yield* conflict((yield* repo.get(order.id)) ?? order, "order.approve", actor)
      yield* audit.record({ ...actor, action: "order.approve", payload: { order_id: order.id, symbol: order.symbol }, result: "ok" })
      const queued = yield* queue.offer(yield* queuedOrder({ orderId: pending.id, symbol: pending.symbol }))
      if (!queued) yield* Effect.logWarning(`signal queue full: approved order ${pending.id} will be picked up by the next sweep`)
      return yield* withFills(pending)
    })

    const reject = Effect.fn("OrderService.reject")(function*(orderId: string, actor: Actor) {
      yield* Effect.annotateCurrentSpan({ "order.id": orderId })
      const order = yield* load(orderId)
      if (order.status !== "awaiting_approval") return yield* conflict(order, "order.reject", actor)
      const rejected = yield* repo.transition(order.id, "awaiting_approval", "rejected", { reason: REJECTED_BY_OPERATOR })
      if (rejected === undefined) return yield* conflict((yield* repo.get(order.id)) ?? order, "order.reject", actor)
      yield* audit.record({ ...actor, action: "order.reject", payload: { order_id: order.id, symbol: order.symbol }, result: "ok" })
      yield* notifyUpdate(rejected)
      return yield* withFills(rejected)
    })

    return OrderService.of({ get, list, ofSignal, approve, reject, breakerStatus: breaker.status })
  })

  /** Needs AppConfig, OrderRepo, SignalQueue, AuditLog, Notifier, Breaker. */
  static readonly layer = Layer.effect(OrderService, OrderService.make)
}
