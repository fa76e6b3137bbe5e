/**
 * Log output: one JSON object per line (`ts`, `level`, `msg`, `service`, annotations, `trace_id`,
 * `span_id` when inside a span, `error` when a cause is attached), or a readable line with
 * `LOG_FORMAT=pretty`. Redacted values render as `<redacted>`; as a second line of defence, values
 * under secret-sounding keys and secrets inside URLs/`name=value` text are replaced (`redact.ts`).
 */
import { Context, Effect, Layer, Logger, References } from "effect"
import type { LogLevelName } from "../config.ts"
import { redactFields, redactText } from "./redact.ts"

export interface LogRecord {
  readonly ts: string
  readonly level: string
  readonly msg: unknown
  readonly service: string
  readonly trace_id?: string
  readonly span_id?: string
  readonly error?: string
  readonly [annotation: string]: unknown
}

/**
 * Turns the second line of defence off for the log calls of one effect: for the rare line that
 * must show a secret on purpose (e.g. a generated token announced once on the console). Redacted
 * values still print as `<redacted>`, and OTLP log export still scrubs.
 *
 *     yield* Effect.logInfo(`paste this alert message: ${message}`).pipe(withSecretsVisibleInLogs)
 */
export const SecretsVisibleInLogs = Context.Reference<boolean>("tvtelegrambingx/SecretsVisibleInLogs", {
  defaultValue: () => false
})
export const withSecretsVisibleInLogs = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, SecretsVisibleInLogs, true)

/** Builds the structured record of one log call (shared by the JSON and pretty formats). */
const toRecord = (service: string) =>
    Logger.make<unknown, LogRecord>((options) => {
      const s = Logger.formatStructured.log(options)
      const span = options.fiber.cache.span
      const scrub = !options.fiber.getRef(SecretsVisibleInLogs)
      const record: Record<string, unknown> = {
        ts: s.timestamp,
        level: s.level,
        msg: scrub ? redactFields(s.message) : s.message,
        service
      }
      const annotations = (scrub ? redactFields(s.annotations) : s.annotations) as Record<string, unknown>
      for (const [k, v] of Object.entries(annotations)) {
        if (!(k in record)) record[k] = v
      }
      if (span !== undefined) {
        record.trace_id = span.traceId
        record.span_id = span.spanId
      }
      if (s.cause !== undefined) record.error = scrub ? redactText(s.cause) : s.cause
      return record as LogRecord
    })

const bigintAsText = (_k: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v)

/**
 * JSON text of a record, bigints as decimal text. The plain `JSON.stringify` is V8's fast path (a
 * replacer function disables it); only a record it refuses (a bigint) is encoded again with the
 * replacer. Throws what the replacer version throws (cycles).
 */
export const encodeRecord = (value: unknown): string => {
  try {
    return JSON.stringify(value)
  } catch {
    return JSON.stringify(value, bigintAsText)
  }
}

const safeStringify = (value: unknown): string => {
  try {
    return encodeRecord(value)
  } catch {
    return JSON.stringify({ msg: "unserialisable log record" })
  }
}

export type LogSink = (line: string) => void
const stdoutSink: LogSink = (line) => {
  process.stdout.write(line + "\n")
}

export const jsonLogger = (service: string, sink: LogSink = stdoutSink) => {
  const record = toRecord(service)
  return Logger.make<unknown, void>((options) => {
    const r = record.log(options)
    try {
      sink(encodeRecord(r))
    } catch (e) {
      // a value JSON cannot encode: keep the line (time, level, ids), say why
      sink(safeStringify({
        ts: r.ts,
        level: r.level,
        msg: typeof r.msg === "string" ? r.msg : "unserialisable log message",
        service: r.service,
        trace_id: r.trace_id,
        span_id: r.span_id,
        log_error: e instanceof Error ? e.message : String(e)
      }))
    }
  })
}

export const prettyLogger = (service: string, sink: LogSink = stdoutSink) => {
  const record = toRecord(service)
  return Logger.make<unknown, void>((options) => {
    const { ts, level, msg, service: _s, error, trace_id, span_id, ...rest } = record.log(options)
    const text = typeof msg === "string" ? msg : safeStringify(msg)
    const extras = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : safeStringify(v)}`)
    if (trace_id !== undefined) extras.push(`trace_id=${trace_id}`)
    let line = `${ts} ${level.padEnd(5)} ${text}${extras.length > 0 ? "  " + extras.join(" ") : ""}`
    if (span_id !== undefined) line += ` span_id=${span_id}`
    if (error !== undefined) line += `\n${error}`
    sink(line)
  })
}

/** The logger layer for the process: replaces Effect's default logger and sets the minimum level. */
export const layerLogger = (options: {
  readonly service: string
  readonly level: LogLevelName
  readonly format: "json" | "pretty"
  readonly sink?: LogSink
}): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([
      options.format === "pretty" ? prettyLogger(options.service, options.sink) : jsonLogger(options.service, options.sink)
    ]),
    Layer.succeed(References.MinimumLogLevel, options.level)
  )
