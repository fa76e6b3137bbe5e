/**
 * The prom-client bridge: renders the Effect metric snapshot (counters, gauges, histograms with
 * cumulative `_bucket{le}` / `_sum` / `_count`) plus prom-client's default Node process metrics,
 * one registry per exporter (`backend` on :8000, `bot` on :9000). Only catalog metrics of that
 * exporter are rendered, each with `# HELP` and `# TYPE` even before its first sample; a metric
 * without labels shows 0 until it is first set.
 *
 * Rendering never throws into the server: any failure becomes a `MetricsRenderError`, which the
 * `/metrics` route answers with 500 and the message.
 */
import { Context, Data, Effect, Layer, Metric } from "effect"
import * as Prom from "prom-client"
import { catalog as defaultCatalog, type CatalogEntry, type Exporter } from "./metrics.ts"

export class MetricsRenderError extends Data.TaggedError("MetricsRenderError")<{
  readonly message: string
}> {}

type Snapshot = ReadonlyArray<Metric.Metric.Snapshot>
type Labels = Record<string, string>

interface PromValue {
  value: number
  labels: Labels
  metricName?: string
}

const PROM_TYPES = { Counter: "counter", Gauge: "gauge", Histogram: "histogram" } as const
type SupportedType = keyof typeof PROM_TYPES

const toNumber = (v: unknown): number => (typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : Number.NaN)

/** Prometheus label names are `[a-zA-Z_][a-zA-Z0-9_]*`; anything else becomes `_`. */
const labelName = (key: string): string => {
  const clean = key.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[0-9]/.test(clean) ? `_${clean}` : clean
}

const labelsOf = (s: Metric.Metric.Snapshot): Labels => {
  const out: Labels = {}
  if (s.attributes) for (const [k, v] of Object.entries(s.attributes)) out[labelName(k)] = String(v)
  return out
}

/** `le` as Prometheus writes it: `+Inf`, or the shortest decimal form of the bound. */
const leOf = (bound: number): string => (bound === Number.POSITIVE_INFINITY ? "+Inf" : String(bound))

const histogramValues = (
  id: string,
  labels: Labels,
  buckets: ReadonlyArray<readonly [number, number]>,
  count: number,
  sum: number
): Array<PromValue> => {
  const values: Array<PromValue> = []
  for (const [le, cumulative] of buckets) {
    if (le === Number.POSITIVE_INFINITY) continue
    values.push({ metricName: `${id}_bucket`, labels: { ...labels, le: leOf(le) }, value: cumulative })
  }
  // Effect keeps observations above the last bound only in `count`: +Inf is always the total.
  values.push({ metricName: `${id}_bucket`, labels: { ...labels, le: "+Inf" }, value: count })
  values.push({ metricName: `${id}_sum`, labels, value: sum })
  values.push({ metricName: `${id}_count`, labels, value: count })
  return values
}

/** The prom-client values of one catalog metric from its snapshot entries. */
const valuesOf = (entry: CatalogEntry, type: SupportedType, entries: Snapshot): Array<PromValue> => {
  const id = entry.metric.id
  if (entries.length === 0 && type !== "Histogram" && entry.labels !== undefined && entry.labels.length === 0) {
    // An unlabelled counter or gauge has exactly one series: show it (at 0) from the start.
    return [{ value: 0, labels: {} }]
  }
  const values: Array<PromValue> = []
  for (const s of entries) {
    const labels = labelsOf(s)
    const state = s.state as any
    if (type === "Counter") values.push({ value: toNumber(state.count), labels })
    else if (type === "Gauge") values.push({ value: toNumber(state.value), labels })
    else values.push(...histogramValues(id, labels, state.buckets, toNumber(state.count), toNumber(state.sum)))
  }
  return values
}

export interface PrometheusShape {
  readonly render: (
    exporter: Exporter
  ) => Effect.Effect<{ readonly contentType: string; readonly body: string }, MetricsRenderError>
}

const renderError = (e: unknown) =>
  new MetricsRenderError({ message: `could not render metrics: ${e instanceof Error ? e.message : String(e)}` })

export class Prometheus extends Context.Service<Prometheus, PrometheusShape>()("tvtelegrambingx/Prometheus") {
  /** A bridge over `entries` (default: the app's catalog). */
  static readonly make = (entries: ReadonlyArray<CatalogEntry> = defaultCatalog) =>
    Effect.sync((): PrometheusShape => {
      const registries = new Map<Exporter, Prom.Registry>()
      // The snapshot of the render in progress, per exporter; read by the bridged metrics' get().
      const current = new Map<Exporter, Map<string, Array<Metric.Metric.Snapshot>>>()

      const registryFor = (exporter: Exporter): Prom.Registry => {
        const existing = registries.get(exporter)
        if (existing) return existing
        const mine = entries.filter((entry) => entry.exporter === exporter)
        for (const { metric } of mine) {
          if (!(metric.type in PROM_TYPES)) {
            throw new Error(`metric ${metric.id} is a ${metric.type}; /metrics renders counters, gauges and histograms only`)
          }
        }
        const registry = new Prom.Registry()
        Prom.collectDefaultMetrics({ register: registry })
        for (const entry of mine) {
          const { id, type, description } = entry.metric
          const promType = PROM_TYPES[type as SupportedType]
          const help = description ?? id
          registry.registerMetric({
            name: id,
            help,
            type: promType,
            aggregator: "sum",
            get: async () => ({
              name: id,
              help,
              type: promType,
              aggregator: "sum",
              values: valuesOf(entry, type as SupportedType, current.get(exporter)?.get(id) ?? [])
            })
          } as unknown as Prom.Metric)
        }
        registries.set(exporter, registry)
        return registry
      }

      const render = (exporter: Exporter) =>
        Effect.gen(function*() {
          const snapshot = yield* Metric.snapshot
          const byId = new Map<string, Array<Metric.Metric.Snapshot>>()
          for (const s of snapshot) {
            const list = byId.get(s.id)
            if (list) list.push(s)
            else byId.set(s.id, [s])
          }
          const registry = yield* Effect.try({ try: () => registryFor(exporter), catch: renderError })
          current.set(exporter, byId)
          const body = yield* Effect.tryPromise({ try: () => registry.metrics(), catch: renderError })
          return { contentType: registry.contentType, body }
        }).pipe(Effect.catchDefect((e) => Effect.fail(renderError(e))))
      return { render }
    })

  static readonly layer = Layer.effect(Prometheus, Prometheus.make())
  /** Tests: a bridge over other catalog entries. */
  static readonly layerWith = (entries: ReadonlyArray<CatalogEntry>) => Layer.effect(Prometheus, Prometheus.make(entries))
}
