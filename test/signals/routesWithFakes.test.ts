/**
 * The signal and bot routes over real HTTP with fake services: a database outage answers 503 (so
 * TradingView re-sends) and creates nothing downstream; BotStatusParts contributes to /bot/status;
 * webhook tokens stay out of traces.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Metric, Redacted, Tracer } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter } from "effect/http"
import { SqlError, UnknownError } from "effect/sql/SqlError"
import { parseUnsafe as dec } from "../../src/domain/decimal.ts"
import { AppConfig } from "../../src/config.ts"
import { type Notification, Notifier } from "../../src/notify/Notifier.ts"
import { SignalQueue } from "../../src/orders/SignalQueue.ts"
import { Secrets } from "../../src/security/Secrets.ts"
import { BotSettings } from "../../src/settings/BotSettings.ts"
import { AuditLog } from "../../src/audit/AuditLog.ts"
import { apiOf } from "../../src/api/Api.ts"
import { BotApi } from "../../src/api/Bot.ts"
import { layerApiRoutes } from "../../src/api/server.ts"
import { SignalsApi } from "../../src/api/Signals.ts"
import { botGroup } from "../../src/signals/botRoutes.ts"
import { BotStatusParts } from "../../src/signals/BotStatusParts.ts"
import { layerWebhookTraceRedaction, signalRoutes, signalsGroup } from "../../src/signals/routes.ts"
import { OrderService } from "../../src/orders/OrderService.ts"
import { SignalRepo } from "../../src/signals/SignalRepo.ts"
import { SignalService } from "../../src/signals/SignalService.ts"
import { WebhookGuard } from "../../src/signals/WebhookGuard.ts"
import { webhookRejections } from "../../src/telemetry/metrics.ts"

const TOKEN = "fake-webhook-token-42"
const API = "fake-api-token-42"

const outage = () =>
  new SqlError({ reason: new UnknownError({ cause: new Error("connection refused"), message: "connection refused" }) })

const inserts: Array<number> = []
const notifications: Array<Notification> = []
const spans: Array<{ name: string; attributes: Map<string, unknown> }> = []

const failingRepo = Layer.succeed(
  SignalRepo,
  SignalRepo.of({
    insert: (rows) => Effect.sync(() => void inserts.push(rows.length)).pipe(Effect.andThen(Effect.fail(outage()))),
    findByKeys: () => Effect.fail(outage()),
    list: () => Effect.fail(outage()),
    get: () => Effect.fail(outage())
  })
)

const settings = Layer.succeed(
  BotSettings,
  BotSettings.of({
    owner: { userId: "1", botSessionId: "1" },
    current: Effect.succeed({
      autoTradeEnabled: true,
      manualConfirmationRequired: false,
      marginMode: "isolated",
      leverage: 5,
      paused: false,
      updatedAt: new Date("2026-01-01T00:00:00Z")
    }),
    update: () => Effect.die("not used")
  })
)

const secrets = Layer.succeed(
  Secrets,
  Secrets.of({
    apiToken: Redacted.make(API),
    webhookToken: Redacted.make(TOKEN),
    webhookTokens: [Redacted.make(TOKEN)],
    generated: []
  })
)

const parts = BotStatusParts.layerFrom({
  // The PnL service's record; the status route answers it in the contract's JSON.
  account: Effect.succeed({
    balances: [{ asset: "USDT", free: dec("900.5"), locked: dec("99.5"), total: dec("1000") }],
    totals: { realised: dec("12.5"), unrealised: dec("-2"), total: dec("10.5"), fees: dec("0.7"), net: dec("9.8") },
    positions: [{
      symbol: "BTC-USDT",
      slot: "net" as const,
      side: "long" as const,
      quantity: dec("0.01"),
      cost: dec("650"),
      entryPrice: dec("65000"),
      markPrice: dec("64800"),
      unrealised: dec("-2"),
      leverage: 5,
      openedAt: new Date("2026-01-01T00:00:00.000Z")
    }]
  }),
  breaker: Effect.succeed({ state: "open" as const, consecutive_failures: 5, open_until: "2026-01-01T00:05:00.000Z" })
})

/** Records every span and the attributes set on it. */
const recordingTracer = Tracer.make({
  span(options) {
    const span = Tracer.nativeTracer.span(options)
    const entry = { name: options.name, attributes: new Map<string, unknown>() }
    spans.push(entry)
    return new Proxy(span, {
      get(target, key, receiver) {
        if (key === "attribute") {
          return (k: string, v: unknown) => {
            entry.attributes.set(k, v)
            target.attribute(k, v)
          }
        }
        return Reflect.get(target, key, receiver)
      }
    })
  }
})

const services = Layer.mergeAll(SignalService.layerNoDeps, WebhookGuard.layer, parts).pipe(
  Layer.provideMerge(Layer.mergeAll(
    failingRepo,
    settings,
    secrets,
    SignalQueue.layerWithCapacity(10),
    Notifier.layerMemory(notifications),
    // GET /signals/{id} lists the signal's orders through OrderService; not called in these tests.
    Layer.mock(OrderService)({}),
    // POST /bot/audit records through AuditLog; not called in these tests.
    Layer.mock(AuditLog)({})
  )),
  Layer.provideMerge(AppConfig.layerFrom({ TRADING_MODE: "paper" }))
)

const server = HttpRouter.serve(
  Layer.mergeAll(signalRoutes, layerApiRoutes(apiOf(SignalsApi, BotApi), Layer.mergeAll(signalsGroup, botGroup))),
  { disableLogger: true }
).pipe(
  Layer.provide(layerWebhookTraceRedaction),
  Layer.provide(Layer.succeed(Tracer.Tracer, recordingTracer)),
  Layer.provide(Logger.layer([])),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provideMerge(services)
)

layer(server, { excludeTestServices: true })("routes with fake services", (it) => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    Effect.flatMap(HttpClient.HttpClient, (client) =>
      client.execute(HttpClientRequest.post(path).pipe(
        HttpClientRequest.bodyText(JSON.stringify(body), "application/json"),
        HttpClientRequest.setHeaders(headers)
      )))

  it.effect("database down: 503 (TradingView re-sends), nothing queued or notified, counted as unavailable", () =>
    Effect.gen(function*() {
      const response = yield* post("/webhook/tradingview", { secret: TOKEN, symbol: "BTCUSDT", action: "buy", qty: "1" })
      expect(response.status).toBe(503)
      expect(yield* response.json).toEqual({ error: "database unavailable, try again shortly", fields: [] })
      expect(inserts).toEqual([1])
      expect(yield* (yield* SignalQueue).size).toBe(0)
      expect(notifications).toEqual([])
      const state = yield* Metric.value(Metric.withAttributes(webhookRejections, { reason: "unavailable" }))
      expect(state.count).toBeGreaterThanOrEqual(1)
      const list = yield* Effect.flatMap(HttpClient.HttpClient, (c) =>
        c.execute(HttpClientRequest.get("/signals").pipe(HttpClientRequest.bearerToken(API))))
      expect(list.status).toBe(503)
    }))

  it.effect("bot status shows the parts other services contribute", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const response = yield* client.execute(HttpClientRequest.get("/bot/status").pipe(HttpClientRequest.bearerToken(API)))
      expect(response.status).toBe(200)
      expect(yield* response.json).toEqual({
        auto_trade_enabled: true,
        manual_confirmation_required: false,
        margin_mode: "isolated",
        leverage: 5,
        paused: false,
        updated_at: "2026-01-01T00:00:00.000Z",
        balances: [{ asset: "USDT", free: "900.5", locked: "99.5", total: "1000" }],
        pnl: { realized: "12.5", unrealized: "-2", total: "10.5", fees: "0.7", net: "9.8" },
        open_positions: [{
          symbol: "BTC-USDT",
          side: "long",
          quantity: "0.01",
          entry_price: "65000",
          mark_price: "64800",
          unrealized_pnl: "-2",
          leverage: 5,
          opened_at: "2026-01-01T00:00:00.000Z"
        }],
        breaker: { state: "open", consecutive_failures: 5, open_until: "2026-01-01T00:05:00.000Z" },
        trading_mode: "paper"
      })
    }))

  it.effect("webhook tokens never reach span attributes (path and ?token=)", () =>
    Effect.gen(function*() {
      spans.length = 0
      yield* post(`/webhook/tradingview/${TOKEN}`, { symbol: "BTCUSDT", action: "buy", qty: "1" })
      yield* post(`/webhook/tradingview?token=${TOKEN}`, { symbol: "BTCUSDT", action: "buy", qty: "1" })
      const dump = JSON.stringify(spans.map((s) => [s.name, [...s.attributes.entries()]]))
      // The ?token= request has its server span, redacted; the ingest spans exist for both.
      expect(spans.some((s) => String(s.attributes.get("url.query") ?? "").includes("token="))).toBe(true)
      expect(spans.filter((s) => s.name === "SignalService.ingest")).toHaveLength(2)
      expect(dump).not.toContain(TOKEN)
    }))
})
