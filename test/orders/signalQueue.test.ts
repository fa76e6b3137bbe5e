import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { TestClock } from "effect/testing"
import { queuedOrder, queueWaitSeconds, SignalQueue, sweptOrder } from "../../src/orders/SignalQueue.ts"
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

  it.effect("items are stamped by Effect's Clock and their wait is read on it: the TestClock decides", () =>
    Effect.gen(function*() {
      const committedAt = Date.parse("2026-01-02T03:04:05.000Z")
      yield* TestClock.setTime(committedAt)
      const queued = yield* queuedOrder({ orderId: "1", symbol: "BTC-USDT" })
      const swept = yield* sweptOrder({ orderId: "2", symbol: "ETH-USDT" })
      expect(queued.enqueuedAt).toBe(committedAt)
      expect(swept.enqueuedAt).toBe(committedAt)
      expect(yield* queueWaitSeconds(queued)).toBe(0)
      yield* TestClock.adjust("2500 millis")
      expect(yield* queueWaitSeconds(queued)).toBe(2.5)
      expect(yield* queueWaitSeconds(swept)).toBe(2.5)
      // A clock set back (NTP step) is no negative wait.
      yield* TestClock.setTime(committedAt - 1_000)
      expect(yield* queueWaitSeconds(queued)).toBe(0)
    }))
})
