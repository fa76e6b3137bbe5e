/**
 * The in-process backend (role all) on the real services: for the same state it answers exactly
 * what the HTTP backend (role bot) decodes from the API — status, signals, orders, PnL, positions,
 * and the same NotFound / Conflict / database-outage errors — and it records settings changes and
 * audit rows with the Telegram user as the actor.
 * The app runs with `--role api` in this process, trading live against the BingX fake; its
 * database is reached through a TCP proxy (cut for the outage). PGlite, or TEST_DATABASE_URL.
 */
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Effect, Layer, Logger, Schema, type Scope } from "effect"
import { BotState } from "../../src/api/Bot.ts"
import { encodePositions, encodeReport } from "../../src/api/Pnl.ts"
import { SignalList } from "../../src/api/Signals.ts"
import { SqlClient } from "effect/sql"
import { BotBackend, type BotBackendShape, type Order } from "../../src/bot/BotBackend.ts"
import { AuditLog, AuditLog as AuditLogTag } from "../../src/audit/AuditLog.ts"
import { AppConfig } from "../../src/config.ts"
import { OrderService, OrderService as OrderServiceTag } from "../../src/orders/OrderService.ts"
import { PnlService, PnlService as PnlServiceTag } from "../../src/pnl/PnlService.ts"
import { BotSettings, BotSettings as BotSettingsTag } from "../../src/settings/BotSettings.ts"
import { BotStatusParts, BotStatusParts as BotStatusPartsTag } from "../../src/signals/BotStatusParts.ts"
import { SignalService, SignalService as SignalServiceTag } from "../../src/signals/SignalService.ts"
import { AppInfo, appLayer } from "../../src/main.ts"
import { makeFakeBingx } from "../fakes/bingx.ts"
import { UNREACHABLE } from "../support/inProcessApp.ts"
import { liveEnv } from "../support/bingx.ts"
import { proxiedDatabase } from "../support/database.ts"

const API_TOKEN = "local-vs-http-token-0123456789"
const WEBHOOK_TOKEN = "local-vs-http-webhook-0123456789"
const alice = { userId: 42, username: "alice" }

const quiet = Logger.layer([])

const encodeSignals = Schema.encodeSync(SignalList)
// PnL parts are records (BigDecimal scales differ between a database row and a decoded body):
// compared as the contract writes them.
const encodeState = Schema.encodeSync(BotState)

/** What `BotBackend.layerLocal` needs from the app (besides AppConfig). */
type LocalServices = AuditLog | BotSettings | BotStatusParts | OrderService | PnlService | SignalService

/** The app (role api) and both bot backends on it. */
const stack = Effect.gen(function*() {
  const fake = yield* makeFakeBingx()
  const database = yield* Effect.acquireRelease(Effect.promise(() => proxiedDatabase()), (d) => Effect.promise(() => d.release()))
  const env = {
    ROLE: "api",
    HOST: "127.0.0.1",
    PORT: "0",
    API_TOKEN,
    TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    ...liveEnv(fake),
    ...database.env,
    TELEMETRY_OTLP_ENDPOINT: UNREACHABLE,
    LOG_LEVEL: "error"
  }
  const config = AppConfig.layerFrom(env)
  const app = yield* Layer.build(
    appLayer({ database: database.layer, announceToken: () => {}, printAlertSetup: () => {}, logSink: () => {} }).pipe(
      Layer.provide(config)
    )
  ) as Effect.Effect<Context.Context<AppInfo | SqlClient.SqlClient | LocalServices>, unknown, Scope.Scope>
  const url = Context.get(app, AppInfo).api!.url
  const local = Context.get(
    yield* Layer.build(BotBackend.layerLocal.pipe(Layer.provide(Layer.mergeAll(Layer.succeedContext(app), config)))),
    BotBackend
  )
  const http = Context.get(
    yield* Layer.build(BotBackend.layerHttp.pipe(Layer.provide(AppConfig.layerFrom({ ...env, BACKEND_BASE_URL: url })))),
    BotBackend
  )
  const webhook = (alert: Record<string, unknown>) =>
    Effect.promise(async () => {
      const response = await fetch(`${url}/webhook/tradingview/${WEBHOOK_TOKEN}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(alert)
      })
      const body = await response.json() as { order_id: string; order_status: string }
      expect(response.status).toBe(201)
      return body
    })
  const sql = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
    Effect.provideContext(Effect.flatMap(SqlClient.SqlClient, f), app).pipe(Effect.orDie)
  return { fake, database, local, http, webhook, sql }
})

const until = (backend: BotBackendShape, orderId: string, status: Order["status"]) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      const order = yield* backend.order(orderId)
      if (order.status === status) return order
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die(`order ${orderId} did not become ${status}`)
  })

/** The same call on both backends (a failure is compared as its tag and message). */
const both = <A>(call: (b: BotBackendShape) => Effect.Effect<A, { readonly _tag: string; readonly message: string }>) =>
  (s: { readonly local: BotBackendShape; readonly http: BotBackendShape }) =>
    Effect.gen(function*() {
      const outcome = (b: BotBackendShape) =>
        call(b).pipe(
          Effect.map((value) => ({ ok: value as unknown })),
          Effect.catch((e) => Effect.succeed({ error: { tag: e._tag, message: e.message } }))
        )
      return { local: yield* outcome(s.local), http: yield* outcome(s.http) }
    })

describe("BotBackend.layerLocal on the real services", () => {
  it.live("answers exactly what the HTTP backend decodes from the API, for the same state", () =>
    Effect.gen(function*() {
      const s = yield* stack
      // State: a filled long (approved in-process), a rejected short (over HTTP), a partial close at a
      // higher price (realised PnL), and one order still awaiting approval.
      const long = yield* s.webhook({ id: "a1", symbol: "BTC-USDT", action: "buy", quantity: "0.01" })
      const short = yield* s.webhook({ id: "a2", symbol: "ETH-USDT", action: "SHORT_SELL", quantity: "0.05" })
      const waiting = yield* s.webhook({ id: "a3", symbol: "SOL-USDT", action: "buy", quantity: "1" })
      expect([long.order_status, short.order_status, waiting.order_status]).toEqual(Array(3).fill("awaiting_approval"))
      expect((yield* s.local.approve(long.order_id, alice)).status).toBe("pending")
      yield* until(s.local, long.order_id, "filled")
      expect((yield* s.http.reject(short.order_id, alice)).status).toBe("rejected")
      s.fake.prices.set("BTC-USDT", "66000")
      const close = yield* s.webhook({ id: "a4", symbol: "BTC-USDT", action: "LONG_SELL", quantity: "0.004" })
      yield* s.http.approve(close.order_id, alice)
      yield* until(s.http, close.order_id, "filled")

      const compare = <A>(call: (b: BotBackendShape) => Effect.Effect<A, { readonly _tag: string; readonly message: string }>) =>
        Effect.map(both(call)(s), (r) => {
          expect(r.local).toEqual(r.http)
          return r.local
        })

      const status = yield* compare((b) => Effect.map(b.status, encodeState))
      expect(status).toMatchObject({
        ok: {
          trading_mode: "live",
          balances: [{ asset: "USDT", free: expect.any(String), locked: expect.any(String), total: expect.any(String) }],
          breaker: { state: "closed", consecutive_failures: 0, open_until: null },
          open_positions: [{ symbol: "BTC-USDT", side: "long", quantity: "0.006", entry_price: "65000.5", mark_price: "66000" }]
        }
      })
      // Signals are domain records (the local one keeps its idempotency key): compared as the
      // contract shows them.
      const signals = yield* compare((b) => Effect.map(b.recentSignals(10), (list) => encodeSignals({ signals: list })))
      expect((signals as { ok: { signals: ReadonlyArray<unknown> } }).ok.signals).toHaveLength(4)
      const orders = yield* compare((b) => b.orders(10))
      expect((orders as { ok: ReadonlyArray<Order> }).ok.map((o) => o.status)).toEqual(["filled", "awaiting_approval", "rejected", "filled"])
      for (const id of [long.order_id, short.order_id, waiting.order_id, close.order_id]) {
        const one = yield* compare((b) => b.order(id))
        expect((one as { ok: Order }).ok.id).toBe(id)
      }
      const filled = yield* compare((b) => b.order(long.order_id))
      expect((filled as { ok: Order }).ok.fills).toEqual([
        { id: expect.any(String), quantity: "0.01", price: "65000.5", fee: "0.3250025", fee_asset: "USDT", price_source: "exchange", filled_at: expect.any(String) }
      ])
      // margin_usdt is part of the contract's order: both backends show it.
      expect((filled as { ok: Record<string, unknown> }).ok).toHaveProperty("margin_usdt", null)
      for (const period of ["day", "week", "all"] as const) {
        // `to` is "now" on each call: compare the rest.
        const pnl = yield* compare((b) => Effect.map(b.pnl(period), (report) => ({ ...encodeReport(report), to: null })))
        expect(pnl).toMatchObject({ ok: { period, trades: 2, realising_fills: 1 } })
      }
      yield* compare((b) => Effect.map(b.positions, (positions) => encodePositions({ positions })))

      // Refusals: the same tag and the same words.
      expect(yield* compare((b) => b.order("999999"))).toEqual({ error: { tag: "NotFound", message: "order 999999 not found" } })
      expect(yield* compare((b) => b.order("abc"))).toEqual({ error: { tag: "NotFound", message: "order abc not found" } })
      expect(yield* compare((b) => b.approve("999999", alice))).toEqual({ error: { tag: "NotFound", message: "order 999999 not found" } })
      expect(yield* compare((b) => b.approve(short.order_id, alice))).toEqual({
        error: { tag: "Conflict", message: `order ${short.order_id} is already rejected` }
      })
      expect(yield* compare((b) => b.reject(long.order_id, alice))).toEqual({
        error: { tag: "Conflict", message: `order ${long.order_id} is already filled` }
      })

      // Settings: both answer the new state, which is what the other one reads afterwards.
      const viaLocal = yield* s.local.updateSettings({ leverage: 7, margin_mode: "cross" }, alice)
      expect(encodeState(viaLocal)).toEqual(encodeState(yield* s.http.status))
      const viaHttp = yield* s.http.updateSettings({ leverage: 9 }, alice)
      expect(encodeState(viaHttp)).toEqual(encodeState(yield* s.local.status))
      expect(viaHttp).toMatchObject({ leverage: 9, margin_mode: "cross" })

      // The database is unreachable: both say so in the same words.
      s.database.proxy.setDown(true)
      expect(yield* compare((b) => b.orders(5))).toEqual({
        error: { tag: "BackendUnavailable", message: "database unavailable, try again shortly" }
      })
      expect(yield* compare((b) => b.pnl("day"))).toEqual({
        error: { tag: "BackendUnavailable", message: "database unavailable, try again shortly" }
      })
      s.database.proxy.setDown(false)
      expect((yield* s.local.orders(5)).length).toBe(4)
    }).pipe(Effect.scoped, Effect.provide(quiet)), 120_000)

  it.live("settings changes and audit rows carry the Telegram user; invalid settings are refused with fields", () =>
    Effect.gen(function*() {
      const s = yield* stack
      const order = yield* s.webhook({ id: "b1", symbol: "BTC-USDT", action: "buy", quantity: "0.01" })
      const updated = yield* s.local.updateSettings({ margin_mode: "cross", paused: true }, alice)
      expect(updated).toMatchObject({ margin_mode: "cross", paused: true, leverage: 5, trading_mode: "live" })
      const invalid = yield* Effect.flip(s.local.updateSettings({ leverage: 500 }, alice))
      expect(invalid).toMatchObject({
        _tag: "Invalid",
        fields: [{ field: "leverage", problem: "must be a whole number from 1 to 125" }]
      })
      yield* s.local.reject(order.order_id, alice)
      yield* s.local.audit({ actor: alice, action: "command./margin", payload: { args: "cross" }, result: "ok" })
      const rows = yield* s.sql((q) =>
        q<{ actor: string; actor_id: string; action: string; result: string; payload: unknown }>`
          SELECT actor, actor_id, action, result, payload FROM audit_log ORDER BY id`
      )
      expect(rows.map((r) => [r.actor, r.actor_id, r.action, r.result])).toEqual([
        ["telegram", "42", "settings.update", "ok"],
        ["telegram", "42", "settings.update", "invalid"],
        ["telegram", "42", "order.reject", "ok"],
        ["telegram", "42", "command./margin", "ok"]
      ])
      expect(rows[2]!.payload).toEqual({ order_id: order.order_id, symbol: "BTC-USDT" })
      expect(rows[3]!.payload).toEqual({ args: "cross", username: "alice" })
    }).pipe(Effect.scoped, Effect.provide(quiet)), 120_000)
})

describe("BotBackend.layerLocal: no JSON round trip", () => {
  it.effect("hands the bot the very records the services return (nothing encoded, nothing decoded)", () =>
    Effect.gen(function*() {
      const record = {
        id: "7",
        idempotencyKey: "k7",
        symbol: "BTC-USDT",
        action: "buy" as const,
        positionSide: null,
        reduceOnly: false,
        quantity: BigDecimal.fromStringUnsafe("0.0100"),
        marginUsdt: null,
        price: null,
        leverage: null,
        marginMode: null,
        stopLoss: null,
        takeProfit: null,
        timestamp: null,
        receivedAt: new Date("2026-01-02T03:04:05Z"),
        orderId: "8",
        orderStatus: "pending" as const
      }
      const signals = [record]
      const positions = [{ symbol: "BTC-USDT" }]
      const report = { period: "day" }
      const services = Layer.mergeAll(
        Layer.mock(SignalServiceTag)({ recent: () => Effect.succeed(signals) }),
        Layer.mock(OrderServiceTag)({}),
        Layer.mock(PnlServiceTag)({
          periodSummary: () => Effect.succeed(report as never),
          openPositions: Effect.succeed(positions as never)
        }),
        Layer.mock(BotSettingsTag)({ owner: { userId: "1", botSessionId: "1" } }),
        Layer.mock(AuditLogTag)({}),
        Layer.mock(BotStatusPartsTag)({}),
        AppConfig.layerFrom({})
      )
      const backend = yield* Effect.provide(BotBackend, BotBackend.layerLocal.pipe(Layer.provide(services)))
      const got = yield* backend.recentSignals(5)
      expect(got).toBe(signals)
      expect(got[0]).toBe(record)
      // Not even normalised: the record's own BigDecimal (scale 4) comes through as it is.
      expect(got[0]!.quantity).toBe(record.quantity)
      expect(yield* backend.positions).toBe(positions)
      expect(yield* backend.pnl("day")).toBe(report)
    }))
})
