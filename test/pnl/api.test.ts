/**
 * The PnL API through the real application (`appLayer`, role all, port 0) on a fresh database,
 * with a fake exchange: fills stored and published as the order actor does → `GET /pnl`, the
 * gauges on `/metrics` and the status parts agree with each other and with a hand computation.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { AppInfo } from "../../src/main.ts"
import { FillEvents } from "../../src/orders/FillEvents.ts"
import { PnlService } from "../../src/pnl/PnlService.ts"
import { CSV_COLUMNS } from "../../src/api/Pnl.ts"
import { realPostgresUrl } from "../support/database.ts"
import { layerInProcessApp } from "../support/inProcessApp.ts"
import { accountJson, balance, fakeExchangeState, insertFill, layerFakeExchange } from "./support.ts"

const DB = realPostgresUrl ? "real Postgres" : "PGlite"
const TOKEN = "pnl-api-test-token-0123456789abcdef"

const exchange = fakeExchangeState({ "BTC-USDT": "64000", "ETH-USDT": "2900" })
exchange.balances = [balance("USDT", "10100", "9000")]

const app = layerInProcessApp(
  { BOT_METRICS_ENABLED: "false", API_TOKEN: TOKEN, LOG_LEVEL: "warn" },
  { exchange: layerFakeExchange(exchange) }
)

const request = (path: string, token: string | null = TOKEN) =>
  Effect.gen(function*() {
    const info = yield* AppInfo
    return yield* Effect.promise(async () => {
      const response = await fetch(`${info.api!.url}${path}`, {
        headers: token === null ? {} : { authorization: `Bearer ${token}` }
      })
      return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
    })
  })

const getJson = (path: string) =>
  Effect.map(request(path), (r) => ({ status: r.status, body: JSON.parse(r.text) as Record<string, any> }))

/** Re-runs until `done` (real time, at most 20 s). */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    while (true) {
      const a = yield* effect
      if (done(a)) return a
      yield* Effect.sleep("50 millis")
    }
  }).pipe(Effect.timeout("20 seconds"))

const now = Date.now()
const at = (seconds: number) => new Date(now - 60_000 + seconds * 1000)

layer(app, { timeout: "90 seconds", excludeTestServices: true })(`PnL API (${DB})`, (it) => {
  it.effect("GET /pnl, /positions, /balances, /metrics and the status parts agree with a hand computation", () =>
    Effect.gen(function*() {
      const events = yield* FillEvents
      // BTC one-way: buy 0.2 @ 60000 (fee 6), buy 0.2 @ 62000 (fee 6.2) → long 0.4, entry 61000;
      //   sell 0.1 @ 65000 (fee 3.25) → realises (65000 − 61000) × 0.1 = 400; long 0.3 @ 61000 open.
      // ETH one-way: sell 1 @ 3000 (fee 1.5) → short; buy 1 @ 3100 (fee 1.55) → realises −100; flat.
      // Realised 300, fees 18.5, net 281.5; unrealised (64000 − 61000) × 0.3 = 900, total 1200.
      // Volume 12000 + 12400 + 6500 + 3000 + 3100 = 37000; 5 trades, 2 realising, 1 winning.
      const specs = [
        { symbol: "BTC-USDT", action: "buy", quantity: "0.2", price: "60000", fee: "6", leverage: 5, filledAt: at(1) },
        { symbol: "BTC-USDT", action: "buy", quantity: "0.2", price: "62000", fee: "6.2", leverage: 5, filledAt: at(2) },
        { symbol: "BTC-USDT", action: "sell", quantity: "0.1", price: "65000", fee: "3.25", leverage: 5, filledAt: at(3) },
        { symbol: "ETH-USDT", action: "sell", quantity: "1", price: "3000", fee: "1.5", filledAt: at(4) },
        { symbol: "ETH-USDT", action: "buy", quantity: "1", price: "3100", fee: "1.55", filledAt: at(5) }
      ] as const
      for (const spec of specs) yield* events.publish(yield* insertFill(spec))

      const summary = yield* eventually(getJson("/pnl?period=all"), (r) => r.body["trades"] === 5 && r.body["realized"] === "300")
      expect(summary.status).toBe(200)
      expect({ ...summary.body, to: "(now)" }).toEqual({
        period: "all",
        from: null,
        to: "(now)",
        realized: "300",
        fees: "18.5",
        net: "281.5",
        unrealized: "900",
        volume: "37000",
        trades: 5,
        realising_fills: 2,
        win_rate: "0.5",
        by_symbol: [
          { symbol: "BTC-USDT", realized: "400", fees: "15.45", net: "384.55", volume: "30900", trades: 3 },
          { symbol: "ETH-USDT", realized: "-100", fees: "3.05", net: "-103.05", volume: "6100", trades: 2 }
        ]
      })
      // Fills of a minute ago belong to today and this week (unless the test straddles midnight).
      const day = yield* getJson("/pnl")
      expect(day.body["period"]).toBe("day")
      expect(Date.parse(day.body["to"]) - Date.parse(day.body["from"])).toBe(86_400_000)

      const positions = yield* getJson("/positions")
      expect(positions).toEqual({
        status: 200,
        body: {
          positions: [{
            symbol: "BTC-USDT",
            side: "long",
            quantity: "0.3",
            entry_price: "61000",
            mark_price: "64000",
            unrealized_pnl: "900",
            leverage: 5,
            opened_at: at(1).toISOString()
          }]
        }
      })
      expect(yield* getJson("/balances")).toEqual({
        status: 200,
        body: { balances: [{ asset: "USDT", free: "9000", locked: "1100", total: "10100" }] }
      })

      const parts = yield* accountJson(yield* PnlService)
      expect(parts).toEqual({
        balances: [{ asset: "USDT", free: "9000", locked: "1100", total: "10100" }],
        pnl: { realized: "300", unrealized: "900", total: "1200", fees: "18.5", net: "281.5" },
        open_positions: positions.body["positions"]
      })

      const metrics = (yield* request("/metrics", null)).text
      expect(metrics).toContain("tvtelegrambingx_realised_pnl_usd{symbol=\"BTC-USDT\"} 400")
      expect(metrics).toContain("tvtelegrambingx_realised_pnl_usd{symbol=\"ETH-USDT\"} -100")
      expect(metrics).toMatch(/^tvtelegrambingx_realised_pnl_total_usd 300$/m)
    }))

  it.effect("CSV report: header, one row per fill with its PnL, window validated", () =>
    Effect.gen(function*() {
      const csv = yield* request("/reports/pnl.csv")
      expect(csv.status).toBe(200)
      expect(csv.type).toContain("text/csv")
      const lines = csv.text.trimEnd().split("\r\n")
      expect(lines[0]).toBe(CSV_COLUMNS.join(","))
      const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [CSV_COLUMNS[i], v])))
      expect(rows.map((r) => [r["symbol"], r["action"], r["notional"], r["closed_quantity"], r["realised_pnl"], r["net_pnl"]])).toEqual([
        ["BTC-USDT", "buy", "12000", "0", "0", "-6"],
        ["BTC-USDT", "buy", "12400", "0", "0", "-6.2"],
        ["BTC-USDT", "sell", "6500", "0.1", "400", "396.75"],
        ["ETH-USDT", "sell", "3000", "0", "0", "-1.5"],
        ["ETH-USDT", "buy", "3100", "1", "-100", "-101.55"]
      ])
      expect(rows[0]).toMatchObject({ filled_at: at(1).toISOString(), position_side: "", fee_asset: "USDT", quantity: "0.2" })

      // A window holding only the 3rd and 4th fills.
      const from = encodeURIComponent(at(3).toISOString())
      const to = encodeURIComponent(at(5).toISOString())
      const window = yield* request(`/reports/pnl.csv?from=${from}&to=${to}`)
      expect(window.text.trimEnd().split("\r\n").slice(1).map((l) => l.split(",")[12])).toEqual(["400", "0"])

      const bad = yield* getJson("/reports/pnl.csv?from=2026-13-01&to=soon")
      expect(bad.status).toBe(422)
      expect(bad.body["fields"].map((f: { field: string }) => f.field)).toEqual(["from", "to"])
    }))

  it.effect("operator auth on every PnL route; 422 on a bad period", () =>
    Effect.gen(function*() {
      for (const path of ["/pnl", "/positions", "/balances", "/reports/pnl.csv"]) {
        expect((yield* request(path, null)).status).toBe(401)
        expect((yield* request(path, "wrong-token")).status).toBe(401)
      }
      expect(yield* getJson("/pnl?period=month")).toEqual({
        status: 422,
        body: { error: "invalid query", fields: [{ field: "period", problem: "must be day, week or all (got \"month\")" }] }
      })
    }))
})
