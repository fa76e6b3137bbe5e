/**
 * The pure parts of `npm run bench` (the benchmark itself is not part of `npm test`): the app runs
 * with the Node flags it is deployed with, histogram arithmetic on `/metrics` scrapes, percentiles.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { delta, figuresOf, histogramQuantile, histogramsOf } from "../../scripts/bench/histograms.ts"
import { ROOT, startNodeFlags } from "../../scripts/bench/processes.ts"
import { groupOf } from "../../scripts/bench/profile.ts"
import { quantile, summarise } from "../../scripts/bench/util.ts"

describe("bench: the app's Node flags", () => {
  it("come from `npm start`, and the Docker image starts the app with the same ones", () => {
    const flags = startNodeFlags()
    expect(flags.length).toBeGreaterThan(0)
    for (const flag of flags) expect(flag).toMatch(/^--[a-z-]+(=\S+)?$/)
    const dockerfile = Fs.readFileSync(Path.join(ROOT, "Dockerfile"), "utf8")
    const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)
    expect(entry).not.toBeNull()
    expect(JSON.parse(entry![1]!)).toEqual(["node", ...flags, "src/main.ts"])
  })
})

const exposition = (buckets: ReadonlyArray<readonly [string, number]>, count: number, sum: number, extra = "") => `
# HELP tvtelegrambingx_exchange_request_duration_seconds Latency.
# TYPE tvtelegrambingx_exchange_request_duration_seconds histogram
${buckets.map(([le, c]) => `tvtelegrambingx_exchange_request_duration_seconds_bucket{endpoint="/a",le="${le}"} ${c}`).join("\n")}
tvtelegrambingx_exchange_request_duration_seconds_sum{endpoint="/a"} ${sum}
tvtelegrambingx_exchange_request_duration_seconds_count{endpoint="/a"} ${count}
${extra}
# TYPE tradingview_signals_ingested_total counter
tradingview_signals_ingested_total{symbol="BTC-USDT",action="buy"} 3
`

describe("bench: histograms from /metrics", () => {
  it("the difference of two scrapes, its mean and interpolated quantiles", () => {
    const before = histogramsOf(exposition([["0.001", 1], ["0.005", 2], ["0.01", 2], ["+Inf", 2]], 2, 0.004))
    const after = histogramsOf(exposition([["0.001", 1], ["0.005", 52], ["0.01", 101], ["+Inf", 102]], 102, 0.754))
    const d = delta(before, after).get("tvtelegrambingx_exchange_request_duration_seconds")!
    expect(d.count).toBe(100)
    expect(d.sum).toBeCloseTo(0.75, 10)
    expect(d.buckets).toEqual([[0.001, 0], [0.005, 50], [0.01, 99], [Number.POSITIVE_INFINITY, 100]])
    // 50th of 100 lies at the top of (1 ms, 5 ms]; 99th at the top of (5 ms, 10 ms]
    expect(histogramQuantile(d, 0.5)).toBeCloseTo(0.005, 10)
    expect(histogramQuantile(d, 0.25)).toBeCloseTo(0.003, 10)
    expect(histogramQuantile(d, 0.99)).toBeCloseTo(0.01, 10)
    // beyond the last finite bound: the last finite bound
    expect(histogramQuantile(d, 1)).toBe(0.01)
    expect(figuresOf(d)).toEqual({ count: 100, meanMs: 7.5, p50Ms: 5, p99Ms: 10 })
    expect(figuresOf(undefined).count).toBe(0)
  })

  it("sums label sets, or keeps one series per value of a chosen label", () => {
    const two = exposition([["0.001", 1], ["+Inf", 1]], 1, 0.001,
      `tvtelegrambingx_exchange_request_duration_seconds_bucket{endpoint="/b",le="0.001"} 0
tvtelegrambingx_exchange_request_duration_seconds_bucket{endpoint="/b",le="+Inf"} 4
tvtelegrambingx_exchange_request_duration_seconds_sum{endpoint="/b"} 2
tvtelegrambingx_exchange_request_duration_seconds_count{endpoint="/b"} 4`)
    const summed = histogramsOf(two).get("tvtelegrambingx_exchange_request_duration_seconds")!
    expect([summed.count, summed.sum]).toEqual([5, 2.001])
    const split = histogramsOf(two, { tvtelegrambingx_exchange_request_duration_seconds: "endpoint" })
    expect(split.get("tvtelegrambingx_exchange_request_duration_seconds{endpoint=/b}")?.count).toBe(4)
    expect(split.get("tvtelegrambingx_exchange_request_duration_seconds{endpoint=/a}")?.count).toBe(1)
    // counters are not histograms
    expect([...histogramsOf(two).keys()]).toEqual(["tvtelegrambingx_exchange_request_duration_seconds"])
  })
})

describe("bench: percentiles and profiles", () => {
  it("nearest-rank quantiles and a latency summary", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i)
    expect(quantile(Float64Array.from(values).sort(), 0.5)).toBe(50)
    expect(quantile([], 0.5)).toBeNaN()
    expect(summarise(values)).toEqual({ count: 100, mean: 50.5, p50: 50, p90: 90, p99: 99, max: 100 })
  })

  it("groups profile frames by package or source file", () => {
    expect(groupOf("file:///app/node_modules/@effect/sql-pg/dist/PgConnection.js", "get")).toBe("@effect/sql-pg")
    expect(groupOf("file:///app/node_modules/effect/dist/internal/core.js", "x")).toBe("effect")
    expect(groupOf("file:///app/src/signals/routes.ts", "webhook")).toBe("src/signals/routes.ts")
    expect(groupOf("node:internal/streams/writable", "write")).toBe("node:internal/streams")
    expect(groupOf("", "(idle)")).toBe("((idle))")
  })
})
