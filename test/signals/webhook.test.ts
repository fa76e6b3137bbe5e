/**
 * The TradingView webhook through the real HTTP stack (appLayer, role api) on PGlite or
 * TEST_DATABASE_URL: real-world templates, every rejection path, duplicates under concurrency,
 * persisted-before-acknowledged, stale → expired, and any JSON body never answering 5xx.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import fc from "fast-check"
import { alertMessage } from "../../src/signals/announce.ts"
import {
  API_TOKEN,
  count,
  drainQueue,
  layerTestApp,
  NEXT_WEBHOOK_TOKEN,
  operator,
  postWebhook,
  request,
  stored,
  TestApp,
  timenow,
  uniqueId,
  WEBHOOK_TOKEN
} from "./support.ts"

const T = WEBHOOK_TOKEN

interface Template {
  readonly name: string
  /** Body given the alert time (unique per case, so cases never dedupe each other). */
  readonly body: (time: string) => unknown
  readonly path?: string
  readonly headers?: Record<string, string>
  readonly contentType?: string
  /** Expected stored signal fields (decimals as exact strings). */
  readonly signal: Record<string, unknown>
  /** Expected stored order fields. */
  readonly order?: Record<string, unknown>
}

const templates: ReadonlyArray<Template> = [
  {
    name: "the ready-to-paste alert message, substituted (JSON, secret in body)",
    body: (time) =>
      JSON.parse(
        alertMessage(T)
          .replace("{{ticker}}", "BINANCE:BTCUSDT.P")
          .replace("{{strategy.order.action}}", "buy")
          .replace("{{strategy.market_position}}", "long")
          .replace("{{strategy.prev_market_position}}", "flat")
          .replace("{{strategy.order.contracts}}", "0.010")
          .replace("{{close}}", "65000.50")
          .replace("{{timenow}}", time)
      ),
    signal: { symbol: "BTC-USDT", action: "buy", position_side: "long", reduce_only: false, quantity: "0.01", price: "65000.5" },
    order: { status: "pending", quantity: "0.01", price: "65000.5", client_order_id: null }
  },
  {
    name: "the alert message on a BingX perpetual chart: {{ticker}} = BTCUSDT.PS (BINGX:BTCUSDT.PS)",
    body: (time) =>
      JSON.parse(
        alertMessage(T)
          .replace("{{ticker}}", "BTCUSDT.PS")
          .replace("{{strategy.order.action}}", "sell")
          .replace("{{strategy.market_position}}", "short")
          .replace("{{strategy.prev_market_position}}", "flat")
          .replace("{{strategy.order.contracts}}", "0.02")
          .replace("{{close}}", "65000.5")
          .replace("{{timenow}}", time)
      ),
    signal: { symbol: "BTC-USDT", action: "sell", position_side: "short", reduce_only: false, quantity: "0.02" }
  },
  {
    name: "3Commas-style pair, quote first (USDT_ETH)",
    body: (time) => ({ secret: T, pair: "USDT_ETH", action: "buy", qty: "0.5", timestamp: time }),
    signal: { symbol: "ETH-USDT", action: "buy", quantity: "0.5" }
  },
  {
    name: "same JSON sent as text/plain",
    contentType: "text/plain",
    body: (time) =>
      JSON.stringify({ secret: T, symbol: "ETHUSDT", action: "sell", market_position: "flat", prev_market_position: "long", quantity: "2", timestamp: time }),
    signal: { symbol: "ETH-USDT", action: "sell", position_side: "long", reduce_only: true, quantity: "2", price: null }
  },
  {
    name: "token in the path",
    path: `/webhook/tradingview/${T}`,
    body: (time) => ({ symbol: "SOLUSDT", action: "long", qty: 3, timestamp: time }),
    signal: { symbol: "SOL-USDT", action: "buy", position_side: "long", reduce_only: false, quantity: "3" }
  },
  {
    name: "token in ?token=",
    path: `/webhook/tradingview?token=${T}`,
    body: (time) => ({ symbol: "XRP/USDT", action: "SHORT_SELL", qty: "100", timestamp: time }),
    signal: { symbol: "XRP-USDT", action: "sell", position_side: "short", reduce_only: false, quantity: "100" }
  },
  {
    name: "token in X-TRADINGVIEW-TOKEN (the seed's header)",
    headers: { "X-TRADINGVIEW-TOKEN": T },
    body: (time) => ({ symbol: "BTCUSDT", action: "buy", quantity: 0.002, timestamp: time, confidence: 0.7 }),
    signal: { symbol: "BTC-USDT", action: "buy", position_side: null, reduce_only: false, quantity: "0.002" }
  },
  {
    name: "passphrase, numbers as strings, leverage and margin mode",
    body: (time) => ({
      passphrase: T,
      ticker: "BYBIT:ETHUSDT.P",
      side: "SELL",
      qty: "0.50",
      price: "3000.10",
      leverage: "10",
      margin_mode: "CROSSED",
      timenow: time
    }),
    signal: { symbol: "ETH-USDT", action: "sell", position_side: null, quantity: "0.5", price: "3000.1", leverage: 10, margin_mode: "cross" },
    order: { leverage: 10, margin_mode: "cross", price: "3000.1" }
  },
  {
    name: "fabston-style key + hedge action word + JSON number contracts",
    body: (time) => ({ key: T, symbol: "BNBUSDT", signal: "LONG_SELL", contracts: 2, time }),
    signal: { symbol: "BNB-USDT", action: "sell", position_side: "long", reduce_only: true, quantity: "2" }
  },
  {
    name: "OctoBot KEY=VALUE text with TOKEN= line",
    body: (time) => `EXCHANGE=binance\nSYMBOL=BTCUSDT\nSIGNAL=BUY\nVOLUME=0.01\nTIMESTAMP=${time}\nTOKEN=${T}`,
    signal: { symbol: "BTC-USDT", action: "buy", position_side: null, quantity: "0.01" }
  },
  {
    name: "text with ';' separators and lowercase keys",
    body: (time) => `symbol=DOGEUSDT;action=short_buy;qty=300;timenow=${time};token=${T}`,
    signal: { symbol: "DOGE-USDT", action: "buy", position_side: "short", reduce_only: true, quantity: "300" }
  },
  {
    name: "form-encoded (a relay that posts application/x-www-form-urlencoded)",
    contentType: "application/x-www-form-urlencoded",
    body: (time) => `symbol=ETHUSDT&action=long&qty=0.3&timestamp=${encodeURIComponent(time)}&token=${T}`,
    signal: { symbol: "ETH-USDT", action: "buy", position_side: "long", quantity: "0.3" }
  },
  {
    name: "TradersPost sentiment flat (sell closes a long)",
    body: (time) => ({ secret: T, ticker: "BTCUSDT", action: "sell", sentiment: "flat", quantity: "0.01", price: "65000", timestamp: time }),
    signal: { symbol: "BTC-USDT", action: "sell", position_side: "long", reduce_only: true }
  },
  {
    name: "the _NEXT token during rotation",
    body: (time) => ({ secret: NEXT_WEBHOOK_TOKEN, symbol: "ADAUSDT", action: "exit_short", qty: "10", timestamp: time }),
    signal: { symbol: "ADA-USDT", action: "buy", position_side: "short", reduce_only: true, quantity: "10" }
  },
  {
    name: "margin sizing with a price: qty = margin × leverage ÷ price",
    body: (time) => ({ secret: T, symbol: "1000PEPEUSDT", action: "long", margin_usdt: "20", leverage: "10", price: "0.0125", timestamp: time }),
    signal: { symbol: "1000PEPE-USDT", quantity: "16000", margin_usdt: "20", leverage: 10 },
    order: { quantity: "16000", margin_usdt: "20", leverage: 10 }
  },
  {
    name: "margin without a price: the actor sizes it (margin_usdt on the order)",
    body: (time) => ({ secret: T, symbol: "LINKUSDT", action: "buy", margin: 50, timestamp: time }),
    signal: { symbol: "LINK-USDT", quantity: null, margin_usdt: "50", leverage: null },
    order: { quantity: null, margin_usdt: "50", leverage: null }
  },
  {
    name: "ccxt symbol, close_short, amount",
    body: (time) => ({ secret: T, symbol: "BTC/USDT:USDT", action: "Close Short", amount: "1", timestamp: time }),
    signal: { symbol: "BTC-USDT", action: "buy", position_side: "short", reduce_only: true, quantity: "1" }
  },
  {
    name: "exact JSON numbers (beyond double precision)",
    contentType: "application/json",
    body: (time) => `{"secret":"${T}","symbol":"BTCUSDT","action":"buy","qty":0.001,"price":64000.123456789012345678,"timestamp":"${time}"}`,
    signal: { quantity: "0.001", price: "64000.123456789012345678" }
  },
  {
    name: "epoch-millisecond timestamp",
    body: (time) => ({ secret: T, symbol: "BTCUSDT", action: "buy", qty: "1", timestamp: String(Date.parse(time)) }),
    signal: { quantity: "1" }
  },
  {
    name: "stop-loss and take-profit on an entry travel with the order",
    body: (time) => ({ secret: T, symbol: "BTCUSDT", action: "long", qty: "1", price: "100", stop_loss: "95", take_profit: "120.5", timestamp: time }),
    signal: { stop_loss: "95", take_profit: "120.5" },
    order: { stop_loss: "95", take_profit: "120.5" }
  },
  {
    name: "…but not with a close",
    body: (time) => ({ secret: T, symbol: "BTCUSDT", action: "close_long", qty: "1", stop_loss: "95", timestamp: time }),
    signal: { stop_loss: "95", reduce_only: true },
    order: { stop_loss: null, reduce_only: true }
  }
]

const appEnv = { AUTO_TRADE_ENABLED: "true", MANUAL_CONFIRMATION_REQUIRED: "false", TRADINGVIEW_WEBHOOK_TOKEN_NEXT: NEXT_WEBHOOK_TOKEN }

layer(layerTestApp(appEnv), { excludeTestServices: true, timeout: "120 seconds" })("webhook", (it) => {
  it.effect("real-world templates are stored normalised, with a pending order, enqueued and notified", () =>
    Effect.gen(function*() {
      const app = yield* TestApp
      yield* drainQueue
      const orderIds: Array<string> = []
      for (const [i, t] of templates.entries()) {
        const time = timenow(i)
        const reply = yield* postWebhook(t.body(time), {
          ...(t.path ? { path: t.path } : {}),
          ...(t.headers ? { headers: t.headers } : {}),
          ...(t.contentType ? { contentType: t.contentType } : {})
        })
        expect(reply.status, `${t.name}: ${reply.text}`).toBe(201)
        const { signal, orders } = yield* stored(reply.json.id)
        expect(signal, t.name).toMatchObject(t.signal)
        expect(orders, t.name).toHaveLength(1)
        const order = orders[0]!
        orderIds.push(order.id)
        expect(order, t.name).toMatchObject({
          status: "pending",
          symbol: signal!.symbol,
          action: signal!.action,
          position_side: signal!.position_side,
          reduce_only: signal!.reduce_only,
          client_order_id: null,
          user_id: signal!.user_id,
          bot_session_id: signal!.bot_session_id,
          ...t.order
        })
        // The answer is the stored signal.
        expect(reply.json, t.name).toMatchObject({
          id: signal!.id,
          symbol: signal!.symbol,
          action: signal!.action,
          position_side: signal!.position_side,
          reduce_only: signal!.reduce_only,
          quantity: signal!.quantity,
          price: signal!.price,
          order_id: order.id,
          order_status: "pending"
        })
        expect(Date.parse(reply.json.timestamp), t.name).toBe(Date.parse(time))
        // The token is never stored.
        expect(signal!.raw_payload, t.name).not.toContain(T)
        expect(signal!.raw_payload, t.name).not.toContain(NEXT_WEBHOOK_TOKEN)
      }
      const queued = yield* drainQueue
      expect(queued.map((q) => q.orderId)).toEqual(orderIds)
      const notified = app.notifications.flatMap((n) => (n._tag === "SignalReceived" ? [n.orderId] : []))
      expect(notified).toEqual(expect.arrayContaining(orderIds))
      // Neither logs nor anything else printed the webhook token.
      expect(app.logs.join("\n")).not.toContain(T)
    }))

  it.effect("the raw payload keeps the body with secrets redacted", () =>
    Effect.gen(function*() {
      const json = yield* postWebhook({ secret: T, symbol: "BTCUSDT", action: "buy", qty: "1", comment: "entry #1", id: uniqueId() })
      expect(json.status).toBe(201)
      const a = yield* stored(json.json.id)
      expect(JSON.parse(a.signal!.raw_payload)).toMatchObject({
        format: "json",
        body: { secret: "[redacted]", symbol: "BTCUSDT", action: "buy", qty: "1", comment: "entry #1" }
      })
      const text = yield* postWebhook(`SYMBOL=BTCUSDT\nACTION=sell\nQTY=1\nID=${uniqueId()}\nTOKEN=${T}`)
      expect(text.status).toBe(201)
      const b = yield* stored(text.json.id)
      const raw = JSON.parse(b.signal!.raw_payload)
      expect(raw).toMatchObject({ format: "text", fields: { SYMBOL: "BTCUSDT", TOKEN: "[redacted]" } })
      expect(raw.text).toContain("TOKEN=[redacted]")
      expect(b.signal!.raw_payload).not.toContain(T)
      // Postgres refuses NUL and lone surrogates in jsonb: they are replaced, the alert is stored.
      const odd = yield* postWebhook(
        `{"secret":"${T}","symbol":"BTCUSDT","action":"buy","qty":"1","id":"${uniqueId()}","note":"a\\u0000b\\ud800"}`,
        { contentType: "application/json" }
      )
      expect(odd.status).toBe(201)
      expect(JSON.parse((yield* stored(odd.json.id)).signal!.raw_payload).body.note).toBe("a\uFFFDb\uFFFD")
    }))

  it.effect("an actions list: one signal per action, in order, in one go; a repeat creates nothing", () =>
    Effect.gen(function*() {
      yield* drainQueue
      const body = { secret: T, symbol: "BTCUSDT", actions: ["long_buy", ["short_sell", "LONG_BUY"]], qty: "1", timestamp: timenow() }
      const first = yield* postWebhook(body)
      expect(first.status).toBe(201)
      expect(first.json.signals.map((s: { action: string; position_side: string }) => [s.action, s.position_side])).toEqual([
        ["buy", "long"],
        ["sell", "short"]
      ])
      const [a, b] = first.json.signals
      expect(Number(b.id)).toBeGreaterThan(Number(a.id))
      expect((yield* drainQueue).map((q) => q.orderId)).toEqual([a.order_id, b.order_id])
      const again = yield* postWebhook(body)
      expect(again.status).toBe(200)
      expect(again.json.signals.map((s: { id: string }) => s.id)).toEqual([a.id, b.id])
      expect(yield* drainQueue).toEqual([])
    }))

  it.effect("50 parallel posts of the same alert: one signal, one order, one 201, 49 × 200 with its body", () =>
    Effect.gen(function*() {
      const app = yield* TestApp
      yield* drainQueue
      const before = { signals: yield* count("signals"), orders: yield* count("orders") }
      const sentBefore = app.notifications.length
      const body = { secret: T, symbol: "ETHUSDT", action: "buy", qty: "0.25", timestamp: timenow() }
      const replies = yield* Effect.all(Array.from({ length: 50 }, () => postWebhook(body)), { concurrency: "unbounded" })
      const statuses = replies.map((r) => r.status).sort()
      expect(statuses.filter((s) => s === 201)).toHaveLength(1)
      expect(statuses.filter((s) => s === 200)).toHaveLength(49)
      const created = replies.find((r) => r.status === 201)!.json
      for (const r of replies) expect(r.json).toEqual(created)
      expect(yield* count("signals")).toBe(before.signals + 1)
      expect(yield* count("orders")).toBe(before.orders + 1)
      expect((yield* drainQueue).map((q) => q.orderId)).toEqual([created.order_id])
      expect(app.notifications.length).toBe(sentBefore + 1)
    }), { timeout: 60_000 })

  it.effect("acknowledged only after the signal and its order are committed and the order is queued", () =>
    Effect.gen(function*() {
      const app = yield* TestApp
      yield* drainQueue
      const reply = yield* postWebhook({ secret: T, symbol: "AVAXUSDT", action: "buy", qty: "4", timestamp: timenow() })
      expect(reply.status).toBe(201)
      // Read from a fresh statement right after the answer: both rows are there.
      const { signal, orders } = yield* stored(reply.json.id)
      expect(signal?.symbol).toBe("AVAX-USDT")
      expect(orders.map((o) => [o.id, o.status])).toEqual([[reply.json.order_id, "pending"]])
      const [queued] = yield* drainQueue
      expect(queued).toMatchObject({ orderId: reply.json.order_id, symbol: "AVAX-USDT" })
      expect(queued!.parentSpan).toBeDefined()
      expect(app.notifications.at(-1)).toEqual({
        _tag: "SignalReceived",
        signalId: reply.json.id,
        orderId: reply.json.order_id,
        symbol: "AVAX-USDT",
        action: "buy",
        positionSide: null,
        reduceOnly: false,
        quantity: "4",
        price: null,
        orderStatus: "pending"
      })
    }))

  it.effect("stale: older than SIGNAL_MAX_AGE_SECONDS → stored, order expired with a reason, 202, never queued", () =>
    Effect.gen(function*() {
      yield* drainQueue
      const reply = yield* postWebhook({ secret: T, symbol: "BTCUSDT", action: "buy", qty: "1", timestamp: timenow(120) })
      expect(reply.status).toBe(202)
      expect(reply.json.order_status).toBe("expired")
      const { orders } = yield* stored(reply.json.id)
      expect(orders[0]).toMatchObject({ status: "expired", reason: expect.stringContaining("SIGNAL_MAX_AGE_SECONDS=60") })
      expect(yield* drainQueue).toEqual([])
    }))

  it.effect("the order's first status follows the bot settings (read from memory, updated through the API)", () =>
    Effect.gen(function*() {
      const post = () => postWebhook({ secret: T, symbol: "BTCUSDT", action: "buy", qty: "1", id: uniqueId() })
      const settings = (body: object) =>
        operator("/bot/settings", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })
      yield* drainQueue
      expect((yield* settings({ manual_confirmation_required: true })).status).toBe(200)
      const awaiting = yield* post()
      expect(awaiting.json.order_status).toBe("awaiting_approval")
      expect((yield* settings({ manual_confirmation_required: false, auto_trade_enabled: false })).status).toBe(200)
      const off = yield* post()
      expect(off.json.order_status).toBe("skipped")
      expect((yield* stored(off.json.id)).orders[0]!.reason).toBe("auto-trade is off")
      expect((yield* settings({ auto_trade_enabled: true, paused: true })).status).toBe(200)
      const paused = yield* post()
      expect(paused.json.order_status).toBe("skipped")
      expect((yield* settings({ paused: false })).status).toBe(200)
      const pending = yield* post()
      expect(pending.json.order_status).toBe("pending")
      expect((yield* drainQueue).map((q) => q.orderId)).toEqual([pending.json.order_id])
    }))

  interface Rejection {
    readonly name: string
    readonly body: unknown
    readonly path?: string
    readonly headers?: Record<string, string>
    readonly status: number
    readonly error: string
    readonly fields?: ReadonlyArray<{ field: string; problem: unknown }>
  }
  const rejections: ReadonlyArray<Rejection> = [
    { name: "no token", body: { symbol: "BTCUSDT", action: "buy", qty: 1 }, status: 401, error: "missing or invalid webhook token" },
    { name: "wrong token", body: { secret: "nope", symbol: "BTCUSDT", action: "buy", qty: 1 }, status: 401, error: "invalid webhook token" },
    {
      name: "wrong path token wins over a right body token",
      path: "/webhook/tradingview/nope",
      body: { secret: T, symbol: "BTCUSDT", action: "buy", qty: 1 },
      status: 401,
      error: "invalid webhook token"
    },
    { name: "wrong header token", headers: { "x-tradingview-token": "nope" }, body: { symbol: "BTCUSDT" }, status: 401, error: "invalid webhook token" },
    { name: "unparseable without a token", body: "hello there", status: 401, error: "invalid webhook token" },
    {
      name: "not KEY=VALUE (token in the path)",
      path: `/webhook/tradingview/${T}`,
      body: "buy BTCUSDT now",
      status: 400,
      error: "body is neither a JSON object nor KEY=VALUE lines"
    },
    {
      name: "broken JSON with an unquoted placeholder (token still recognised)",
      body: `{"secret": "${T}", "symbol": "BTCUSDT", "price": {{close}}}`,
      status: 400,
      error: "did not substitute"
    },
    { name: "JSON array", path: `/webhook/tradingview/${T}`, body: [1, 2], status: 400, error: "got an array" },
    { name: "empty body", path: `/webhook/tradingview/${T}`, body: "", status: 400, error: "body is empty" },
    {
      name: "unknown action",
      body: { secret: T, symbol: "BTCUSDT", action: "hodl", qty: 1 },
      status: 422,
      error: "invalid signal",
      fields: [{ field: "action", problem: expect.stringContaining("\"hodl\" is not an action") }]
    },
    {
      name: "unsubstituted placeholders",
      body: { secret: T, symbol: "{{ticker}}", action: "{{strategy.order.action}}", qty: "{{strategy.order.contracts}}" },
      status: 422,
      error: "invalid signal",
      fields: [
        { field: "symbol", problem: expect.stringContaining("placeholder {{ticker}}") },
        { field: "action", problem: expect.stringContaining("placeholder {{strategy.order.action}}") },
        { field: "qty", problem: expect.stringContaining("placeholder {{strategy.order.contracts}}") }
      ]
    },
    {
      name: "missing quantity",
      body: { secret: T, symbol: "BTCUSDT", action: "buy" },
      status: 422,
      error: "invalid signal",
      fields: [{ field: "quantity", problem: expect.stringContaining("is missing") }]
    },
    {
      name: "non-positive quantity",
      body: { secret: T, symbol: "BTCUSDT", action: "buy", quantity: "0" },
      status: 422,
      error: "invalid signal",
      fields: [{ field: "quantity", problem: "must be greater than 0 (got \"0\")" }]
    },
    {
      name: "bad leverage and margin mode",
      body: { secret: T, symbol: "BTCUSDT", action: "buy", qty: 1, leverage: 0, margin_mode: "hedged" },
      status: 422,
      error: "invalid signal",
      fields: [
        { field: "leverage", problem: "\"0\" must be a whole number from 1 to 125" },
        { field: "margin_mode", problem: "\"hedged\" must be isolated or cross" }
      ]
    },
    {
      name: "timestamp in the future beyond the skew",
      body: { secret: T, symbol: "BTCUSDT", action: "buy", qty: 1, timestamp: timenow(-600) },
      status: 422,
      error: "invalid signal",
      fields: [{ field: "timestamp", problem: expect.stringContaining("in the future") }]
    },
    {
      name: "unknown symbol form",
      body: { secret: T, symbol: "BTCUSD", action: "buy", qty: 1 },
      status: 422,
      error: "invalid signal",
      fields: [{ field: "symbol", problem: expect.stringContaining("BASE-USDT") }]
    },
    {
      name: "BingX coin-margined ticker (BINGX:BTCUSD.PS)",
      body: { secret: T, symbol: "BINGX:BTCUSD.PS", action: "buy", qty: 1 },
      status: 422,
      error: "invalid signal",
      fields: [{ field: "symbol", problem: expect.stringContaining("\"BINGX:BTCUSD.PS\" is not a symbol we can trade: BingX perpetuals are BASE-USDT or BASE-USDC") }]
    },
    {
      name: "close without a side",
      body: { secret: T, symbol: "BTCUSDT", action: "close", qty: 1 },
      status: 422,
      error: "invalid signal",
      fields: [{ field: "action", problem: expect.stringContaining("cannot tell which position to close") }]
    },
    {
      name: "NaN/Infinity",
      body: `{"secret":"${T}","symbol":"BTCUSDT","action":"buy","qty":"NaN","price":"Infinity"}`,
      status: 422,
      error: "invalid signal",
      fields: [
        { field: "qty", problem: "\"NaN\" is not a decimal number (write it like \"0.01\")" },
        { field: "price", problem: "\"Infinity\" is not a decimal number (write it like \"0.01\")" }
      ]
    }
  ]

  it.effect("every rejection path answers its status and field list, stores nothing and is counted", () =>
    Effect.gen(function*() {
      const before = { signals: yield* count("signals"), orders: yield* count("orders") }
      for (const r of rejections) {
        const reply = yield* postWebhook(r.body, { ...(r.path ? { path: r.path } : {}), ...(r.headers ? { headers: r.headers } : {}) })
        expect(reply.status, `${r.name}: ${reply.text}`).toBe(r.status)
        expect(reply.json.error, r.name).toContain(r.error)
        expect(reply.json.fields, r.name).toEqual(r.fields ?? [])
        if (r.status === 401) expect(reply.json.error).not.toContain(T)
      }
      expect(yield* count("signals")).toBe(before.signals)
      expect(yield* count("orders")).toBe(before.orders)
      const metrics = (yield* request("/metrics")).text
      for (const reason of ["unauthorized", "bad_body", "invalid"]) {
        expect(metrics).toMatch(new RegExp(`tradingview_webhook_rejections_total\\{reason="${reason}"\\} [1-9]`))
      }
      expect((yield* TestApp).logs.join("\n")).not.toContain(T)
    }))

  it.effect("bodies over 64 KiB are refused with 413, with or without Content-Length", () =>
    Effect.gen(function*() {
      const big = JSON.stringify({ secret: T, symbol: "BTCUSDT", action: "buy", qty: 1, pad: "x".repeat(70 * 1024) })
      const declared = yield* postWebhook(big)
      expect(declared.status).toBe(413)
      expect(declared.json.error).toContain("64 KiB")
      // Chunked, no Content-Length: the limit applies while reading.
      const app = yield* TestApp
      const chunked = yield* Effect.promise(() =>
        fetch(`${app.url}/webhook/tradingview/${T}`, {
          method: "POST",
          body: new ReadableStream({
            start(controller) {
              for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)))
              controller.close()
            }
          }),
          duplex: "half"
        } as RequestInit).then(async (r) => ({ status: r.status, text: await r.text() }))
      )
      expect(chunked.status).toBe(413)
      expect(JSON.parse(chunked.text).error).toContain("64 KiB")
      expect((yield* request("/metrics")).text).toMatch(/tradingview_webhook_rejections_total\{reason="too_large"\} [2-9]/)
    }))

  it.effect("property: any JSON value (or text) as the body never yields 5xx", () =>
    Effect.gen(function*() {
      const app = yield* TestApp
      const near = fc.dictionary(
        fc.constantFrom("symbol", "ticker", "action", "actions", "qty", "quantity", "price", "margin_usdt", "leverage",
          "margin_mode", "stop_loss", "take_profit", "timestamp", "id", "market_position", "position_side", "sl", "other"),
        fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("BTCUSDT", "buy", "close", "1", "-1", "1e9", "{{close}}", "\u0000", "\ud800")),
        { maxKeys: 8 }
      )
      // Alerts that are often valid, carrying odd values elsewhere (they reach the stored payload).
      const plausible = fc.tuple(
        near,
        fc.record({
          symbol: fc.constantFrom("BTCUSDT", "ETHUSDT.P", "1000PEPEUSDT"),
          action: fc.constantFrom("buy", "sell", "LONG_BUY", "close_long"),
          qty: fc.constantFrom("1", "0.5", 2),
          note: fc.string({ unit: "binary", maxLength: 20 }),
          "odd\u0000\ud800key": fc.jsonValue({ maxDepth: 3 })
        })
      ).map(([extra, main]) => JSON.stringify({ ...extra, ...main }))
      const body = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        near.map((v) => JSON.stringify(v)),
        plausible,
        fc.string({ unit: "binary", maxLength: 200 })
      )
      let stored = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(body, async (text) => {
            const r = await fetch(`${app.url}/webhook/tradingview/${T}`, { method: "POST", body: text })
            const reply = await r.text()
            expect(r.status, `${JSON.stringify(text)} → ${reply}`).toBeLessThan(500)
            if (r.status >= 400) expect(JSON.parse(reply).error).toEqual(expect.any(String))
            if (r.status === 201) stored++
          }),
          { numRuns: 200 }
        )
      )
      expect(stored).toBeGreaterThan(0)
    }), { timeout: 120_000 })

  it.effect("NUL characters and lone surrogates: a printable answer, never 5xx (found by the property above)", () =>
    Effect.gen(function*() {
      // In the id: refused with a field problem.
      const badId = yield* postWebhook(`{"secret":"${T}","id":"\\u0000","symbol":"BTCUSDT","action":"buy","qty":"1"}`)
      expect(badId.status).toBe(422)
      // Elsewhere (values and keys): stored, with U+FFFD in the raw payload.
      const odd = yield* postWebhook(
        `{"secret":"${T}","id":"${uniqueId()}","symbol":"BTCUSDT","action":"buy","qty":"1","note":"a\\u0000b","odd\\u0000\\ud800key":false}`
      )
      expect(odd.status).toBe(201)
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ raw: string }>`SELECT raw_payload::text AS raw FROM signals WHERE id = ${odd.json.id}::bigint`
      expect(JSON.parse(row!.raw).body).toMatchObject({ note: "a\ufffdb", "odd\ufffd\ufffdkey": false })
    }))

  it.effect("the bearer token does not open the webhook, nor the webhook token the operator API", () =>
    Effect.gen(function*() {
      const viaApiToken = yield* postWebhook({ secret: API_TOKEN, symbol: "BTCUSDT", action: "buy", qty: 1 })
      expect(viaApiToken.status).toBe(401)
      const viaWebhookToken = yield* request("/signals", { headers: { authorization: `Bearer ${T}` } })
      expect(viaWebhookToken.status).toBe(401)
    }))

  it.effect("the stored signal row carries the owner from the bot settings", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const reply = yield* postWebhook({ secret: T, symbol: "BTCUSDT", action: "buy", qty: "1", id: uniqueId() })
      const [owner] = yield* sql<{ user_id: string; id: string }>`
        SELECT user_id::text AS user_id, id::text AS id FROM bot_sessions LIMIT 1`
      const { signal, orders } = yield* stored(reply.json.id)
      expect([signal!.user_id, signal!.bot_session_id]).toEqual([owner!.user_id, owner!.id])
      expect([orders[0]!.user_id, orders[0]!.bot_session_id]).toEqual([owner!.user_id, owner!.id])
    }))
})
