import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { SignalQueue } from "../../src/orders/SignalQueue.ts"
import { signalQueueDepth } from "../../src/telemetry/metrics.ts"

const item = (orderId: string) => ({ orderId, symbol: "BTC-USDT", enqueuedAt: 0, parentSpan: undefined })
const depth = Metric.value(Metric.withAttributes(signalQueueDepth, { queue: "signals" }))

describe("SignalQueue", () => {
  it.effect("offer never waits: false when full; depth is tracked", () =>
    Effect.gen(function*() {
      const queue = yield* SignalQueue
      expect(yield* queue.offer(item("1"))).toBe(true)
      expect(yield* queue.offer(item("2"))).toBe(true)
      expect(yield* queue.offer(item("3"))).toBe(false)
      expect(yield* queue.size).toBe(2)
      expect((yield* depth).value).toBe(2)
      expect((yield* queue.take).orderId).toBe("1")
      expect((yield* depth).value).toBe(1)
      expect(yield* queue.offer(item("4"))).toBe(true)
      expect((yield* queue.take).orderId).toBe("2")
      expect((yield* queue.take).orderId).toBe("4")
      expect((yield* depth).value).toBe(0)
    }).pipe(Effect.provide(SignalQueue.layerWithCapacity(2))))
})
