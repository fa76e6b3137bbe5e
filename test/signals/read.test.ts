/**
 * The read side and the bot endpoints through the real app: GET /signals (filters, limits),
 * GET /signals/{id} with orders and fills, /bot/status, /bot/settings (validated, audited),
 * /bot/reports — and the first-start announcement of the webhook with a generated token.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { Secrets } from "../../src/security/Secrets.ts"
import { alertMessage } from "../../src/signals/announce.ts"
import { count, layerTestApp, operator, postWebhook, request, TestApp, timenow } from "./support.ts"

// No TRADINGVIEW_WEBHOOK_TOKEN: it is generated on this first start.
const env = { TRADINGVIEW_WEBHOOK_TOKEN: "", BOT_REPORT_LIMIT: "2", DEFAULT_LEVERAGE: "7", DEFAULT_MARGIN_MODE: "cross" }

layer(layerTestApp(env), { excludeTestServices: true, timeout: "120 seconds" })("read API and bot endpoints", (it) => {
  const token = Effect.map(Secrets, (s) => Redacted.value(s.webhookToken))
  const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })

  it.effect("first start: the webhook URL and a ready-to-paste alert message; the secret only in the one-time print", () =>
    Effect.gen(function*() {
      const app = yield* TestApp
      const secret = yield* token
      const setup = app.printed.find((p) => p.includes("TradingView alert setup"))
      expect(setup).toBeDefined()
      expect(setup).toContain(alertMessage(secret))
      expect(setup).toContain(`${app.url}/webhook/tradingview`)
      const logged = app.logs.find((l) => l.includes("TradingView webhook: POST"))
      expect(logged).toContain(`${app.url}/webhook/tradingview`)
      expect(JSON.parse(logged!).msg).toContain(alertMessage("<TRADINGVIEW_WEBHOOK_TOKEN>"))
      expect(app.logs.join("\n")).not.toContain(secret)
      // The message works as sent by TradingView once its placeholders are substituted.
      const substituted = alertMessage(secret)
        .replace("{{ticker}}", "BINANCE:ETHUSDT.P")
        .replace("{{strategy.order.action}}", "buy")
        .replace("{{strategy.market_position}}", "long")
        .replace("{{strategy.prev_market_position}}", "flat")
        .replace("{{strategy.order.contracts}}", "1")
        .replace("{{close}}", "3000")
        .replace("{{timenow}}", timenow())
      const reply = yield* postWebhook(substituted)
      expect(reply.status).toBe(201)
      expect(reply.json).toMatchObject({ symbol: "ETH-USDT", action: "buy", position_side: "long", order_status: "awaiting_approval" })
    }))

  it.effect("GET /signals: bearer only, newest first, limit, symbol (any form) and since filters, validated", () =>
    Effect.gen(function*() {
      const secret = yield* token
      const ids: Array<string> = []
      for (const [i, symbol] of ["BTCUSDT", "SOLUSDT", "BTCUSDT"].entries()) {
        const r = yield* postWebhook({ secret, symbol, action: "buy", qty: String(i + 1), timestamp: timenow(i) })
        expect(r.status).toBe(201)
        ids.push(r.json.id)
      }
      expect((yield* request("/signals")).status).toBe(401)
      const all = yield* operator("/signals")
      expect(all.status).toBe(200)
      const listed: Array<string> = all.json.signals.map((s: { id: string }) => s.id)
      expect(listed.slice(0, 3)).toEqual([...ids].reverse())
      expect(all.json.signals[0]).toMatchObject({ symbol: "BTC-USDT", quantity: "3", order_status: "awaiting_approval" })
      expect((yield* operator("/signals?limit=1")).json.signals.map((s: { id: string }) => s.id)).toEqual([ids[2]])
      const btc = yield* operator("/signals?symbol=BINANCE:BTCUSDT.P")
      expect(btc.json.signals.map((s: { id: string }) => s.id).slice(0, 2)).toEqual([ids[2], ids[0]])
      expect(btc.json.signals.every((s: { symbol: string }) => s.symbol === "BTC-USDT")).toBe(true)
      const future = yield* operator(`/signals?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)
      expect(future.json.signals).toEqual([])
      const recent = yield* operator(`/signals?since=${Math.floor(Date.now() / 1000) - 3600}`)
      expect(recent.json.signals.length).toBeGreaterThanOrEqual(3)
      const invalid = yield* operator("/signals?limit=501&symbol=BTCUSD&since=yesterday")
      expect(invalid.status).toBe(422)
      expect(invalid.json.fields.map((f: { field: string }) => f.field)).toEqual(["limit", "symbol", "since"])
      expect((yield* operator("/signals?limit=0")).status).toBe(422)
      expect((yield* operator("/signals?limit=abc")).status).toBe(422)
    }))

  it.effect("GET /signals/{id}: the signal with its orders and their fills (exact decimals); 404 otherwise", () =>
    Effect.gen(function*() {
      const secret = yield* token
      const created = yield* postWebhook({
        secret,
        symbol: "ETHUSDT",
        action: "short",
        qty: "0.5",
        price: "3000.1",
        stop_loss: "3100",
        leverage: 3,
        timestamp: timenow()
      })
      expect(created.status).toBe(201)
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO fills (order_id, fill_key, symbol, action, position_side, quantity, price, fee, filled_at)
        VALUES (${created.json.order_id}::bigint, ${`f-${created.json.order_id}`}, 'ETH-USDT', 'sell', 'short',
                0.5, 3000.123456789, 0.00075, '2026-01-02T03:04:05Z')`
      const reply = yield* operator(`/signals/${created.json.id}`)
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({
        ...created.json,
        orders: [{
          id: created.json.order_id,
          signal_id: created.json.id,
          symbol: "ETH-USDT",
          action: "sell",
          position_side: "short",
          reduce_only: false,
          status: "awaiting_approval",
          quantity: "0.5",
          margin_usdt: null,
          filled_quantity: "0",
          price: "3000.1",
          average_price: null,
          leverage: 3,
          margin_mode: null,
          stop_loss: "3100",
          take_profit: null,
          client_order_id: null,
          exchange_order_id: null,
          reason: null,
          created_at: created.json.received_at,
          updated_at: created.json.received_at,
          fills: [{
            id: expect.any(String),
            quantity: "0.5",
            price: "3000.123456789",
            fee: "0.00075",
            fee_asset: "USDT",
            price_source: null,
            filled_at: "2026-01-02T03:04:05.000Z"
          }]
        }]
      })
      for (const id of ["999999999", "abc", "0", "1e3", "99999999999999999999999"]) {
        const missing = yield* operator(`/signals/${id}`)
        expect(missing.status, id).toBe(404)
        expect(missing.json.error).toContain("not found")
      }
    }))

  it.effect("GET /bot/status: the seed's BotState from the configured defaults", () =>
    Effect.gen(function*() {
      expect((yield* request("/bot/status")).status).toBe(401)
      const reply = yield* operator("/bot/status")
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({
        auto_trade_enabled: false,
        manual_confirmation_required: true,
        margin_mode: "cross",
        leverage: 7,
        paused: false,
        updated_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
        // The paper account's starting balance (PAPER_BALANCE_USDT, default 10000).
        balances: [{ asset: "USDT", free: "10000", locked: "0", total: "10000" }],
        // The fill the test above stored straight into the table (no fill event, no sweep yet) is in
        // the figures: a read of the book applies recorded fills first. No mark price here: unrealised 0.
        pnl: { realized: "0", unrealized: "0", total: "0", fees: "0.00075", net: "-0.00075" },
        open_positions: [expect.objectContaining({ symbol: "ETH-USDT", side: "short", quantity: "0.5", entry_price: "3000.123456789" })],
        breaker: { state: "closed", consecutive_failures: 0, open_until: null },
        trading_mode: "paper"
      })
    }))

  it.effect("POST /bot/settings: partial, validated (422 with fields), audited, and used by the next signal", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const auditsBefore = yield* count("audit_log")
      const updated = yield* operator("/bot/settings", json({ leverage: 20, margin_mode: "isolated" }))
      expect(updated.status).toBe(200)
      expect(updated.json).toMatchObject({ leverage: 20, margin_mode: "isolated", auto_trade_enabled: false, manual_confirmation_required: true })
      const [audit] = yield* sql<{ actor: string; action: string; result: string; payload: string }>`
        SELECT actor, action, result, payload::text AS payload FROM audit_log ORDER BY id DESC LIMIT 1`
      expect(audit).toMatchObject({ actor: "api", action: "settings.update", result: "ok" })
      expect(JSON.parse(audit!.payload)).toEqual({ leverage: 20, marginMode: "isolated" })
      expect(yield* count("audit_log")).toBe(auditsBefore + 1)
      // The stored session row changed too (survives a restart).
      const [row] = yield* sql<{ leverage: number; margin_mode: string }>`SELECT leverage, margin_mode FROM bot_sessions`
      expect(row).toEqual({ leverage: 20, margin_mode: "isolated" })

      const invalid = yield* operator("/bot/settings", json({ leverage: 0, margin_mode: "hedge", paused: "yes", foo: 1 }))
      expect(invalid.status).toBe(422)
      expect(invalid.json.fields).toEqual(expect.arrayContaining([
        { field: "leverage", problem: "must be a whole number from 1 to 125" },
        { field: "margin_mode", problem: "must be isolated or cross" },
        { field: "paused", problem: "must be true or false" },
        { field: "foo", problem: expect.stringContaining("is not a setting") }
      ]))
      expect(invalid.json.fields).toHaveLength(4)
      expect((yield* operator("/bot/settings", json({ leverage: 2.5 }))).status).toBe(422)
      expect((yield* operator("/bot/settings", json({}))).json.fields).toEqual([
        { field: "body", problem: expect.stringContaining("names no setting") }
      ])
      expect((yield* operator("/bot/settings", json([1]))).status).toBe(422)
      const notJson = yield* operator("/bot/settings", { method: "POST", body: "leverage=3" })
      expect(notJson.status).toBe(400)
      expect((yield* request("/bot/settings", json({ leverage: 3 }))).status).toBe(401)
      expect((yield* operator("/bot/status")).json.leverage).toBe(20)

      // Margin sizing now uses the new leverage; the order carries it.
      const secret = yield* token
      const sized = yield* postWebhook({ secret, symbol: "BTCUSDT", action: "buy", margin_usdt: "10", price: "100", timestamp: timenow() })
      expect(sized.json.quantity).toBe("2")
      const [order] = yield* sql<{ leverage: number }>`SELECT leverage FROM orders WHERE id = ${sized.json.order_id}::bigint`
      expect(order!.leverage).toBe(20)
    }))

  it.effect("GET /bot/reports: recent signals, BOT_REPORT_LIMIT by default", () =>
    Effect.gen(function*() {
      const byDefault = yield* operator("/bot/reports")
      expect(byDefault.status).toBe(200)
      expect(byDefault.json.signals).toHaveLength(2)
      const latest = yield* operator("/signals?limit=2")
      expect(byDefault.json.signals).toEqual(latest.json.signals)
      expect((yield* operator("/bot/reports?limit=1")).json.signals).toHaveLength(1)
      expect((yield* operator("/bot/reports?limit=0")).status).toBe(422)
      expect((yield* request("/bot/reports")).status).toBe(401)
    }))

  // Last: it adds thousands of rows. A signal's first order (every signal read, the answer to a
  // duplicate alert) once walked orders_pkey filtering on signal_id — 38,000 rows per lookup.
  it.effect("a signal's first order is one index probe, not a walk of every order", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`WITH s AS (
          INSERT INTO signals (idempotency_key, symbol, action, raw_payload)
          SELECT 'plan-' || n, 'BTC-USDT', 'buy', '{}'::jsonb FROM generate_series(1, 5000) n RETURNING id)
        INSERT INTO orders (signal_id, symbol, action, status) SELECT id, 'BTC-USDT', 'buy', 'skipped' FROM s`
      yield* sql`ANALYZE orders`
      yield* sql`ANALYZE signals`
      const plan = yield* sql<{ "QUERY PLAN": string }>`EXPLAIN SELECT s.id, o.id FROM signals s
        LEFT JOIN LATERAL (SELECT id, status FROM orders WHERE signal_id = s.id ORDER BY id LIMIT 1) o ON true
        WHERE s.idempotency_key = 'plan-4999'`
      const text = plan.map((r) => r["QUERY PLAN"]).join("\n")
      expect(text).toContain("orders_signal_id_idx")
      expect(text).not.toContain("orders_pkey")
      const reply = yield* operator("/signals?limit=1")
      expect(reply.status).toBe(200)
    }))
})
