/**
 * The whole flow through the real app composition (`appLayer`, in-process) — the "done when" of the
 * order-execution, PnL and observability issues:
 * - live (TRADING_MODE=live against the BingX fake), auto-trade on: a TradingView-style webhook becomes
 *   exactly one correctly signed order at the fake and a `filled` order in GET /orders; `/metrics`
 *   exports every metric of the catalog with its type; one trace runs from the webhook request through
 *   `SignalService.ingest` and the queue to `OrderService.handle_signal` and the exchange call.
 * - paper (nothing configured but the tokens): a sequence of trades; GET /pnl, the PnL gauges on
 *   /metrics and /bot/status agree with each other and with a hand computation.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseExposition } from "../../scripts/lib/exposition.ts"
import { catalog } from "../../src/telemetry/metrics.ts"
import { makeFakeBingx } from "../fakes/bingx.ts"
import { startInProcessApp, type InProcessApp } from "../support/inProcessApp.ts"
import { liveEnv } from "../support/bingx.ts"
import { expectTraceChain, makeOtlpReceiver, SpanKind } from "../support/otlp.ts"

const API_TOKEN = "flow-api-token-0123456789"
const WEBHOOK_TOKEN = "flow-webhook-token-0123456789"
const APP_TIMEOUT = 120_000

const autoTrade = {
  ROLE: "api",
  API_TOKEN,
  TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
  AUTO_TRADE_ENABLED: "true",
  MANUAL_CONFIRMATION_REQUIRED: "false",
  LOG_LEVEL: "warn"
}

const timenow = () => new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000Z", "Z")
let sequence = 0
const alertId = () => `flow-${process.pid}-${Date.now()}-${++sequence}`

/** What TradingView sends: the alert message as a text/plain body. */
const webhook = (app: InProcessApp, fields: Record<string, string>) =>
  Effect.promise(async () => {
    const body = JSON.stringify({ secret: WEBHOOK_TOKEN, id: alertId(), timestamp: timenow(), ...fields })
    const response = await fetch(`${app.api}/webhook/tradingview`, { method: "POST", body, headers: { "content-type": "text/plain" } })
    return { status: response.status, body: await response.json() as Record<string, any> }
  })

const operator = (app: InProcessApp, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${app.api}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
    const type = response.headers.get("content-type") ?? ""
    return { status: response.status, body: (type.includes("json") ? await response.json() : await response.text()) as any }
  })

/** Polls GET /orders/{id} until the order reaches `status`. */
const orderReaches = (app: InProcessApp, id: string, status: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 15_000
    let last: any
    while (Date.now() < deadline) {
      last = (yield* operator(app, `/orders/${id}`)).body
      if (last.status === status) return last
      yield* Effect.sleep("50 millis")
    }
    throw new Error(`order ${id} did not reach ${status}: ${JSON.stringify(last)}`)
  })

/** The value of sample `name` (a histogram's `_count`/`_sum` too) with these labels, if exported. */
const sampleValue = (text: string, name: string, labels: Record<string, string> = {}) => {
  for (const family of parseExposition(text).families.values()) {
    const sample = family.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    if (sample !== undefined) return sample.value
  }
  return undefined
}

describe("end to end", () => {
  it.live("live: webhook → one signed order at the fake → filled; every metric exported; one trace", () =>
    Effect.gen(function*() {
      const receiver = yield* makeOtlpReceiver
      const fake = yield* makeFakeBingx()
      const { order, metrics } = yield* Effect.scoped(Effect.gen(function*() {
        const app = yield* startInProcessApp({
          ...autoTrade,
          ...liveEnv(fake),
          TELEMETRY_ENABLED: "true",
          TELEMETRY_OTLP_ENDPOINT: receiver.url,
          TELEMETRY_SAMPLE_RATIO: "1"
        })
        const accepted = yield* webhook(app, {
          symbol: "BINANCE:BTCUSDT.P",
          action: "buy",
          market_position: "long",
          prev_market_position: "flat",
          quantity: "0.01"
        })
        expect(accepted.status).toBe(201)
        expect(accepted.body).toMatchObject({ symbol: "BTC-USDT", action: "buy", position_side: "long", order_status: "pending" })
        const order = yield* orderReaches(app, accepted.body.order_id, "filled")
        const metrics = yield* operator(app, "/metrics")
        return { order, metrics: metrics.body as string }
      }))
      // The app is stopped: telemetry flushed.

      // Exactly one order at the exchange, signed, with our clientOrderId.
      const posts = fake.requests("/openApi/swap/v2/trade/order", "POST")
      expect(posts).toHaveLength(1)
      expect(posts[0]!.signatureValid).toBe(true)
      expect(posts[0]!.params).toMatchObject({
        symbol: "BTC-USDT",
        side: "BUY",
        positionSide: "BOTH",
        type: "MARKET",
        quantity: "0.01",
        clientOrderId: order.client_order_id
      })
      expect(order).toMatchObject({ symbol: "BTC-USDT", status: "filled", filled_quantity: "0.01", average_price: "65000.5" })
      expect(order.exchange_order_id).toMatch(/^\d{19}$/)
      expect(order.fills).toHaveLength(1)

      // /metrics: every backend metric of the catalog, with its type; the flow left its marks.
      const families = parseExposition(metrics).families
      for (const entry of catalog.filter((e) => e.exporter === "backend")) {
        const family = families.get(entry.metric.id)
        expect(family, entry.metric.id).toBeDefined()
        expect(family!.type, entry.metric.id).toBe(entry.metric.type.toLowerCase())
      }
      expect(sampleValue(metrics, "tradingview_signals_ingested_total", { symbol: "BTC-USDT", action: "buy" })).toBe(1)
      expect(sampleValue(metrics, "tradingview_signal_ingest_duration_seconds_count", { symbol: "BTC-USDT" })).toBe(1)
      expect(sampleValue(metrics, "tvtelegrambingx_order_transitions_total", { symbol: "BTC-USDT", status: "filled" })).toBe(1)
      expect(sampleValue(metrics, "tvtelegrambingx_order_notional_usd_total", { symbol: "BTC-USDT", action: "buy" })).toBe(650.005)

      // One trace: webhook request → ingest → (queue) → handle_signal → the exchange call.
      const chain = expectTraceChain(receiver.spans(), [
        { name: "POST", kind: "server" },
        "SignalService.ingest",
        "OrderService.handle_signal",
        { name: "POST", kind: "client", urlContains: "/openApi/swap/v2/trade/order" }
      ])
      expect(chain[0]!.attributes).toMatchObject({ "url.path": "/webhook/tradingview" })
      expect(chain[3]!.kind).toBe(SpanKind.client)
    }), APP_TIMEOUT)

  it.live("paper: trades → /pnl, the gauges and /bot/status agree with a hand computation", () =>
    Effect.scoped(Effect.gen(function*() {
      // BINGX_BASE_URL is unreachable (test default): with PAPER_PRICE_FALLBACK=alert the paper
      // exchange fills at the signal's price, and every such fill says so.
      const app = yield* startInProcessApp({ ...autoTrade, PAPER_PRICE_FALLBACK: "alert" })
      const trade = (action: string, price: string, quantity: string) =>
        Effect.gen(function*() {
          const r = yield* webhook(app, { symbol: "BTCUSDT", action, price, quantity })
          expect(r.status).toBe(201)
          return yield* orderReaches(app, r.body.order_id, "filled")
        })
      // buy 0.02 @ 60000, then close it in two halves at 61000 and 62000.
      yield* trade("LONG_BUY", "60000", "0.02")
      yield* trade("LONG_SELL", "61000", "0.01")
      const last = yield* trade("LONG_SELL", "62000", "0.01")
      expect(last.average_price).toBe("62000")
      expect(last.fills).toEqual([expect.objectContaining({ price: "62000", price_source: "alert" })])
      expect(app.lines.some((l) => l.includes("filled at the alert's price 62000, not a market price"))).toBe(true)
      expect(app.lines.some((l) => l.includes("paper exchange: the BingX public API") && l.includes("PAPER_PRICE_FALLBACK=alert"))).toBe(true)

      // By hand: realised (61000−60000)×0.01 + (62000−60000)×0.01 = 10 + 20 = 30;
      // fees 0.05% of 1200 + 610 + 620 = 0.6 + 0.305 + 0.31 = 1.215; net 28.785;
      // volume 2430; 3 fills, 2 realising, both winning; flat afterwards.
      const pnl = yield* operator(app, "/pnl?period=all")
      expect(pnl.status).toBe(200)
      expect(pnl.body).toMatchObject({
        realized: "30",
        fees: "1.215",
        net: "28.785",
        unrealized: "0",
        volume: "2430",
        trades: 3,
        realising_fills: 2,
        win_rate: "1"
      })
      expect(pnl.body.by_symbol).toEqual([
        expect.objectContaining({ symbol: "BTC-USDT", realized: "30", fees: "1.215", net: "28.785", volume: "2430", trades: 3 })
      ])

      const metrics = (yield* operator(app, "/metrics")).body as string
      expect(sampleValue(metrics, "tvtelegrambingx_realised_pnl_usd", { symbol: "BTC-USDT" })).toBe(30)
      expect(sampleValue(metrics, "tvtelegrambingx_realised_pnl_total_usd")).toBe(30)

      const status = yield* operator(app, "/bot/status")
      expect(status.body.pnl).toEqual({ realized: "30", unrealized: "0", total: "30", fees: "1.215", net: "28.785" })
      expect(status.body.open_positions).toEqual([])
      // The paper account: 10000 + 30 realised − 1.215 fees.
      expect(status.body.balances).toEqual([{ asset: "USDT", free: "10028.785", locked: "0", total: "10028.785" }])
      expect((yield* operator(app, "/positions")).body).toEqual({ positions: [] })
    })), APP_TIMEOUT)
})
