/**
 * Telemetry of the real application (`appLayer`, as `npm start` builds it): both /metrics
 * exporters, OTLP export when enabled (and nothing when disabled), untraced probes, and no secret
 * in any console line or OTLP payload.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseExposition } from "../../scripts/lib/exposition.ts"
import { catalog } from "../../src/telemetry/metrics.ts"
import { startInProcessApp, scrapeText } from "../support/inProcessApp.ts"
import { makeOtlpReceiver, SpanKind } from "../support/otlp.ts"

const SECRETS = {
  API_TOKEN: "api-token-5f0c1e8a9b7d",
  TRADINGVIEW_WEBHOOK_TOKEN: "webhook-token-3c2b1a0f9e8d",
  TRADINGVIEW_WEBHOOK_TOKEN_NEXT: "webhook-next-7a6b5c4d3e2f",
  BINGX_API_KEY: "bingx-key-0a1b2c3d4e5f",
  BINGX_API_SECRET: "bingx-secret-6a7b8c9d0e1f",
  TELEGRAM_BOT_TOKEN: "987654321:AAH-bot-token-secret_value",
  TELEGRAM_WEBHOOK_SECRET: "tg-webhook-secret-1f2e3d"
}
/** Starting the app (embedded database) can take a while on a loaded machine. */
const APP_TIMEOUT = 120_000
const COLLECTOR_TOKEN = "collector-token-9d8c7b6a"

const namesOf = (exporter: "backend" | "bot") => catalog.filter((e) => e.exporter === exporter).map((e) => e.metric.id)

describe("the running app", () => {
  it.live("TELEMETRY_ENABLED: spans, metrics and logs reach the collector; probes are untraced; no secret anywhere", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      const { lines, backendText, botText } = yield* Effect.scoped(Effect.gen(function*() {
        const app = yield* startInProcessApp({
          ...SECRETS,
          LOG_LEVEL: "trace",
          TELEMETRY_ENABLED: "true",
          TELEMETRY_OTLP_ENDPOINT: receiver.url,
          TELEMETRY_OTLP_HEADERS: JSON.stringify({ Authorization: `Bearer ${COLLECTOR_TOKEN}` }),
          TELEMETRY_SAMPLE_RATIO: "1",
          ENVIRONMENT: "production"
        })
        const backendText = yield* scrapeText(`${app.api}/metrics`)
        const botText = yield* scrapeText(`${app.botMetrics}/metrics`)
        yield* scrapeText(`${app.api}/health`)
        // A token in the path: no server span at all (its url.path would carry it).
        const inPath = yield* Effect.promise(() =>
          fetch(`${app.api}/webhook/tradingview/${SECRETS.TRADINGVIEW_WEBHOOK_TOKEN}`, { method: "PUT" })
        )
        expect(inPath.status).toBe(404)
        // A token in the query: a server span, with the query redacted.
        const inQuery = yield* Effect.promise(() =>
          fetch(`${app.api}/webhook/tradingview?token=${SECRETS.TRADINGVIEW_WEBHOOK_TOKEN_NEXT}`, { method: "PUT" })
        )
        expect(inQuery.status).toBe(404)
        return { lines: app.lines, backendText, botText }
      }))
      // the app is stopped: the SDK flushed everything

      // /metrics: each exporter serves its own catalog names
      const backend = parseExposition(backendText)
      const bot = parseExposition(botText)
      for (const name of namesOf("backend")) {
        expect(backend.families.has(name), name).toBe(true)
        expect(bot.families.has(name), name).toBe(false)
      }
      for (const name of namesOf("bot")) {
        expect(bot.families.has(name), name).toBe(true)
        expect(backend.families.has(name), name).toBe(false)
      }
      expect(backend.families.get("tvtelegrambingx_signal_queue_depth")?.samples).toEqual([
        { name: "tvtelegrambingx_signal_queue_depth", labels: { queue: "signals" }, value: 0 }
      ])

      // traces: only the ?token= request has a server span (token redacted); the token-in-path
      // request, probes and scrapes have none
      const servers = receiver.spans().filter((s) => s.kind === SpanKind.server)
      expect(servers.map((s) => s.name)).toEqual(["PUT"])
      expect(servers[0]!.attributes).toMatchObject({
        "http.response.status_code": 404,
        "url.path": "/webhook/tradingview"
      })
      expect(servers[0]!.resource).toMatchObject({
        "service.name": "tvtelegrambingx-backend",
        "service.namespace": "tvtelegrambingx",
        "deployment.environment": "production"
      })
      // metrics and logs over OTLP
      expect(receiver.metrics().map((m) => m.name)).toContain("tvtelegrambingx_signal_queue_depth")
      expect(receiver.logs().some((l) => String(l.body).startsWith("tvtelegrambingx started"))).toBe(true)
      for (const request of receiver.requests) expect(request.headers["authorization"]).toBe(`Bearer ${COLLECTOR_TOKEN}`)

      // console lines: JSON, and the start line is there
      expect(lines.length).toBeGreaterThan(2)
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow()
      expect(lines.some((l) => JSON.parse(l).msg.startsWith("tvtelegrambingx started: role=all"))).toBe(true)

      // no secret in any console line or OTLP payload
      const everything = lines.join("\n") + JSON.stringify(receiver.requests.map((r) => r.body))
      for (const [variable, secret] of Object.entries({ ...SECRETS, COLLECTOR_TOKEN })) {
        expect(everything.includes(secret), `${variable} leaked`).toBe(false)
      }
    }), APP_TIMEOUT)

  it.live("TELEMETRY_ENABLED=false (the default): nothing is sent", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      yield* Effect.scoped(Effect.gen(function*() {
        const app = yield* startInProcessApp({ TELEMETRY_OTLP_ENDPOINT: receiver.url, TELEMETRY_SAMPLE_RATIO: "1" })
        yield* scrapeText(`${app.api}/metrics`)
        const missing = yield* Effect.promise(() => fetch(`${app.api}/nope`))
        expect(missing.status).toBe(404)
      }))
      expect(receiver.requests).toEqual([])
    }), APP_TIMEOUT)

  it.live("role bot: only the :9000 exporter, with bot metrics, and telemetry as the bot service; BOT_METRICS_ENABLED=false turns it off", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      yield* Effect.scoped(Effect.gen(function*() {
        const app = yield* startInProcessApp({ ROLE: "bot", TELEMETRY_ENABLED: "true", TELEMETRY_OTLP_ENDPOINT: receiver.url })
        expect(app.api).toBeUndefined()
        const text = yield* scrapeText(`${app.botMetrics}/metrics`)
        const names = parseExposition(text).families
        for (const name of namesOf("bot")) expect(names.has(name), name).toBe(true)
        for (const name of namesOf("backend")) expect(names.has(name), name).toBe(false)
      }))
      const started = receiver.logs().find((l) => String(l.body).startsWith("tvtelegrambingx started: role=bot"))
      expect(started?.resource).toMatchObject({ "service.name": "tvtelegrambingx-bot", "service.namespace": "tvtelegrambingx" })
      yield* Effect.scoped(Effect.gen(function*() {
        const app = yield* startInProcessApp({ BOT_METRICS_ENABLED: "false" })
        expect(app.botMetrics).toBeUndefined()
        expect(app.api).toBeDefined()
        expect(app.lines.some((l) => l.includes("bot metrics exporter disabled"))).toBe(true)
      }))
    }), APP_TIMEOUT)
})
