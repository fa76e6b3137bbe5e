/**
 * The prom-client bridge: renders the Effect metric snapshot (counters, gauges, histograms with
 * `_bucket`/`_sum`/`_count`) plus prom-client's default Node process metrics, one registry per
 * exporter (`backend` on :8000, `bot` on :9000).
 */
import { Context, Data, Effect, Layer, Metric } from "effect"
import * as Prom from "prom-client"
import { catalog, type Exporter } from "./metrics.ts"

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

const toNumber = (v: unknown): number => (typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : 0)

const labelsOf = (s: Metric.Metric.Snapshot): Labels => {
  const out: Labels = {}
  if (s.attributes) for (const [k, v] of Object.entries(s.attributes)) out[k] = String(v)
  return out
}

/** Converts the snapshot entries of one metric into prom-client values. */
const valuesOf = (id: string, type: string, entries: Snapshot): Array<PromValue> => {
  const values: Array<PromValue> = []
  for (const s of entries) {
    const labels = labelsOf(s)
    const state = s.state as any
    if (type === "Counter") values.push({ value: toNumber(state.count), labels })
    else if (type === "Gauge") values.push({ value: toNumber(state.value), labels })
    else if (type === "Histogram") {
      for (const [le, count] of state.buckets as ReadonlyArray<readonly [number, number]>) {
        values.push({
          metricName: `${id}_bucket`,
          labels: { ...labels, le: le === Number.POSITIVE_INFINITY ? "+Inf" : String(le) },
          value: count
        })
      }
      const hasInf = (state.buckets as ReadonlyArray<readonly [number, number]>).some(
        ([le]) => le === Number.POSITIVE_INFINITY
      )
      if (!hasInf) values.push({ metricName: `${id}_bucket`, labels: { ...labels, le: "+Inf" }, value: state.count })
      values.push({ metricName: `${id}_sum`, labels, value: state.sum })
      values.push({ metricName: `${id}_count`, labels, value: state.count })
    }
  }
  return values
}

const PROM_TYPES: Record<string, string> = { Counter: "counter", Gauge: "gauge", Histogram: "histogram" }

export interface PrometheusShape {
  readonly render: (exporter: Exporter) => Effect.Effect<{ readonly contentType: string; readonly body: string }, MetricsRenderError>
}

export class Prometheus extends Context.Service<Prometheus, PrometheusShape>()("tvtelegrambingx/Prometheus") {
  static readonly make = Effect.sync((): PrometheusShape => {
    const registries = new Map<Exporter, Prom.Registry>()
    // The snapshot taken for the render in progress; read by the bridged metrics' get().
    const current: { snapshot: Map<string, Array<Metric.Metric.Snapshot>> } = { snapshot: new Map() }

    const registryFor = (exporter: Exporter): Prom.Registry => {
      const existing = registries.get(exporter)
      if (existing) return existing
      const registry = new Prom.Registry()
      Prom.collectDefaultMetrics({ register: registry })
      for (const entry of catalog) {
        if (entry.exporter !== exporter) continue
        const { id, type, description } = entry.metric
        registry.registerMetric({
          name: id,
          help: description ?? id,
          type: PROM_TYPES[type],
          aggregator: "sum",
          get: async () => ({
            name: id,
            help: description ?? id,
            type: PROM_TYPES[type],
            aggregator: "sum",
            values: valuesOf(id, type, current.snapshot.get(id) ?? [])
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
        current.snapshot = byId
        const registry = registryFor(exporter)
        const body = yield* Effect.tryPromise({
          try: () => registry.metrics(),
          catch: (e) => new MetricsRenderError({ message: `could not render metrics: ${String(e)}` })
        })
        return { contentType: registry.contentType, body }
      }).pipe(
        Effect.catchDefect((e) => Effect.fail(new MetricsRenderError({ message: `could not render metrics: ${String(e)}` })))
      )
    return { render }
  })

  static readonly layer = Layer.effect(Prometheus, Prometheus.make)
}
