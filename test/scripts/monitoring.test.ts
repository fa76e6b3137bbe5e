/**
 * The pieces of `npm run check-monitoring` that need no promtool: PromQL name extraction, the
 * exposition parser, and monitoring/ itself — every name it references is exported by the app
 * (scraped from the real app started in-process), the dashboard and collector are well formed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { isExported, parseExposition } from "../../scripts/lib/exposition.ts"
import {
  collectorProblems,
  dashboardAsRules,
  dashboardProblems,
  readDashboard,
  referencedNames,
  ruleExpressions,
  unexported
} from "../../scripts/lib/monitoring.ts"
import { metricNames, variableQueryMetricNames } from "../../scripts/lib/promql.ts"
import { catalog } from "../../src/telemetry/metrics.ts"
import { scrapeText, startInProcessApp } from "../support/inProcessApp.ts"

/** Starting the app (embedded database) can take a while on a loaded machine. */
const APP_TIMEOUT = 120_000
const monitoring = Path.resolve(import.meta.dirname, "../../monitoring")

describe("metricNames (PromQL)", () => {
  it.each([
    ["max_over_time(tvtelegrambingx_signal_queue_depth[5m]) > 10", ["tvtelegrambingx_signal_queue_depth"]],
    [
      "histogram_quantile(0.95, sum by (le) (rate(tradingview_signal_ingest_duration_seconds_bucket{symbol=~\"BTC.*\"}[10m]))) > 1",
      ["tradingview_signal_ingest_duration_seconds_bucket"]
    ],
    [
      "sum by (path) (increase(tvtelegrambingx_bot_backend_requests_total{status!~\"2..|4..\"}[10m])) > 0",
      ["tvtelegrambingx_bot_backend_requests_total"]
    ],
    ["a_total / on (job) group_left (instance) b_info", ["a_total", "b_info"]],
    ["sum(rate(x_total[5m])) without (instance) > bool 0 and y offset 1h", ["x_total", "y"]],
    ["rate(x_total[$__rate_interval]) * 100", ["x_total"]],
    [`sum(z{environment=~"$environment", symbol=~"\${symbol}"}) or vector(0)`, ["z"]],
    ["label_replace(up, \"dst\", \"$1\", \"instance\", \"(.*):.*\")", ["up"]],
    ["{__name__=\"by_name_total\", job=\"x\"}", ["by_name_total"]],
    ["delta(tvtelegrambingx_realised_pnl_total_usd[1h]) < -500", ["tvtelegrambingx_realised_pnl_total_usd"]],
    ["1e3 * foo:recorded:rate5m", ["foo:recorded:rate5m"]]
  ])("%s", (expr, names) => {
    expect(metricNames(expr)).toEqual(names)
  })

  it("variable queries", () => {
    expect(variableQueryMetricNames("label_values(tradingview_signals_ingested_total, symbol)")).toEqual([
      "tradingview_signals_ingested_total"
    ])
    expect(variableQueryMetricNames("label_values(environment)")).toEqual([])
    expect(variableQueryMetricNames("query_result(topk(5, x_total))")).toEqual(["x_total"])
  })
})

describe("parseExposition", () => {
  const text = [
    "# HELP h_seconds a histogram",
    "# TYPE h_seconds histogram",
    "h_seconds_bucket{le=\"0.1\",path=\"/a\"} 1",
    "h_seconds_bucket{le=\"+Inf\",path=\"/a\"} 3",
    "h_seconds_sum{path=\"/a\"} 4.5",
    "h_seconds_count{path=\"/a\"} 3",
    "# HELP c_total a counter",
    "# TYPE c_total counter",
    "c_total{reason=\"say \\\"hi\\\"\\\\\\n\"} 2 1700000000000",
    "# TYPE g gauge",
    "g NaN",
    "untyped_thing -Inf",
    ""
  ].join("\n")

  it("families, types, samples, labels with escapes, special values", () => {
    const parsed = parseExposition(text)
    expect([...parsed.families.keys()]).toEqual(["h_seconds", "c_total", "g", "untyped_thing"])
    expect(parsed.families.get("h_seconds")?.samples.map((s) => s.name)).toEqual([
      "h_seconds_bucket",
      "h_seconds_bucket",
      "h_seconds_sum",
      "h_seconds_count"
    ])
    expect(parsed.families.get("c_total")?.samples).toEqual([{ name: "c_total", labels: { reason: "say \"hi\"\\\n" }, value: 2 }])
    expect(Number.isNaN(parsed.families.get("g")!.samples[0]!.value)).toBe(true)
    expect(parsed.families.get("untyped_thing")?.samples[0]?.value).toBe(Number.NEGATIVE_INFINITY)
  })

  it("isExported maps _bucket/_sum/_count to their histogram, not the bare histogram name", () => {
    const parsed = parseExposition(text)
    expect(isExported(parsed, "h_seconds_bucket")).toBe(true)
    expect(isExported(parsed, "h_seconds_sum")).toBe(true)
    expect(isExported(parsed, "h_seconds_count")).toBe(true)
    expect(isExported(parsed, "h_seconds")).toBe(false)
    expect(isExported(parsed, "c_total")).toBe(true)
    expect(isExported(parsed, "c_total_bucket")).toBe(false)
    expect(isExported(parsed, "trading_orders_failed_total")).toBe(false)
  })

  it("rejects malformed lines", () => {
    expect(() => parseExposition("metric{a=\"x\" 1")).toThrow()
    expect(() => parseExposition("metric")).toThrow()
    expect(() => parseExposition("metric abc")).toThrow()
  })
})

describe("monitoring/", () => {
  it("the rules cover the issue's alerts", () => {
    const alerts = ruleExpressions(Path.join(monitoring, "alerting-rules.yaml")).map((e) => e.where.split(": ")[1])
    expect(alerts).toEqual(expect.arrayContaining([
      "TradingViewSignalBacklog",
      "BingXOrderFailures",
      "TradingViewIngestionLatency",
      "BotBackendReachability",
      "ExchangeCircuitBreakerOpen",
      "RealisedPnlDrop"
    ]))
  })

  it("every referenced name belongs to the catalog (histograms through _bucket/_sum/_count)", () => {
    const catalogNames = new Map(catalog.map((e) => [e.metric.id, e.metric.type]))
    const refs = referencedNames(monitoring)
    expect(refs.length).toBeGreaterThan(30)
    for (const ref of refs) {
      const base = ref.name.replace(/_(bucket|sum|count)$/, "")
      const ok = (catalogNames.has(ref.name) && catalogNames.get(ref.name) !== "Histogram") ||
        (base !== ref.name && catalogNames.get(base) === "Histogram")
      expect(ok, `${ref.name} (${ref.where})`).toBe(true)
    }
    // and every catalog metric is on the dashboard or in a rule
    const referenced = new Set(refs.map((r) => r.name.replace(/_(bucket|sum|count)$/, "")))
    for (const { metric } of catalog) expect(referenced.has(metric.id), metric.id).toBe(true)
  })

  it("the dashboard has a datasource variable used by every panel, and the issue's panels", () => {
    const dashboard = readDashboard(Path.join(monitoring, "grafana", "tvtelegrambingx-overview.json"))
    expect(dashboardProblems(dashboard)).toEqual([])
    const titles = (dashboard.json.panels as Array<{ title: string }>).map((p) => p.title.toLowerCase())
    for (const topic of ["throughput", "ingest latency", "success rate", "realised pnl", "queue depth", "bot → backend latency", "bot → backend errors", "breaker"]) {
      expect(titles.some((t) => t.includes(topic)), topic).toBe(true)
    }
    const rules = JSON.parse(dashboardAsRules(dashboard))
    expect(rules.groups[0].rules).toHaveLength(dashboard.expressions.length)
    for (const rule of rules.groups[0].rules) expect(rule.expr).not.toContain("$")
  })

  it("dashboardProblems notices a panel with a fixed datasource", () => {
    const dashboard = readDashboard(Path.join(monitoring, "grafana", "tvtelegrambingx-overview.json"))
    const broken = structuredClone(dashboard.json)
    broken.panels[1].datasource = { type: "prometheus", uid: "prometheus" }
    broken.templating.list = broken.templating.list.filter((v: { type: string }) => v.type !== "datasource")
    const problems = dashboardProblems({ ...dashboard, json: broken })
    expect(problems[0]).toContain("no datasource variable")
    expect(problems.length).toBeGreaterThan(1)
  })

  it("the collector config has OTLP in and Prometheus, Tempo, Loki out; the seed's namespace is caught", () => {
    expect(collectorProblems(Path.join(monitoring, "otel-collector.yaml"))).toEqual([])
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "collector-"))
    try {
      const seedLike = Path.join(dir, "otel-collector.yaml")
      Fs.writeFileSync(seedLike, [
        "receivers: {otlp: {protocols: {http: {endpoint: 0.0.0.0:4318}}}}",
        "exporters: {prometheus: {endpoint: 0.0.0.0:9464, namespace: tvtelegrambingx}, otlphttp/tempo: {endpoint: http://tempo:4318}}",
        "processors: {batch: {}}",
        "service: {pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [otlphttp/tempo]},",
        "  metrics: {receivers: [otlp], processors: [batch], exporters: [prometheus]}}}"
      ].join("\n"))
      const problems = collectorProblems(seedLike)
      expect(problems).toContain("no logs pipeline")
      expect(problems.some((p) => p.includes("namespace"))).toBe(true)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("the metrics table of monitoring/README.md matches the catalog", () => {
    const readme = Fs.readFileSync(Path.join(monitoring, "README.md"), "utf8")
    const rows = readme.split("\n")
      .map((line) => /^\| `([a-z_]+)` \| (counter|gauge|histogram) \| (.*?) \| (:8000|:9000) \| (.*) \|$/.exec(line))
      .filter((m) => m !== null)
      .map((m) => ({
        name: m[1],
        type: m[2],
        labels: m[3] === "—" ? [] : m[3]!.split(", ").map((l) => l.replace(/`/g, "")),
        port: m[4],
        description: m[5]
      }))
    const TYPES: Record<string, string> = { Counter: "counter", Gauge: "gauge", Histogram: "histogram" }
    expect(rows).toEqual(catalog.map((e) => ({
      name: e.metric.id,
      type: TYPES[e.metric.type],
      labels: [...(e.labels ?? [])],
      port: e.exporter === "backend" ? ":8000" : ":9000",
      description: e.metric.description
    })))
  })

  it.live("every referenced name is exported by the running app; the seed's broken names are not", () =>
    Effect.scoped(Effect.gen(function*() {
      const app = yield* startInProcessApp()
      const backend = parseExposition(yield* scrapeText(`${app.api}/metrics`))
      const bot = parseExposition(yield* scrapeText(`${app.botMetrics}/metrics`))
      expect(unexported(referencedNames(monitoring), [backend, bot])).toEqual([])
      // what the seed's rules queried
      expect(unexported([
        { name: "trading_orders_failed_total", where: "seed" },
        { name: "bot_backend_requests_total", where: "seed" }
      ], [backend, bot]).map((r) => r.name)).toEqual(["trading_orders_failed_total", "bot_backend_requests_total"])
    })), APP_TIMEOUT)
})
