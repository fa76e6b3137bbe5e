/**
 * The prom-client bridge: every catalog name with its # TYPE on the right exporter, the seed's
 * contract (names and types), histograms with cumulative buckets consistent with _sum/_count,
 * labels rendered and escaped, Node process metrics, and render failures as a 500 with a message.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { parseExposition, type Sample } from "../../scripts/lib/exposition.ts"
import { AppConfig } from "../../src/config.ts"
import { BotMetricsListener, layerBotMetricsServer } from "../../src/http/servers.ts"
import * as M from "../../src/telemetry/metrics.ts"
import { Prometheus } from "../../src/telemetry/prometheus.ts"

const render = (exporter: M.Exporter) =>
  Effect.gen(function*() {
    const prometheus = yield* Prometheus
    return yield* prometheus.render(exporter)
  })

const renderParsed = (exporter: M.Exporter) => Effect.map(render(exporter), (r) => parseExposition(r.body))

/** The seed's table (docs/observability.md): name → Prometheus type. */
const SEED_CONTRACT: Record<string, { type: string; exporter: M.Exporter; labels: ReadonlyArray<string> }> = {
  tradingview_signals_ingested_total: { type: "counter", exporter: "backend", labels: ["symbol", "action"] },
  tradingview_signal_ingest_duration_seconds: { type: "histogram", exporter: "backend", labels: ["symbol"] },
  tvtelegrambingx_signal_queue_depth: { type: "gauge", exporter: "backend", labels: ["queue"] },
  tvtelegrambingx_order_transitions_total: { type: "counter", exporter: "backend", labels: ["symbol", "status"] },
  tvtelegrambingx_order_notional_usd_total: { type: "counter", exporter: "backend", labels: ["symbol", "action"] },
  tvtelegrambingx_realised_pnl_usd: { type: "gauge", exporter: "backend", labels: ["symbol"] },
  tvtelegrambingx_realised_pnl_total_usd: { type: "gauge", exporter: "backend", labels: [] },
  tvtelegrambingx_bot_backend_requests_total: { type: "counter", exporter: "bot", labels: ["method", "path", "status"] },
  tvtelegrambingx_bot_backend_request_duration_seconds: { type: "histogram", exporter: "bot", labels: ["method", "path"] },
  tvtelegrambingx_bot_updates_total: { type: "counter", exporter: "bot", labels: ["type"] }
}

const PROM_TYPE: Record<string, string> = { Counter: "counter", Gauge: "gauge", Histogram: "histogram" }

describe("catalog", () => {
  it("holds every seed metric with the seed's type, exporter and labels", () => {
    for (const [name, expected] of Object.entries(SEED_CONTRACT)) {
      const entry = M.catalog.find((e) => e.metric.id === name)
      expect(entry, name).toBeDefined()
      expect(PROM_TYPE[entry!.metric.type], name).toBe(expected.type)
      expect(entry!.exporter, name).toBe(expected.exporter)
      expect(entry!.labels, name).toEqual(expected.labels)
    }
  })

  it("names are unique, valid, declare their labels, and counters end in _total", () => {
    const ids = M.catalog.map((e) => e.metric.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const { metric, labels } of M.catalog) {
      expect(metric.id).toMatch(/^[a-z_][a-z0-9_]*$/)
      expect(metric.description?.length ?? 0, metric.id).toBeGreaterThan(10)
      expect(labels, `${metric.id} declares its labels`).toBeDefined()
      for (const label of labels ?? []) expect(label).toMatch(/^[a-z_][a-z0-9_]*$/)
      if (metric.type === "Counter") expect(metric.id).toMatch(/_total$/)
      if (metric.type === "Histogram") expect(metric.id).toMatch(/_seconds$/)
      expect(["Counter", "Gauge", "Histogram"]).toContain(metric.type)
    }
  })

  it("ingest latency buckets fit a fast path: 1 ms to 10 s, increasing", () => {
    expect(M.FAST_PATH_BUCKETS[0]).toBe(0.001)
    expect(M.FAST_PATH_BUCKETS[M.FAST_PATH_BUCKETS.length - 1]).toBe(10)
    for (let i = 1; i < M.FAST_PATH_BUCKETS.length; i++) {
      expect(M.FAST_PATH_BUCKETS[i]!).toBeGreaterThan(M.FAST_PATH_BUCKETS[i - 1]!)
    }
  })
})

layer(Prometheus.layer)("bridge over the app catalog", (it) => {
  it.effect("every catalog name appears with its # TYPE on its own exporter only, before any use", () =>
    Effect.gen(function*() {
      const backend = yield* renderParsed("backend")
      const bot = yield* renderParsed("bot")
      for (const { metric, exporter } of M.catalog) {
        const mine = exporter === "backend" ? backend : bot
        const other = exporter === "backend" ? bot : backend
        expect(mine.families.get(metric.id)?.type, metric.id).toBe(PROM_TYPE[metric.type])
        expect(mine.families.get(metric.id)?.help, metric.id).toBe(metric.description)
        expect(other.families.has(metric.id), `${metric.id} not on the ${exporter === "backend" ? "bot" : "backend"} exporter`)
          .toBe(false)
      }
      // the unlabelled gauge is there at 0 from the start
      expect(backend.families.get("tvtelegrambingx_realised_pnl_total_usd")?.samples).toEqual([
        { name: "tvtelegrambingx_realised_pnl_total_usd", labels: {}, value: 0 }
      ])
      // Node process metrics on both
      for (const scrape of [backend, bot]) {
        expect(scrape.families.get("process_cpu_user_seconds_total")?.type).toBe("counter")
        expect(scrape.families.get("nodejs_eventloop_lag_seconds")?.type).toBe("gauge")
        expect(scrape.families.get("nodejs_heap_size_used_bytes")?.type).toBe("gauge")
      }
      const { contentType } = yield* render("backend")
      expect(contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
    }))

  it.effect("counters and gauges with labels", () =>
    Effect.gen(function*() {
      yield* Metric.update(Metric.withAttributes(M.signalsIngested, { symbol: "BTC-USDT", action: "buy" }), 1)
      yield* Metric.update(Metric.withAttributes(M.signalsIngested, { symbol: "BTC-USDT", action: "buy" }), 1)
      yield* Metric.update(Metric.withAttributes(M.signalsIngested, { symbol: "ETH-USDT", action: "sell" }), 1)
      yield* Metric.update(Metric.withAttributes(M.realisedPnl, { symbol: "BTC-USDT" }), -12.5)
      yield* Metric.update(M.realisedPnlTotal, -12.5)
      yield* Metric.update(Metric.withAttributes(M.botUpdates, { type: "callback_query" }), 1)
      const backend = yield* renderParsed("backend")
      expect(backend.families.get("tradingview_signals_ingested_total")?.samples).toEqual(expect.arrayContaining([
        { name: "tradingview_signals_ingested_total", labels: { symbol: "BTC-USDT", action: "buy" }, value: 2 },
        { name: "tradingview_signals_ingested_total", labels: { symbol: "ETH-USDT", action: "sell" }, value: 1 }
      ]))
      expect(backend.families.get("tvtelegrambingx_realised_pnl_usd")?.samples).toContainEqual(
        { name: "tvtelegrambingx_realised_pnl_usd", labels: { symbol: "BTC-USDT" }, value: -12.5 }
      )
      expect(backend.families.get("tvtelegrambingx_realised_pnl_total_usd")?.samples).toEqual([
        { name: "tvtelegrambingx_realised_pnl_total_usd", labels: {}, value: -12.5 }
      ])
      const bot = yield* renderParsed("bot")
      expect(bot.families.get("tvtelegrambingx_bot_updates_total")?.samples).toContainEqual(
        { name: "tvtelegrambingx_bot_updates_total", labels: { type: "callback_query" }, value: 1 }
      )
      // the text itself, as Prometheus reads it
      const { body } = yield* render("backend")
      expect(body).toContain(`tradingview_signals_ingested_total{symbol="BTC-USDT",action="buy"} 2\n`)
      expect(body).toContain("# TYPE tradingview_signals_ingested_total counter\n")
    }))

  it.effect("histograms: cumulative buckets 1 ms … 10 s and +Inf, consistent with _sum and _count", () =>
    Effect.gen(function*() {
      const observations = [0.0004, 0.001, 0.003, 0.02, 0.02, 0.3, 7, 42]
      const histogram = Metric.withAttributes(M.signalIngestDuration, { symbol: "SOL-USDT" })
      for (const o of observations) yield* Metric.update(histogram, o)
      const backend = yield* renderParsed("backend")
      const family = backend.families.get("tradingview_signal_ingest_duration_seconds")!
      expect(family.type).toBe("histogram")
      const mine = (s: Sample) => s.labels["symbol"] === "SOL-USDT"
      const buckets = family.samples.filter((s) => s.name.endsWith("_bucket") && mine(s))
      const les = buckets.map((b) => b.labels["le"])
      expect(les).toEqual([...M.FAST_PATH_BUCKETS.map(String), "+Inf"])
      // each bucket counts the observations <= its bound (cumulative, never decreasing)
      for (const bucket of buckets) {
        const bound = bucket.labels["le"] === "+Inf" ? Number.POSITIVE_INFINITY : Number(bucket.labels["le"])
        expect(bucket.value, `le=${bucket.labels["le"]}`).toBe(observations.filter((o) => o <= bound).length)
      }
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value)
      const count = family.samples.find((s) => s.name.endsWith("_count") && mine(s))!
      const sum = family.samples.find((s) => s.name.endsWith("_sum") && mine(s))!
      expect(count.value).toBe(observations.length)
      expect(buckets[buckets.length - 1]!.value).toBe(count.value)
      expect(sum.value).toBeCloseTo(observations.reduce((a, b) => a + b, 0), 9)
      // labels of the series are kept next to `le`
      expect(buckets[0]!.labels).toEqual({ symbol: "SOL-USDT", le: "0.001" })
      expect(count.labels).toEqual({ symbol: "SOL-USDT" })
    }))

  it.effect("label values are escaped as the text format requires", () =>
    Effect.gen(function*() {
      yield* Metric.update(Metric.withAttributes(M.webhookRejections, { reason: "bad \"body\"\\n\nline" }), 1)
      const { body } = yield* render("backend")
      expect(body).toContain(`tradingview_webhook_rejections_total{reason="bad \\"body\\"\\\\n\\nline"} 1`)
      const parsed = parseExposition(body)
      expect(parsed.families.get("tradingview_webhook_rejections_total")?.samples).toContainEqual(
        { name: "tradingview_webhook_rejections_total", labels: { reason: "bad \"body\"\\n\nline" }, value: 1 }
      )
    }))
})

describe("bridge over other metrics", () => {
  const bigCounter = Metric.counter("test_big_total", { description: "a bigint counter", bigint: true, incremental: true })
  const oddLabels = Metric.counter("test_odd_labels_total", { description: "attribute keys that are not label names" })
  const frequency = Metric.frequency("test_frequency", { description: "not renderable" })

  it.effect("bigint counters, and attribute keys made valid label names", () =>
    Effect.gen(function*() {
      yield* Metric.update(bigCounter, 5n)
      yield* Metric.update(Metric.withAttributes(oddLabels, { "http.route": "/orders/:id", "9lives": "x" }), 1)
      const parsed = yield* renderParsed("backend").pipe(Effect.provide(Prometheus.layerWith([
        { metric: bigCounter, exporter: "backend", labels: [] },
        { metric: oddLabels, exporter: "backend", labels: ["http_route", "_9lives"] }
      ])))
      expect(parsed.families.get("test_big_total")?.samples).toEqual([{ name: "test_big_total", labels: {}, value: 5 }])
      expect(parsed.families.get("test_odd_labels_total")?.samples).toEqual([
        { name: "test_odd_labels_total", labels: { http_route: "/orders/:id", _9lives: "x" }, value: 1 }
      ])
    }))

  it.effect("a metric that cannot be rendered is a MetricsRenderError with a message (no throw)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(render("bot").pipe(Effect.provide(Prometheus.layerWith([
        { metric: frequency, exporter: "bot", labels: [] }
      ]))))
      expect(error._tag).toBe("MetricsRenderError")
      expect(error.message).toBe(
        "could not render metrics: metric test_frequency is a Frequency; /metrics renders counters, gauges and histograms only"
      )
    }))

  const brokenExporter = layerBotMetricsServer.pipe(
    Layer.provide(Prometheus.layerWith([{ metric: frequency, exporter: "bot", labels: [] }])),
    Layer.provide(AppConfig.layerFrom({ BOT_METRICS_HOST: "127.0.0.1", BOT_METRICS_PORT: "0" }))
  )

  it.live("the exporter answers a render failure with 500 and the message, and keeps serving", () =>
    Effect.gen(function*() {
      const listener = yield* Effect.serviceOption(BotMetricsListener)
      expect(listener._tag).toBe("Some")
      const url = listener._tag === "Some" ? listener.value.url : ""
      for (let i = 0; i < 2; i++) {
        const response = yield* Effect.promise(() => fetch(`${url}/metrics`))
        expect(response.status).toBe(500)
        expect(yield* Effect.promise(() => response.json())).toEqual({
          error: "could not render metrics: metric test_frequency is a Frequency; /metrics renders counters, gauges and histograms only",
          fields: []
        })
      }
      const health = yield* Effect.promise(() => fetch(`${url}/health`))
      expect(health.status).toBe(200)
    }).pipe(Effect.provide(brokenExporter)))
})
