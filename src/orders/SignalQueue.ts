/**
 * The fast path between ingest and the order actor: a bounded in-memory queue of order ids.
 *
 * It is only the fast path — Postgres is the source of truth. `offer` never waits: when the queue is
 * full it answers `false` and the actor's periodic DB sweep picks the order up instead. Items carry
 * the span of the request that committed them, so one trace runs from webhook to exchange.
 */
import { Context, Effect, Layer, Metric, Queue, type Tracer } from "effect"
import { AppConfig } from "../config.ts"
import { signalQueueDepth } from "../telemetry/metrics.ts"

export interface QueuedOrder {
  /** Our order id (bigint as a decimal string). */
  readonly orderId: string
  readonly symbol: string
  /** `Date.now()` when the order was committed (for the queue-wait histogram). */
  readonly enqueuedAt: number
  /** The span that committed the order, if any (ingest or approval). */
  readonly parentSpan: Tracer.AnySpan | undefined
}

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
      return yield* SignalQueue.make(config.trading.queueCapacity)
    })
  )
  static readonly layerWithCapacity = (capacity: number) => Layer.effect(SignalQueue, SignalQueue.make(capacity))
}
