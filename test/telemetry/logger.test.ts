/**
 * Log lines: JSON fields, trace/span ids inside spans, LOG_LEVEL, the pretty format, and no secret
 * in any line — neither `Redacted` values nor plain strings under secret names or inside URLs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Layer, Redacted } from "effect"
import { AppConfig } from "../../src/config.ts"
import type { LogLevelName } from "../../src/config.ts"
import { layerLogger, withSecretsVisibleInLogs } from "../../src/telemetry/logger.ts"

const capture = (options: { level?: LogLevelName; format?: "json" | "pretty" } = {}) => {
  const lines: Array<string> = []
  const layer = layerLogger({
    service: "tvtelegrambingx-backend",
    level: options.level ?? "Info",
    format: options.format ?? "json",
    sink: (line) => lines.push(line)
  })
  return { lines, layer, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

class ExchangeRejected extends Data.TaggedError("ExchangeRejected")<{
  readonly reason: string
  readonly apiKey: Redacted.Redacted<string>
}> {}

describe("JSON log lines", () => {
  it.effect("carry ts, level, msg, service and annotations; no ids outside a span", () =>
    Effect.gen(function*() {
      const log = capture()
      yield* Effect.logInfo("hello").pipe(Effect.annotateLogs({ symbol: "BTC-USDT", order_id: "12" }), Effect.provide(log.layer))
      const [record] = log.records()
      expect(record).toEqual({
        ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        level: "INFO",
        msg: "hello",
        service: "tvtelegrambingx-backend",
        symbol: "BTC-USDT",
        order_id: "12"
      })
      expect(log.lines).toHaveLength(1)
      expect(log.lines[0]).not.toContain("\n")
    }))

  it.effect("inside SignalService.ingest a line carries that span's trace_id and span_id", () =>
    Effect.gen(function*() {
      const log = capture()
      const normalise = Effect.fn("SignalService.normalise")(function*() {
        yield* Effect.logInfo("normalised")
        return yield* Effect.currentSpan
      })
      const ingest = Effect.fn("SignalService.ingest")(function*() {
        yield* Effect.logInfo("signal accepted")
        const inner = yield* normalise()
        return { outer: yield* Effect.currentSpan, inner }
      })
      const { outer, inner } = yield* ingest().pipe(Effect.provide(log.layer))
      const [accepted, normalised] = log.records()
      expect(accepted).toMatchObject({ msg: "signal accepted", trace_id: outer.traceId, span_id: outer.spanId })
      expect(normalised).toMatchObject({ msg: "normalised", trace_id: outer.traceId, span_id: inner.spanId })
      expect(inner.spanId).not.toBe(outer.spanId)
      expect(outer.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(outer.spanId).toMatch(/^[0-9a-f]{16}$/)
    }))

  it.effect("a failure's cause is in `error`, on the same line", () =>
    Effect.gen(function*() {
      const log = capture()
      yield* Effect.logError("order failed", new Error("boom")).pipe(Effect.provide(log.layer))
      yield* Effect.fail(new ExchangeRejected({ reason: "insufficient margin", apiKey: Redacted.make("k") })).pipe(
        Effect.tapCause((cause) => Effect.logWarning("submit failed", cause)),
        Effect.ignore,
        Effect.provide(log.layer)
      )
      const [first, second] = log.records()
      expect(first).toMatchObject({ level: "ERROR", msg: ["order failed", expect.anything()] })
      expect(second).toMatchObject({ level: "WARN", msg: "submit failed" })
      expect(String(second!.error)).toContain("ExchangeRejected")
      expect(log.lines.every((l) => !l.includes("\n"))).toBe(true)
    }))

  it.effect("LOG_LEVEL: lines below the level are dropped", () =>
    Effect.gen(function*() {
      const emitAll = Effect.gen(function*() {
        yield* Effect.logTrace("t")
        yield* Effect.logDebug("d")
        yield* Effect.logInfo("i")
        yield* Effect.logWarning("w")
        yield* Effect.logError("e")
        yield* Effect.logFatal("f")
      })
      const levels = (level: LogLevelName) =>
        Effect.gen(function*() {
          const log = capture({ level })
          yield* emitAll.pipe(Effect.provide(log.layer))
          return log.records().map((r) => r.msg)
        })
      expect(yield* levels("Trace")).toEqual(["t", "d", "i", "w", "e", "f"])
      expect(yield* levels("Debug")).toEqual(["d", "i", "w", "e", "f"])
      expect(yield* levels("Info")).toEqual(["i", "w", "e", "f"])
      expect(yield* levels("Warn")).toEqual(["w", "e", "f"])
      expect(yield* levels("Error")).toEqual(["e", "f"])
      expect(yield* levels("None")).toEqual([])
    }))

  it.effect("LOG_LEVEL from the configuration (aliases as the seed)", () =>
    Effect.gen(function*() {
      const levelOf = (value: string) =>
        Effect.map(AppConfig.use(Effect.succeed), (c) => c.log.level).pipe(Effect.provide(AppConfig.layerFrom({ LOG_LEVEL: value })))
      expect(yield* levelOf("debug")).toBe("Debug")
      expect(yield* levelOf("WARNING")).toBe("Warn")
      expect(yield* levelOf("critical")).toBe("Fatal")
      const bad = yield* Effect.flip(levelOf("loud"))
      expect(bad.message).toContain("LOG_LEVEL")
    }))
})

describe("unserialisable values", () => {
  it.effect("bigints in annotations are written as decimal text", () =>
    Effect.gen(function*() {
      const log = capture()
      yield* Effect.logInfo("sized").pipe(
        Effect.annotateLogs({ order_id: 1736011869418901234n, nested: { ids: [1n, 2n] }, plain: 3 }),
        Effect.provide(log.layer)
      )
      expect(log.records()[0]).toMatchObject({ msg: "sized", order_id: "1736011869418901234", nested: { ids: ["1", "2"] }, plain: 3 })
    }))

  it.effect("a log call whose annotations JSON cannot encode still writes its line", () =>
    Effect.gen(function*() {
      const log = capture()
      const cyclic: Record<string, unknown> = { name: "loop" }
      cyclic["self"] = cyclic
      yield* Effect.logInfo("still here").pipe(Effect.annotateLogs({ amount: 10n, cyclic }), Effect.provide(log.layer))
      expect(log.lines).toHaveLength(1)
      const record = JSON.parse(log.lines[0]!)
      expect(record).toMatchObject({ level: "INFO", msg: "still here", service: "tvtelegrambingx-backend" })
    }))
})

describe("pretty log lines", () => {
  it.effect("time, level, message, annotations and ids on one readable line", () =>
    Effect.gen(function*() {
      const log = capture({ format: "pretty" })
      const span = yield* Effect.fn("SignalService.ingest")(function*() {
        yield* Effect.logWarning("queue is full").pipe(Effect.annotateLogs({ symbol: "BTC-USDT" }))
        return yield* Effect.currentSpan
      })().pipe(Effect.provide(log.layer))
      expect(log.lines).toHaveLength(1)
      const line = log.lines[0]!
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z WARN  queue is full {2}symbol=BTC-USDT /)
      expect(line).toContain(`trace_id=${span.traceId}`)
      expect(line).toContain(`span_id=${span.spanId}`)
      expect(() => JSON.parse(line)).toThrow()
    }))
})

describe("secrets never appear", () => {
  const SECRETS = {
    apiToken: "api-token-0123456789abcdef",
    webhook: "webhook-token-fedcba9876543210",
    bingxKey: "bingx-key-AAAABBBBCCCC",
    bingxSecret: "bingx-secret-DDDDEEEEFFFF",
    telegram: "123456789:AAE-telegram-bot-token_xyz",
    dbPassword: "db-pass-S3cr3t"
  }

  it.effect("Redacted values: in messages, annotations, errors, and the whole configuration", () =>
    Effect.gen(function*() {
      const config = yield* AppConfig.use(Effect.succeed).pipe(Effect.provide(AppConfig.layerFrom({
        API_TOKEN: SECRETS.apiToken,
        TRADINGVIEW_WEBHOOK_TOKEN: SECRETS.webhook,
        BINGX_API_KEY: SECRETS.bingxKey,
        BINGX_API_SECRET: SECRETS.bingxSecret,
        TELEGRAM_BOT_TOKEN: SECRETS.telegram,
        DATABASE_URL: `postgres://trader:${SECRETS.dbPassword}@127.0.0.1:5432/tvtb`,
        TELEMETRY_OTLP_HEADERS: JSON.stringify({ Authorization: `Bearer ${SECRETS.apiToken}` })
      })))
      for (const format of ["json", "pretty"] as const) {
        const log = capture({ format, level: "Trace" })
        yield* Effect.gen(function*() {
          yield* Effect.logInfo("configuration", config)
          yield* Effect.logDebug(config.security.apiToken)
          yield* Effect.logInfo("bingx").pipe(Effect.annotateLogs({ key: config.bingx.apiKey, cfg: config.bingx }))
          yield* Effect.fail(new ExchangeRejected({ reason: "denied", apiKey: config.bingx.apiKey! })).pipe(
            Effect.tapCause((cause) => Effect.logError("rejected", cause)),
            Effect.ignore
          )
          yield* Effect.logInfo(`token is ${config.security.webhookToken}`)
        }).pipe(Effect.provide(log.layer))
        expect(log.lines.length).toBe(5)
        const all = log.lines.join("\n")
        for (const secret of Object.values(SECRETS)) expect(all).not.toContain(secret)
        expect(all).toContain("<redacted>")
      }
    }))

  it.effect("plain strings: secret-named fields, tokens in URLs, name=value and JSON text", () =>
    Effect.gen(function*() {
      const log = capture({ level: "Debug" })
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("request", { token: SECRETS.webhook, nested: { api_secret: SECRETS.bingxSecret, n: 1 } })
        yield* Effect.logInfo("raw").pipe(Effect.annotateLogs({ passphrase: SECRETS.webhook, symbol: "BTC-USDT" }))
        yield* Effect.logWarning(`POST /webhook/tradingview/${SECRETS.webhook} from 1.2.3.4`)
        yield* Effect.logWarning(`GET https://api.telegram.org/bot${SECRETS.telegram}/getMe failed`)
        yield* Effect.logInfo(`connecting to postgres://trader:${SECRETS.dbPassword}@db:5432/tvtb`)
        yield* Effect.logInfo(`body: TOKEN=${SECRETS.webhook}\nsymbol=BTCUSDT; signature=${SECRETS.bingxKey}`)
        yield* Effect.logInfo(`payload {"secret": "${SECRETS.webhook}", "symbol": "BTCUSDT"}`)
        yield* Effect.logDebug(`query ?symbol=BTC-USDT&apiKey=${SECRETS.bingxKey}&timestamp=1`)
        yield* Effect.fail(new Error(`upstream said: X-BX-APIKEY invalid; key=${SECRETS.bingxKey}`)).pipe(
          Effect.tapCause((cause) => Effect.logError("call failed", cause)),
          Effect.ignore
        )
      }).pipe(Effect.provide(log.layer))
      expect(log.lines).toHaveLength(9)
      const all = log.lines.join("\n")
      for (const secret of Object.values(SECRETS)) expect(all).not.toContain(secret)
      // what is not secret stays readable
      const records = log.records()
      expect(records[0]!.msg).toEqual(["request", { token: "[redacted]", nested: { api_secret: "[redacted]", n: 1 } }])
      expect(records[1]).toMatchObject({ passphrase: "[redacted]", symbol: "BTC-USDT" })
      expect(records[2]!.msg).toBe("POST /webhook/tradingview/[redacted] from 1.2.3.4")
      expect(records[3]!.msg).toBe("GET https://api.telegram.org/bot[redacted]/getMe failed")
      expect(records[4]!.msg).toBe("connecting to postgres://[redacted]@db:5432/tvtb")
      expect(records[6]!.msg).toBe(`payload {"secret": "[redacted]", "symbol": "BTCUSDT"}`)
      expect(records[7]!.msg).toBe("query ?symbol=BTC-USDT&apiKey=[redacted]&timestamp=1")
    }))

  it.effect("withSecretsVisibleInLogs: the one deliberate exception (a token announced once)", () =>
    Effect.gen(function*() {
      const log = capture()
      yield* Effect.logInfo(`webhook URL: https://bot.example.com/webhook/tradingview/${SECRETS.webhook}`).pipe(
        withSecretsVisibleInLogs,
        Effect.provide(log.layer)
      )
      yield* Effect.logInfo(`again: /webhook/tradingview/${SECRETS.webhook}`).pipe(Effect.provide(log.layer))
      expect(log.lines[0]).toContain(SECRETS.webhook)
      expect(log.lines[1]).not.toContain(SECRETS.webhook)
    }))
})

describe("layerLogger", () => {
  it.effect("replaces Effect's default logger (one line per call, only through the sink)", () =>
    Effect.gen(function*() {
      const log = capture()
      yield* Effect.logInfo("once").pipe(Effect.provide(Layer.mergeAll(log.layer)))
      expect(log.lines).toHaveLength(1)
    }))
})
