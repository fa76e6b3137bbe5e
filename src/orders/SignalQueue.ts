/**
 * The fast path between ingest and the order actor: a bounded in-memory queue of order ids.
 *
 * It is only the fast path — Postgres is the source of truth. `offer` never waits: when the queue is
 * full it answers `false` and the actor's periodic DB sweep picks the order up instead. Items carry
 * the span of the request that committed them, so one trace runs from webhook to exchange.
 *
 * Items are made only by `queuedOrder` (a producer, in the span that committed the order) and
 * `sweptOrder` (the DB sweep: no span, a new trace); both stamp `enqueuedAt` from Effect's `Clock`,
 * and the consumer measures the wait with `queueWaitSeconds` on the same clock, so a test's
 * `TestClock` decides how long an item waited.
 */
import { Clock, Context, Effect, Layer, Metric, Queue, type Tracer } from "effect"
import { AppConfig } from "../config.ts"
import { signalQueueDepth } from "../telemetry/metrics.ts"
import { spanForQueue } from "../telemetry/queueTrace.ts"

export interface QueuedOrder {
  /** Our order id (bigint as a decimal string). */
  readonly orderId: string
  readonly symbol: string
  /** `Clock.currentTimeMillis` when the order was queued (for the queue-wait histogram). */
  readonly enqueuedAt: number
  /** The span that committed the order, if any (ingest or approval). */
  readonly parentSpan: Tracer.AnySpan | undefined
}

/** Which order an item is for. */
export interface QueuedOrderRef {
  readonly orderId: string
  readonly symbol: string
}

/** The item for an order committed in the current span: stamped now, carrying that span. */
export const queuedOrder = (order: QueuedOrderRef): Effect.Effect<QueuedOrder> =>
  Effect.map(
    Effect.all({ enqueuedAt: Clock.currentTimeMillis, parentSpan: spanForQueue }),
    ({ enqueuedAt, parentSpan }) => ({ orderId: order.orderId, symbol: order.symbol, enqueuedAt, parentSpan })
  )

/** The item for an order the DB sweep found: stamped now, no span (its execution starts a new trace). */
export const sweptOrder = (order: QueuedOrderRef): Effect.Effect<QueuedOrder> =>
  Effect.map(Clock.currentTimeMillis, (enqueuedAt) => ({
    orderId: order.orderId,
    symbol: order.symbol,
    enqueuedAt,
    parentSpan: undefined
  }))

/** Seconds `item` has waited since it was stamped (0 if the clock went back). */
export const queueWaitSeconds = (item: QueuedOrder): Effect.Effect<number> =>
  Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, now - item.enqueuedAt) / 1000)

export interface SignalQueueShape {
  /** Non-blocking: false when the queue is full (the DB sweep will find the order). */
  readonly offer: (item: QueuedOrder) => Effect.Effect<boolean>
  readonly take: Effect.Effect<QueuedOrder>
  readonly size: Effect.Effect<number>
}

const depth = Metric.withAttributes(signalQueueDepth, { queue: "signals" })

export class SignalQueue extends Context.Service<SignalQueue, SignalQueueShape>()("tvtelegrambingx/SignalQueue") {
  static readonly make = (capacity: number) =>
    Effect.gen(function*() {
      const queue = yield* Queue.dropping<QueuedOrder>(capacity)
      yield* Effect.addFinalizer(() => Queue.shutdown(queue))
      yield* Metric.update(depth, 0)
      const syncDepth = Effect.flatMap(Queue.size(queue), (n) => Metric.update(depth, n))
      return SignalQueue.of({
        offer: (item) => Effect.tap(Queue.offer(queue, item), () => syncDepth),
        take: Effect.tap(Queue.take(queue), () => syncDepth),
        size: Queue.size(queue)
      })
    })

  /** Capacity from SIGNAL_QUEUE_CAPACITY. */
  static readonly layer = Layer.effect(
    SignalQueue,
    Effect.gen(function*() {
      const config = yield* AppConfig
      return yield* SignalQueue.make(config.orders.queueCapacity)
    })
  )
  static readonly layerWithCapacity = (capacity: number) => Layer.effect(SignalQueue, SignalQueue.make(capacity))
}
