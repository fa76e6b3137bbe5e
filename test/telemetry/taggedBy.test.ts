/**
 * `taggedBy`: one tagged metric per label set, reused; updates land on the series of their labels
 * exactly as with `Metric.withAttributes`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { taggedBy } from "../../src/telemetry/metrics.ts"

describe("taggedBy", () => {
  it.effect("reuses the tagged metric of a label set; each set keeps its own series", () =>
    Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      const counter = Metric.counter("test_tagged_total", { incremental: true })
      const by = taggedBy(counter)
      expect(by({ symbol: "BTC-USDT", action: "buy" })).toBe(by({ symbol: "BTC-USDT", action: "buy" }))
      expect(by({ symbol: "BTC-USDT", action: "buy" })).not.toBe(by({ symbol: "BTC-USDT", action: "sell" }))
      yield* Effect.gen(function*() {
        yield* Metric.update(by({ symbol: "BTC-USDT", action: "buy" }), 1)
        yield* Metric.update(by({ symbol: "ETH-USDT", action: "buy" }), 1)
        yield* Metric.update(by({ symbol: "BTC-USDT", action: "buy" }), 2)
        // the same series as a plain withAttributes update
        yield* Metric.update(Metric.withAttributes(counter, { symbol: "BTC-USDT", action: "buy" }), 4)
        const series = (yield* Metric.snapshot).filter((s) => s.id === "test_tagged_total")
          .map((s) => [s.attributes, (s.state as { count: number }).count])
        expect(series).toEqual(expect.arrayContaining([
          [{ symbol: "BTC-USDT", action: "buy" }, 7],
          [{ symbol: "ETH-USDT", action: "buy" }, 1]
        ]))
        expect(series).toHaveLength(2)
      }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
    }))

  it("stays bounded: past the limit the cache starts over (updates still correct)", () => {
    const by = taggedBy(Metric.counter("test_bounded_total"), 3)
    const first = by({ reason: "a" })
    for (const r of ["b", "c", "d"]) by({ reason: r })
    expect(by({ reason: "a" })).not.toBe(first)
  })
})
