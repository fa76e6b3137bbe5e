/**
 * OpenTelemetry export (`TELEMETRY_ENABLED=true`): traces, metrics and logs over OTLP/HTTP (JSON)
 * through `@effect/opentelemetry`'s NodeSdk.
 *
 * - Traces: every Effect span (`Effect.fn` names such as `SignalService.ingest`, HTTP server and
 *   client spans, SQL spans) goes through a `NodeTracerProvider` with a parent-based ratio sampler
 *   (`TELEMETRY_SAMPLE_RATIO` decides for new traces; a sampled parent — an incoming `traceparent`,
 *   or the span carried on the signal queue — decides for its children).
 * - Metrics: the Effect metric registry (`metrics.ts`) is read by a periodic OTLP reader.
 * - Logs: an OTLP log record per log line, next to the JSON/pretty console logger (merged, never
 *   replacing it). The console logger must be provided to this layer when it is built.
 *
 * Resource: `service.name=$TELEMETRY_SERVICE_NAME`, `service.namespace=tvtelegrambingx`,
 * `deployment.environment=$ENVIRONMENT` (plus `OTEL_RESOURCE_ATTRIBUTES` when set).
 *
 * Disabled: this layer is empty — no provider, no exporter, no timer. Effect's own tracer still
 * gives spans their ids, so log lines keep `trace_id`/`span_id` and the queue still carries spans.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import type * as Resource from "@effect/opentelemetry/Resource"
import { diag, type DiagLogger, DiagLogLevel } from "@opentelemetry/api"
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchLogRecordProcessor, type LogRecordProcessor, type SdkLogRecord } from "@opentelemetry/sdk-logs"
import type { AnyValue, LogBody } from "@opentelemetry/api-logs"
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import type { Context as OtelContext } from "@opentelemetry/api"
import { Effect, Layer, Redacted, Tracer } from "effect"
import { HttpMiddleware } from "effect/http"
import packageJson from "../../package.json" with { type: "json" }
import type { AppConfigShape } from "../config.ts"
import { redactFields, redactText, URL_ATTRIBUTES } from "./redact.ts"

export const SERVICE_NAMESPACE = "tvtelegrambingx"

export type OtlpSignal = "traces" | "metrics" | "logs"

/**
 * The URL of one OTLP/HTTP signal. `TELEMETRY_OTLP_ENDPOINT` is the collector's base URL
 * (`http://otel-collector:4318`), as `OTEL_EXPORTER_OTLP_ENDPOINT`; `/v1/<signal>` is appended.
 * An endpoint that already names a signal path (`…/v1/traces`) is re-pointed at each signal.
 */
export const otlpUrl = (endpoint: string, signal: OtlpSignal): string => {
  const base = endpoint.replace(/\/+$/, "").replace(/\/v1\/(traces|metrics|logs)$/, "")
  return `${base}/v1/${signal}`
}

export interface TelemetryOptions {
  readonly enabled: boolean
  readonly serviceName: string
  readonly otlpEndpoint: string
  readonly otlpHeaders: Redacted.Redacted<Readonly<Record<string, string>>>
  readonly sampleRatio: number
  readonly environment: string
  /** How often metrics are pushed (default 15 s, the Prometheus scrape interval of monitoring/). */
  readonly metricExportIntervalMillis?: number
  /** Longest wait for the final flush when the app stops (default 5 s). */
  readonly shutdownTimeoutMillis?: number
}

export const telemetryOptionsOf = (config: Pick<AppConfigShape, "environment" | "telemetry">): TelemetryOptions => ({
  ...config.telemetry,
  environment: config.environment
})

/**
 * Scrubs URL attributes (`url.full`, `url.path`, `url.query`, …) of every span before it is
 * exported: HTTP server spans would otherwise carry the webhook token of
 * `/webhook/tradingview/{token}` or `?token=`, client spans a BingX `signature` or a Telegram bot
 * token; exception events and the status message are scrubbed the same way. Runs in `onEnding`,
 * while the span is still writable.
 */
export class RedactingSpanProcessor implements SpanProcessor {
  readonly next: SpanProcessor
  constructor(next: SpanProcessor) {
    this.next = next
  }
  onStart(span: Span, parentContext: OtelContext): void {
    this.next.onStart(span, parentContext)
  }
  onEnding(span: Span): void {
    for (const key of URL_ATTRIBUTES) {
      const value = span.attributes[key]
      if (typeof value === "string") {
        const clean = redactText(value)
        if (clean !== value) span.setAttribute(key, clean)
      }
    }
    // A failed request's exception event and status message can quote the URL too.
    for (const event of span.events) {
      const attributes = event.attributes as Record<string, unknown> | undefined
      if (attributes === undefined) continue
      for (const key of ["exception.message", "exception.stacktrace"]) {
        const value = attributes[key]
        if (typeof value === "string") attributes[key] = redactText(value)
      }
    }
    if (span.status.message !== undefined) {
      const clean = redactText(span.status.message)
      if (clean !== span.status.message) span.setStatus({ ...span.status, message: clean })
    }
    this.next.onEnding?.(span)
  }
  onEnd(span: ReadableSpan): void {
    this.next.onEnd(span)
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush()
  }
  shutdown(): Promise<void> {
    return this.next.shutdown()
  }
}

/** The same second line of defence as the console logger (`redactFields`) for OTLP log records. */
export class RedactingLogRecordProcessor implements LogRecordProcessor {
  readonly next: LogRecordProcessor
  constructor(next: LogRecordProcessor) {
    this.next = next
  }
  onEmit(record: SdkLogRecord, context?: OtelContext): void {
    if (record.body !== undefined) {
      const body = redactFields(record.body)
      if (body !== record.body) record.setBody(body as LogBody)
    }
    // One pass over all attributes (the same object back when nothing had to change).
    const attributes = record.attributes as Record<string, unknown>
    const clean = redactFields(attributes) as Record<string, unknown>
    if (clean !== attributes) {
      for (const key of Object.keys(clean)) {
        if (clean[key] !== attributes[key]) record.setAttribute(key, clean[key] as AnyValue)
      }
    }
    this.next.onEmit(record, context)
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush()
  }
  shutdown(): Promise<void> {
    return this.next.shutdown()
  }
}

/** The NodeSdk configuration: exporters, sampler and resource (exported for tests). */
export const sdkConfiguration = (options: TelemetryOptions): NodeSdk.Configuration => {
  const headers = { ...Redacted.value(options.otlpHeaders) }
  const exporterOptions = (signal: OtlpSignal) => ({ url: otlpUrl(options.otlpEndpoint, signal), headers })
  return {
    resource: {
      serviceName: options.serviceName,
      serviceVersion: packageJson.version,
      attributes: {
        "service.namespace": SERVICE_NAMESPACE,
        "deployment.environment": options.environment
      }
    },
    spanProcessor: new RedactingSpanProcessor(new BatchSpanProcessor(new OTLPTraceExporter(exporterOptions("traces")))),
    tracerConfig: {
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) })
    },
    metricReader: new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter(exporterOptions("metrics")),
      exportIntervalMillis: options.metricExportIntervalMillis ?? 15_000
    }),
    logRecordProcessor: new RedactingLogRecordProcessor(
      new BatchLogRecordProcessor({ exporter: new OTLPLogExporter(exporterOptions("logs")) })
    ),
    // Keep the console logger: the OTLP logger is added to the loggers present when this is built.
    loggerMergeWithExisting: true,
    shutdownTimeout: options.shutdownTimeoutMillis ?? 5_000
  }
}

/**
 * OpenTelemetry's own warnings (an unreachable collector, a rejected export) as our log lines,
 * each distinct message at most once a minute. Uses the loggers present when the layer is built
 * (the console logger), never the OTLP logger, so an export failure cannot feed itself.
 */
const layerDiagnostics = Layer.effectDiscard(Effect.gen(function*() {
  const context = yield* Effect.context<never>()
  const lastSeen = new Map<string, number>()
  const forward = (level: "Warn" | "Error") => (message: string, ...args: Array<unknown>) => {
    const text = [message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(" ").slice(0, 500)
    const now = Date.now()
    if ((lastSeen.get(text) ?? 0) > now - 60_000) return
    lastSeen.set(text, now)
    if (lastSeen.size > 100) lastSeen.clear()
    const log = level === "Warn" ? Effect.logWarning : Effect.logError
    Effect.runForkWith(context)(log(`opentelemetry: ${text}`).pipe(Effect.annotateLogs({ component: "telemetry" })))
  }
  const logger: DiagLogger = {
    error: forward("Error"),
    warn: forward("Warn"),
    info: () => {},
    debug: () => {},
    verbose: () => {}
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true })),
    () => Effect.sync(() => diag.disable())
  )
}))

/**
 * The OTel tracer of the SDK layer without its `context` hook. That hook makes the current Effect
 * span the *active OpenTelemetry context* around every single step of a traced fiber (an
 * AsyncLocalStorage `context.with` per primitive), for OpenTelemetry code that reads
 * `context.active()` — auto-instrumentations, which this service does not use. Spans get their
 * parents from Effect (`ParentSpan`), the OTLP logger takes trace/span ids from the fiber, and the
 * HTTP client propagates `traceparent` from the Effect span, so nothing here needs it; on the
 * webhook path it cost about a tenth of the CPU.
 */
export const layerTracerWithoutOtelContext: Layer.Layer<never> = Layer.effect(
  Tracer.Tracer,
  Effect.map(Effect.tracer, (tracer) => Tracer.make({ span: (options) => tracer.span(options) }))
) as Layer.Layer<never>

/**
 * Telemetry for the process: empty when disabled; otherwise the OTel tracer (replacing Effect's
 * native tracer), the OTLP metric reader and the OTLP logger (merged with the console logger that
 * must already be provided). Flushes and shuts down when released. (`Resource` is in the type
 * because the SDK layer provides it; the tracer and loggers travel as references.)
 */
export const layerTelemetry = (options: TelemetryOptions): Layer.Layer<Resource.Resource> => {
  if (!options.enabled) return Layer.empty as Layer.Layer<Resource.Resource>
  const sdk = layerTracerWithoutOtelContext.pipe(Layer.provideMerge(NodeSdk.layer(() => sdkConfiguration(options))))
  return Layer.mergeAll(sdk, layerDiagnostics).pipe(
    Layer.tap(() =>
      Effect.logInfo(
        `telemetry: exporting traces, metrics and logs to ${otlpUrl(options.otlpEndpoint, "traces").replace(/\/v1\/traces$/, "")} ` +
          `(service ${options.serviceName}, sample ratio ${options.sampleRatio})`
      )
    )
  )
}

/** Probes and scrapes (`/health`, `/ready`, `/metrics`, every few seconds) make no server spans. */
export const UNTRACED_URLS: ReadonlyArray<string> = ["/health", "/ready", "/metrics"]
export const layerUntracedProbes: Layer.Layer<never> = HttpMiddleware.layerTracerDisabledForUrls(UNTRACED_URLS)
