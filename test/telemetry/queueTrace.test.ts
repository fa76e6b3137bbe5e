/**
 * The queue-hop helpers with Effect's own tracer (telemetry disabled): a producer/consumer on the
 * real SignalQueue. The OTLP version of the same hop is in tracing.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, type Tracer } from "effect"
import { type QueuedOrder, queuedOrder, SignalQueue, sweptOrder } from "../../src/orders/SignalQueue.ts"
import { continueQueuedTrace, spanForQueue } from "../../src/telemetry/queueTrace.ts"

const parentId = (span: Tracer.Span) => Option.getOrUndefined(Option.map(span.parent, (p) => p.spanId))

const handleSignal = Effect.fn("OrderService.handle_signal")(function*(_item: QueuedOrder) {
  return yield* Effect.currentSpan
})

const consumeOne = Effect.gen(function*() {
  const queue = yield* SignalQueue
  const item = yield* queue.take
  return yield* handleSignal(item).pipe(continueQueuedTrace(item))
})

describe("queue hop", () => {
  it.effect("the consumer's span is a child of the span that queued the item", () =>
    Effect.gen(function*() {
      const consumer = yield* Effect.forkChild(consumeOne)
      const producerSpan = yield* Effect.fn("SignalService.ingest")(function*() {
        const queue = yield* SignalQueue
        yield* queue.offer(yield* queuedOrder({ orderId: "7", symbol: "BTC-USDT" }))
        return yield* Effect.currentSpan
      })()
      const consumerSpan = yield* Fiber.join(consumer)
      expect(consumerSpan.name).toBe("OrderService.handle_signal")
      expect(consumerSpan.traceId).toBe(producerSpan.traceId)
      expect(parentId(consumerSpan)).toBe(producerSpan.spanId)
    }).pipe(Effect.provide(SignalQueue.layerWithCapacity(4))))

  it.effect("the span on the item wins over whatever span the consumer runs in", () =>
    Effect.gen(function*() {
      const queue = yield* SignalQueue
      const producerSpan = yield* Effect.fn("SignalService.ingest")(function*() {
        yield* queue.offer(yield* queuedOrder({ orderId: "8", symbol: "ETH-USDT" }))
        return yield* Effect.currentSpan
      })()
      const consumerSpan = yield* consumeOne.pipe(Effect.withSpan("OrderService.loop"))
      expect(consumerSpan.traceId).toBe(producerSpan.traceId)
      expect(parentId(consumerSpan)).toBe(producerSpan.spanId)
    }).pipe(Effect.provide(SignalQueue.layerWithCapacity(4))))

  it.effect("an item without a span (found by the DB sweep) starts a new trace", () =>
    Effect.gen(function*() {
      const queue = yield* SignalQueue
      // outside any span there is nothing to carry
      expect(yield* spanForQueue).toBeUndefined()
      // inside one (the sweep runs in `OrderService.reconcile`) a swept order still carries none
      yield* Effect.flatMap(sweptOrder({ orderId: "9", symbol: "SOL-USDT" }), queue.offer).pipe(Effect.withSpan("OrderService.reconcile"))
      const consumerSpan = yield* consumeOne
      expect(consumerSpan.name).toBe("OrderService.handle_signal")
      expect(parentId(consumerSpan)).toBeUndefined()
    }).pipe(Effect.provide(SignalQueue.layerWithCapacity(4))))
})
