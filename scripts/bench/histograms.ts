/**
 * The app's own latency histograms (Prometheus text from `/metrics`), as the difference between two
 * scrapes: count, mean and bucket-interpolated quantiles of what happened in between — the way
 * `histogram_quantile(rate(…))` reads them. The buckets are FAST_PATH_BUCKETS (1 ms, 2.5 ms, 5 ms,
 * 10 ms, …), so quantiles are estimates within a bucket; the mean (sum / count) is exact.
 */
import { parseExposition } from "../lib/exposition.ts"

export interface HistogramState {
  readonly count: number
  readonly sum: number
  /** Cumulative counts per upper bound (seconds), ascending, +Inf last. */
  readonly buckets: ReadonlyArray<readonly [number, number]>
}

export type Scrape = ReadonlyMap<string, HistogramState>

/** Key of a histogram series: its name, or `name{label=value}` when split by one label. */
const keyOf = (name: string, labels: Readonly<Record<string, string>>, by: string | undefined) =>
  by === undefined ? name : `${name}{${by}=${labels[by] ?? ""}}`

/**
 * Every histogram of an exposition, summed over its label sets (or per value of `splitBy[name]`).
 */
export const histogramsOf = (text: string, splitBy: Readonly<Record<string, string>> = {}): Scrape => {
  const exposition = parseExposition(text)
  const out = new Map<string, { count: number; sum: number; buckets: Map<number, number> }>()
  for (const family of exposition.families.values()) {
    if (family.type !== "histogram") continue
    const by = splitBy[family.name]
    for (const s of family.samples) {
      const key = keyOf(family.name, s.labels, by)
      let h = out.get(key)
      if (h === undefined) {
        h = { count: 0, sum: 0, buckets: new Map() }
        out.set(key, h)
      }
      if (s.name.endsWith("_count")) h.count += s.value
      else if (s.name.endsWith("_sum")) h.sum += s.value
      else if (s.name.endsWith("_bucket")) {
        const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le)
        h.buckets.set(le, (h.buckets.get(le) ?? 0) + s.value)
      }
    }
  }
  const result = new Map<string, HistogramState>()
  for (const [key, h] of out) {
    result.set(key, { count: h.count, sum: h.sum, buckets: [...h.buckets.entries()].sort((a, b) => a[0] - b[0]) })
  }
  return result
}

/** `after − before` per series (a series absent before counts from zero). */
export const delta = (before: Scrape, after: Scrape): Scrape => {
  const out = new Map<string, HistogramState>()
  for (const [key, a] of after) {
    const b = before.get(key)
    const prior = new Map(b?.buckets ?? [])
    out.set(key, {
      count: a.count - (b?.count ?? 0),
      sum: a.sum - (b?.sum ?? 0),
      buckets: a.buckets.map(([le, c]) => [le, c - (prior.get(le) ?? 0)] as const)
    })
  }
  return out
}

/**
 * The q-quantile (seconds) by linear interpolation inside the bucket holding it (Prometheus'
 * `histogram_quantile`); the highest finite bound when it falls in +Inf; NaN without observations.
 */
export const histogramQuantile = (h: HistogramState, q: number): number => {
  if (h.count <= 0 || h.buckets.length === 0) return Number.NaN
  const rank = q * h.count
  let lowerBound = 0
  let lowerCount = 0
  for (const [le, cumulative] of h.buckets) {
    if (cumulative >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lowerBound
      const inBucket = cumulative - lowerCount
      return inBucket <= 0 ? le : lowerBound + (le - lowerBound) * ((rank - lowerCount) / inBucket)
    }
    lowerBound = le
    lowerCount = cumulative
  }
  return lowerBound
}

export interface HistogramFigures {
  readonly count: number
  readonly meanMs: number
  readonly p50Ms: number
  readonly p99Ms: number
}

export const figuresOf = (h: HistogramState | undefined): HistogramFigures => {
  if (h === undefined || h.count <= 0) return { count: 0, meanMs: Number.NaN, p50Ms: Number.NaN, p99Ms: Number.NaN }
  return {
    count: h.count,
    meanMs: (h.sum / h.count) * 1000,
    p50Ms: histogramQuantile(h, 0.5) * 1000,
    p99Ms: histogramQuantile(h, 0.99) * 1000
  }
}
