/**
 * An in-test OTLP/HTTP receiver (JSON, as the OTel JS HTTP exporters send it) on 127.0.0.1:<free port>.
 * Point `TELEMETRY_OTLP_ENDPOINT` at `receiver.url`; every POST to /v1/traces, /v1/metrics, /v1/logs
 * is decoded and kept. Helpers flatten spans, metric points and log records and check span trees.
 */
import { Effect, type Scope } from "effect"
import * as Http from "node:http"
import * as Zlib from "node:zlib"

export type Attributes = Record<string, unknown>

export interface ReceivedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly kind: number
  readonly attributes: Attributes
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
  readonly resource: Attributes
  readonly statusCode: number
}

export interface ReceivedMetric {
  readonly name: string
  readonly resource: Attributes
  /** "sum" | "gauge" | "histogram" | … */
  readonly kind: string
  readonly points: ReadonlyArray<Record<string, unknown> & { readonly attributes: Attributes }>
}

export interface ReceivedLog {
  readonly body: unknown
  readonly severityText: string | undefined
  readonly traceId: string | undefined
  readonly spanId: string | undefined
  readonly attributes: Attributes
  readonly resource: Attributes
}

export interface OtlpReceiver {
  readonly url: string
  /** Raw request bodies by path (`/v1/traces` …). */
  readonly requests: ReadonlyArray<{ readonly path: string; readonly headers: Http.IncomingHttpHeaders; readonly body: any }>
  readonly spans: () => ReadonlyArray<ReceivedSpan>
  readonly metrics: () => ReadonlyArray<ReceivedMetric>
  readonly logs: () => ReadonlyArray<ReceivedLog>
  /** Polls (real time) until `predicate` holds for the spans received, or fails after `timeoutMs`. */
  readonly waitForSpans: (
    predicate: (spans: ReadonlyArray<ReceivedSpan>) => boolean,
    timeoutMs?: number
  ) => Effect.Effect<ReadonlyArray<ReceivedSpan>, Error>
}

const anyValue = (v: any): unknown => {
  if (v === undefined || v === null) return undefined
  if ("stringValue" in v) return v.stringValue
  if ("boolValue" in v) return v.boolValue
  if ("intValue" in v) return Number(v.intValue)
  if ("doubleValue" in v) return v.doubleValue
  if ("arrayValue" in v) return (v.arrayValue.values ?? []).map(anyValue)
  if ("kvlistValue" in v) return attrs(v.kvlistValue.values)
  return v
}

export const attrs = (list: ReadonlyArray<any> | undefined): Attributes => {
  const out: Attributes = {}
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value)
  return out
}

const nonEmpty = (s: unknown): string | undefined => (typeof s === "string" && s.length > 0 ? s : undefined)

export const makeOtlpReceiver: Effect.Effect<OtlpReceiver, never, Scope.Scope> = Effect.gen(function*() {
  const requests: Array<{ path: string; headers: Http.IncomingHttpHeaders; body: any }> = []
  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      let raw = Buffer.concat(chunks)
      if (req.headers["content-encoding"] === "gzip") raw = Zlib.gunzipSync(raw)
      let body: unknown = raw.toString("utf8")
      try {
        body = JSON.parse(body as string)
      } catch {
        // keep the text: a test will see it was not JSON
      }
      requests.push({ path: req.url ?? "", headers: req.headers, body })
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    })
  })
  const port = yield* Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
    }),
    () =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

  const bodies = (path: string) => requests.filter((r) => r.path === path).map((r) => r.body as any)

  const spans = (): ReadonlyArray<ReceivedSpan> =>
    bodies("/v1/traces").flatMap((b) =>
      (b.resourceSpans ?? []).flatMap((rs: any) => {
        const resource = attrs(rs.resource?.attributes)
        return (rs.scopeSpans ?? []).flatMap((ss: any) =>
          (ss.spans ?? []).map((s: any): ReceivedSpan => ({
            name: s.name,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: nonEmpty(s.parentSpanId),
            kind: s.kind,
            attributes: attrs(s.attributes),
            links: (s.links ?? []).map((l: any) => ({ traceId: l.traceId, spanId: l.spanId })),
            resource,
            statusCode: s.status?.code ?? 0
          }))
        )
      })
    )

  const metrics = (): ReadonlyArray<ReceivedMetric> =>
    bodies("/v1/metrics").flatMap((b) =>
      (b.resourceMetrics ?? []).flatMap((rm: any) => {
        const resource = attrs(rm.resource?.attributes)
        return (rm.scopeMetrics ?? []).flatMap((sm: any) =>
          (sm.metrics ?? []).map((m: any): ReceivedMetric => {
            const kind = ["sum", "gauge", "histogram", "exponentialHistogram", "summary"].find((k) => k in m) ?? "unknown"
            const points = (m[kind]?.dataPoints ?? []).map((p: any) => ({ ...p, attributes: attrs(p.attributes) }))
            return { name: m.name, resource, kind, points }
          })
        )
      })
    )

  const logs = (): ReadonlyArray<ReceivedLog> =>
    bodies("/v1/logs").flatMap((b) =>
      (b.resourceLogs ?? []).flatMap((rl: any) => {
        const resource = attrs(rl.resource?.attributes)
        return (rl.scopeLogs ?? []).flatMap((sl: any) =>
          (sl.logRecords ?? []).map((r: any): ReceivedLog => ({
            body: anyValue(r.body),
            severityText: r.severityText,
            traceId: nonEmpty(r.traceId),
            spanId: nonEmpty(r.spanId),
            attributes: attrs(r.attributes),
            resource
          }))
        )
      })
    )

  const waitForSpans = (predicate: (spans: ReadonlyArray<ReceivedSpan>) => boolean, timeoutMs = 10_000) =>
    Effect.gen(function*() {
      const deadline = Date.now() + timeoutMs
      while (true) {
        const current = spans()
        if (predicate(current)) return current
        if (Date.now() > deadline) {
          return yield* Effect.fail(
            new Error(`OTLP receiver: condition not met after ${timeoutMs} ms; spans: ${current.map((s) => s.name).join(", ")}`)
          )
        }
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 25)))
      }
    })

  return { url: `http://127.0.0.1:${port}`, requests, spans, metrics, logs, waitForSpans }
})

/** The span named `name` (exactly one expected). */
export const spanNamed = (spans: ReadonlyArray<ReceivedSpan>, name: string): ReceivedSpan => {
  const found = spans.filter((s) => s.name === name)
  if (found.length !== 1) {
    throw new Error(`expected one span named ${JSON.stringify(name)}, got ${found.length}: ${spans.map((s) => s.name).join(", ")}`)
  }
  return found[0]!
}

/** The chain of ancestors of `span` (nearest first), following parentSpanId within the received spans. */
export const ancestorsOf = (spans: ReadonlyArray<ReceivedSpan>, span: ReceivedSpan): Array<ReceivedSpan> => {
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const out: Array<ReceivedSpan> = []
  let current = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId)
  while (current !== undefined && out.length < 100) {
    out.push(current)
    current = current.parentSpanId === undefined ? undefined : byId.get(current.parentSpanId)
  }
  return out
}

/** OTLP span kinds. */
export const SpanKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const

/** A span by name, optionally with its kind: `"SignalService.ingest"`, `{ name: "POST", kind: "client" }`. */
export type SpanMatcher =
  | string
  | {
    readonly name: string
    readonly kind?: keyof typeof SpanKind
    /** A substring of the span's `url.full` attribute (HTTP client spans). */
    readonly urlContains?: string
  }

const describeMatcher = (m: SpanMatcher) => (typeof m === "string" ? m : `${m.kind ?? "any"}:${m.name}`)
const matches = (m: SpanMatcher) => (s: ReceivedSpan) =>
  typeof m === "string"
    ? s.name === m
    : s.name === m.name && (m.kind === undefined || s.kind === SpanKind[m.kind]) &&
      (m.urlContains === undefined || String(s.attributes["url.full"] ?? "").includes(m.urlContains))

/**
 * Asserts that spans matching `chain` (outermost first) exist and each is a descendant of the one
 * before, all in one trace; returns them. For the e2e: `expectTraceChain(receiver.spans(),
 * [{ name: "POST", kind: "server" }, "SignalService.ingest", "OrderService.handle_signal",
 * { name: "POST", kind: "client" }])`.
 */
export const expectTraceChain = (spans: ReadonlyArray<ReceivedSpan>, chainOf: ReadonlyArray<SpanMatcher>): Array<ReceivedSpan> => {
  const chain: Array<ReceivedSpan> = []
  for (const matcher of chainOf) {
    const name = describeMatcher(matcher)
    const candidates = spans.filter(matches(matcher))
    if (candidates.length === 0) {
      throw new Error(`no span ${JSON.stringify(name)}; received: ${[...new Set(spans.map((s) => s.name))].join(", ")}`)
    }
    const previous = chain[chain.length - 1]
    const match = previous === undefined
      ? candidates[0]
      : candidates.find((c) => ancestorsOf(spans, c).some((a) => a.spanId === previous.spanId))
    if (match === undefined) {
      throw new Error(`span ${JSON.stringify(name)} is not a descendant of ${JSON.stringify(previous!.name)}`)
    }
    chain.push(match)
  }
  const traces = new Set(chain.map((s) => s.traceId))
  if (traces.size !== 1) throw new Error(`spans ${chainOf.map(describeMatcher).join(" → ")} are in ${traces.size} traces`)
  return chain
}
