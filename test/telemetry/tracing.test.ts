/**
 * Traces over OTLP/HTTP into an in-test receiver: resource, sampling (0 → none, 1 → all, parent
 * decides), and one trace across the SignalQueue hop — HTTP server span → SignalService.ingest →
 * (queue) → OrderService.handle_signal → HTTP client span → traceparent at the "exchange".
 */
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, Option, Redacted } from "effect"
import { FetchHttpClient, HttpClient, HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import * as Http from "node:http"
import { type QueuedOrder, queuedOrder, SignalQueue } from "../../src/orders/SignalQueue.ts"
import { layerLogger } from "../../src/telemetry/logger.ts"
import { signalsIngested } from "../../src/telemetry/metrics.ts"
import { continueQueuedTrace } from "../../src/telemetry/queueTrace.ts"
import { layerTelemetry, layerUntracedProbes, otlpUrl } from "../../src/telemetry/tracing.ts"
import { expectTraceChain, makeOtlpReceiver, type OtlpReceiver, SpanKind, spanNamed } from "../support/otlp.ts"

const telemetry = (receiver: OtlpReceiver, sampleRatio: number, headers: Record<string, string> = {}) =>
  layerTelemetry({
    enabled: true,
    serviceName: "tvtelegrambingx-backend",
    otlpEndpoint: receiver.url,
    otlpHeaders: Redacted.make(headers),
    sampleRatio,
    environment: "staging",
    metricExportIntervalMillis: 60_000
  })

/** A loopback "exchange" that records the headers of every request. */
const fakeExchange = Effect.acquireRelease(
  Effect.callback<{ url: string; server: Http.Server; received: Array<Http.IncomingHttpHeaders> }>((resume) => {
    const received: Array<Http.IncomingHttpHeaders> = []
    const server = Http.createServer((req, res) => {
      received.push(req.headers)
      req.resume()
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ code: 0, data: { orderId: "1" } }))
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, received })))
  }),
  ({ server }) => Effect.callback<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })
)

const waitUntil = (condition: () => boolean, what: string, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
    }
  })

/**
 * The webhook → queue → actor → exchange pipeline in miniature, with the real helpers: the
 * producer queues a `queuedOrder` (it carries `spanForQueue`), the consumer runs `continueQueuedTrace(item)`.
 */
const runPipeline = (options: {
  readonly sampleRatio: number
  readonly traceparent?: string
  readonly path?: string
}) =>
  Effect.gen(function*() {
    const receiver = yield* makeOtlpReceiver
    const exchange = yield* fakeExchange
    const lines: Array<string> = []
    const handled: Array<{ traceId: string; spanId: string; parent: string | undefined }> = []

    const pipeline = Layer.effectDiscard(Effect.gen(function*() {
      const queue = yield* SignalQueue
      const client = yield* HttpClient.HttpClient
      const handleSignal = Effect.fn("OrderService.handle_signal")(function*(item: QueuedOrder) {
        yield* Effect.annotateCurrentSpan({ "order.id": item.orderId, symbol: item.symbol })
        const span = yield* Effect.currentSpan
        handled.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parent: Option.getOrUndefined(Option.map(span.parent, (p) => p.spanId))
        })
        yield* Effect.logInfo("executing order")
        yield* client.post(`${exchange.url}/openApi/swap/v2/trade/order`)
      })
      yield* queue.take.pipe(
        Effect.flatMap((item) => handleSignal(item).pipe(continueQueuedTrace(item), Effect.ignore)),
        Effect.forever,
        Effect.forkScoped
      )
    }))

    const ingest = Effect.fn("SignalService.ingest")(function*(symbol: string) {
      yield* Effect.annotateCurrentSpan({ symbol, action: "buy" })
      yield* Effect.logInfo("signal accepted")
      const queue = yield* SignalQueue
      return yield* queue.offer(yield* queuedOrder({ orderId: "42", symbol }))
    })
    const webhook = HttpRouter.add(
      "POST",
      "/webhook/tradingview/:token",
      Effect.map(ingest("BTC-USDT"), (queued) => HttpServerResponse.jsonUnsafe({ queued }, { status: 201 }))
    )
    const health = HttpRouter.add("GET", "/health", Effect.succeed(HttpServerResponse.text("ok")))
    const server = HttpRouter.serve(Layer.mergeAll(webhook, health), { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" }))
    )
    const app = Layer.mergeAll(server, pipeline).pipe(
      Layer.provide(SignalQueue.layerWithCapacity(10)),
      Layer.provide(FetchHttpClient.layer),
      Layer.provide(Layer.mergeAll(telemetry(receiver, options.sampleRatio), layerUntracedProbes)),
      Layer.provide(layerLogger({ service: "test", level: "Info", format: "json", sink: (l) => lines.push(l) }))
    )

    yield* Effect.gen(function*() {
      const address = (yield* HttpServer.HttpServer).address as { port: number }
      const base = `http://127.0.0.1:${address.port}`
      const health = yield* Effect.promise(() => fetch(`${base}/health`))
      expect(health.status).toBe(200)
      const response = yield* Effect.promise(() =>
        fetch(`${base}${options.path ?? "/webhook/tradingview/SECRET-PATH-TOKEN?token=SECRET-QUERY-TOKEN"}`, {
          method: "POST",
          headers: options.traceparent === undefined ? {} : { traceparent: options.traceparent }
        })
      )
      expect(response.status).toBe(201)
      yield* waitUntil(() => exchange.received.length === 1, "the exchange call")
    }).pipe(Effect.provide(app))
    // the app layer (and with it the OTel SDK) is released here: everything is flushed

    return {
      receiver,
      spans: receiver.spans(),
      lines: lines.map((l) => JSON.parse(l) as Record<string, unknown>),
      rawLines: lines,
      exchangeHeaders: exchange.received,
      handled
    }
  })

/** The marker @effect/opentelemetry puts on its spans. */
const OTEL_SPAN = "~@effect/opentelemetry/OtelTracer/OtelSpan"

const REMOTE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
const REMOTE_SPAN = "00f067aa0ba902b7"

describe("OTLP traces", () => {
  it.live("one trace from the webhook request across the queue to the exchange call", () =>
    Effect.gen(function*() {
      const { spans, lines, rawLines, exchangeHeaders, handled, receiver } = yield* runPipeline({
        sampleRatio: 1,
        traceparent: `00-${REMOTE_TRACE}-${REMOTE_SPAN}-01`
      })
      const [server, ingest, handle, client] = expectTraceChain(spans, [
        { name: "POST", kind: "server" },
        "SignalService.ingest",
        "OrderService.handle_signal",
        { name: "POST", kind: "client" }
      ])
      // the incoming traceparent is honoured: the whole tree hangs below the caller's span
      expect(server!.traceId).toBe(REMOTE_TRACE)
      expect(server!.parentSpanId).toBe(REMOTE_SPAN)
      // direct parent/child links, not just "somewhere below"
      expect(ingest!.parentSpanId).toBe(server!.spanId)
      expect(handle!.parentSpanId).toBe(ingest!.spanId)
      expect(client!.parentSpanId).toBe(handle!.spanId)
      expect(handled).toEqual([{ traceId: REMOTE_TRACE, spanId: handle!.spanId, parent: ingest!.spanId }])
      // attributes the seed names: symbol, action, order id, HTTP status
      expect(ingest!.attributes).toMatchObject({ symbol: "BTC-USDT", action: "buy" })
      expect(handle!.attributes).toMatchObject({ "order.id": "42", symbol: "BTC-USDT" })
      expect(server!.attributes).toMatchObject({ "http.response.status_code": 201, "http.route": "/webhook/tradingview/:token" })
      expect(client!.attributes).toMatchObject({ "http.response.status_code": 200 })
      // the exchange saw the client span as its parent
      expect(exchangeHeaders[0]!["traceparent"]).toBe(`00-${REMOTE_TRACE}-${client!.spanId}-01`)
      // resource
      expect(server!.resource).toMatchObject({
        "service.name": "tvtelegrambingx-backend",
        "service.namespace": "tvtelegrambingx",
        "deployment.environment": "staging"
      })
      // probes make no spans
      expect(spans.filter((s) => s.attributes["url.path"] === "/health")).toEqual([])
      // log lines carry the ids of the span they were logged in, on both sides of the queue
      const accepted = lines.find((l) => l.msg === "signal accepted")!
      const executing = lines.find((l) => l.msg === "executing order")!
      expect(accepted).toMatchObject({ trace_id: REMOTE_TRACE, span_id: ingest!.spanId })
      expect(executing).toMatchObject({ trace_id: REMOTE_TRACE, span_id: handle!.spanId })
      // the webhook token in the path and the query never reaches the exporter or the logs
      expect(server!.attributes["url.path"]).toBe("/webhook/tradingview/[redacted]")
      expect(String(server!.attributes["url.full"])).toContain("token=[redacted]")
      const exported = JSON.stringify(receiver.requests)
      for (const secret of ["SECRET-PATH-TOKEN", "SECRET-QUERY-TOKEN"]) {
        expect(exported).not.toContain(secret)
        expect(rawLines.join("\n")).not.toContain(secret)
      }
    }))

  it.live("sample ratio 0: no span is exported", () =>
    Effect.gen(function*() {
      const { spans, receiver, handled, lines } = yield* runPipeline({ sampleRatio: 0 })
      expect(handled).toHaveLength(1)
      expect(spans).toEqual([])
      expect(receiver.requests.filter((r) => r.path === "/v1/traces")).toEqual([])
      // unsampled spans still have ids: logs stay correlatable
      expect(lines.find((l) => l.msg === "executing order")).toMatchObject({ trace_id: handled[0]!.traceId })
    }))

  it.live("sample ratio 0 but a sampled caller: the parent decides, across the queue too", () =>
    Effect.gen(function*() {
      const { spans } = yield* runPipeline({ sampleRatio: 0, traceparent: `00-${REMOTE_TRACE}-${REMOTE_SPAN}-01` })
      expect(spans.map((s) => s.name).sort()).toEqual(["OrderService.handle_signal", "POST", "POST", "SignalService.ingest"])
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([REMOTE_TRACE]))
    }))

  it.live("sample ratio 1 but an unsampled caller: nothing is exported, across the queue too", () =>
    Effect.gen(function*() {
      const { spans, handled, exchangeHeaders } = yield* runPipeline({
        sampleRatio: 1,
        traceparent: `00-${REMOTE_TRACE}-${REMOTE_SPAN}-00`
      })
      expect(handled).toHaveLength(1)
      expect(spans).toEqual([])
      // the decision is propagated to the exchange as well
      expect(exchangeHeaders[0]!["traceparent"]).toMatch(new RegExp(`^00-${REMOTE_TRACE}-[0-9a-f]{16}-00$`))
    }))

  it.live("sample ratio 1: every span of every trace is exported", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      const inner = Effect.fn("Inner.step")(function*(i: number) {
        yield* Effect.annotateCurrentSpan({ i })
      })
      const outer = Effect.fn("Outer.op")(function*(i: number) {
        yield* inner(i)
      })
      yield* Effect.forEach(Array.from({ length: 25 }, (_, i) => i), (i) => outer(i), { discard: true }).pipe(
        Effect.provide(telemetry(receiver, 1))
      )
      const spans = receiver.spans()
      expect(spans.filter((s) => s.name === "Outer.op")).toHaveLength(25)
      expect(spans.filter((s) => s.name === "Inner.step")).toHaveLength(25)
      expect(new Set(spans.map((s) => s.traceId)).size).toBe(25)
      for (const span of spans.filter((s) => s.name === "Inner.step")) {
        const parent = spans.find((s) => s.spanId === span.parentSpanId)
        expect(parent?.name).toBe("Outer.op")
        expect(parent?.attributes).toEqual({})
      }
      expect(spanNamed(spans.filter((s) => s.attributes["i"] === 7), "Inner.step").kind).toBe(SpanKind.internal)
    }))

  it.live("metrics and logs are exported over OTLP too, with the configured headers; the console logger stays", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      const lines: Array<string> = []
      const work = Effect.fn("SignalService.ingest")(function*() {
        yield* Metric.update(Metric.withAttributes(signalsIngested, { symbol: "ETH-USDT", action: "sell" }), 1)
        yield* Effect.logInfo("ingested", { api_key: "plain-secret-value" })
        return yield* Effect.currentSpan
      })
      const span = yield* work().pipe(
        Effect.provide(telemetry(receiver, 1, { Authorization: "Bearer collector-token" })),
        Effect.provide(layerLogger({ service: "test", level: "Info", format: "json", sink: (l) => lines.push(l) }))
      )
      expect(OTEL_SPAN in span).toBe(true)
      const paths = new Set(receiver.requests.map((r) => r.path))
      expect(paths).toEqual(new Set(["/v1/traces", "/v1/metrics", "/v1/logs"]))
      for (const request of receiver.requests) expect(request.headers["authorization"]).toBe("Bearer collector-token")

      const ingested = receiver.metrics().filter((m) => m.name === "tradingview_signals_ingested_total")
      expect(ingested.length).toBeGreaterThan(0)
      const point = ingested.flatMap((m) => m.points).find((p) => p.attributes["symbol"] === "ETH-USDT")
      expect(point?.attributes).toEqual({ symbol: "ETH-USDT", action: "sell" })
      expect(Number(point?.["asInt"] ?? point?.["asDouble"])).toBeGreaterThanOrEqual(1)
      expect(ingested[0]!.resource).toMatchObject({ "service.name": "tvtelegrambingx-backend" })

      const log = receiver.logs().find((l) => Array.isArray(l.body) && l.body[0] === "ingested")
      expect(log).toMatchObject({ traceId: span.traceId, spanId: span.spanId })
      // the console logger still writes its line (the OTLP logger is merged, not a replacement)
      const line = lines.map((l) => JSON.parse(l)).find((l) => l.msg?.[0] === "ingested")
      expect(line).toMatchObject({ trace_id: span.traceId, span_id: span.spanId })
      expect(JSON.stringify(receiver.requests)).not.toContain("plain-secret-value")
      expect(lines.join("\n")).not.toContain("plain-secret-value")
    }))

  it.live("enabled: OpenTelemetry spans without the per-step OTel context hook (Effect carries the parents)", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      const { tracer, span, parent } = yield* Effect.gen(function*() {
        const tracer = yield* Effect.tracer
        const outer = yield* Effect.currentSpan
        const span = yield* Effect.currentSpan.pipe(Effect.withSpan("Inner.step"))
        return { tracer, span, parent: outer }
      }).pipe(Effect.withSpan("Outer.op"), Effect.provide(telemetry(receiver, 1)))
      expect(tracer.context).toBeUndefined()
      expect(OTEL_SPAN in span).toBe(true)
      expect(Option.getOrUndefined(span.parent)?.spanId).toBe(parent.spanId)
      const exported = receiver.spans()
      expect(spanNamed(exported, "Inner.step").parentSpanId).toBe(spanNamed(exported, "Outer.op").spanId)
    }))

  it.live("disabled: no exporter, no request; Effect's own spans still give log lines their ids", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      const lines: Array<string> = []
      const layer = layerTelemetry({
        enabled: false,
        serviceName: "x",
        otlpEndpoint: receiver.url,
        otlpHeaders: Redacted.make({}),
        sampleRatio: 1,
        environment: "test"
      })
      const span = yield* Effect.fn("SignalService.ingest")(function*() {
        yield* Effect.logInfo("inside")
        return yield* Effect.currentSpan
      })().pipe(
        Effect.provide(layer),
        Effect.provide(layerLogger({ service: "test", level: "Info", format: "json", sink: (l) => lines.push(l) }))
      )
      expect(receiver.requests).toEqual([])
      // Effect's native span, not an OpenTelemetry one
      expect(OTEL_SPAN in span).toBe(false)
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "inside", trace_id: span.traceId, span_id: span.spanId })
    }))
})

describe("otlpUrl", () => {
  it("appends the signal path to the collector's base URL", () => {
    expect(otlpUrl("http://otel-collector:4318", "traces")).toBe("http://otel-collector:4318/v1/traces")
    expect(otlpUrl("https://otlp.example.com/otlp/", "metrics")).toBe("https://otlp.example.com/otlp/v1/metrics")
    expect(otlpUrl("http://collector:4318/v1/traces", "logs")).toBe("http://collector:4318/v1/logs")
  })
})
