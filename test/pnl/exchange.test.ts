/**
 * What PnL reads from the exchange: mark prices (cached per symbol for a short TTL; a failure or a
 * hang makes that position's unrealised PnL null, never a failed call) and balances (cached; the
 * last answer served while the exchange fails; mapped to free / locked / total).
 * Each block: one database, one PnL process, a fake exchange; each test on its own TestClock.
 */
import { expect, layer } from "@effect/vitest"
import { Clock, Effect, Fiber, Layer, Metric } from "effect"
import { TestClock } from "effect/testing"
import { PnlService } from "../../src/pnl/PnlService.ts"
import { layerTestConfigAndDatabase, realPostgresUrl } from "../support/database.ts"
import {
  accountJson,
  balancesJson,
  balance,
  fakeExchangeState,
  type FakeExchangeState,
  insertFill,
  layerFakeExchange,
  layerPnlProcess,
  positionsJson,
  summaryJson
} from "./support.ts"

const DB = realPostgresUrl ? "real Postgres" : "PGlite"

const pnlProcess = (exchange: FakeExchangeState) => {
  const registry: Metric.MetricRegistry = new Map()
  return layerPnlProcess(registry, { sweepInterval: "1 hour" }, layerFakeExchange(exchange)).pipe(
    Layer.provideMerge(layerTestConfigAndDatabase()),
    Layer.provideMerge(Layer.succeed(Metric.MetricRegistry, registry))
  )
}

/** Waits (in real time) until the fake was asked for `symbol`'s mark `n` times. */
const untilMarkCalls = (exchange: FakeExchangeState, symbol: string, n: number) =>
  Effect.gen(function*() {
    while (exchange.markCalls.filter((s) => s === symbol).length < n) {
      yield* TestClock.withLive(Effect.sleep("5 millis"))
    }
    yield* TestClock.withLive(Effect.sleep("5 millis"))
  })

const marks = fakeExchangeState({ "BTC-USDT": "110", "ETH-USDT": "fail" })

layer(pnlProcess(marks), { timeout: "60 seconds" })(`mark prices (${DB})`, (it) => {
  it.effect("cached per symbol for 5 s; a failing symbol → null mark and unrealised, the call still answers", () =>
    Effect.gen(function*() {
      const pnl = yield* PnlService
      // long BTC 2 @ 100, short ETH 1 @ 50
      yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "2", price: "100" })
      yield* insertFill({ symbol: "ETH-USDT", action: "sell", quantity: "1", price: "50" })
      yield* pnl.catchUp

      expect((yield* positionsJson(pnl)).map((p) => [p.symbol, p.mark_price, p.unrealized_pnl])).toEqual([
        ["BTC-USDT", "110", "20"],
        ["ETH-USDT", null, null]
      ])
      // Unknown marks count 0 in the totals; the status call still answers.
      const parts = yield* accountJson(pnl)
      expect(parts.pnl).toEqual({ realized: "0", unrealized: "20", total: "20", fees: "0", net: "0" })
      expect(parts.open_positions.map((p) => p.unrealized_pnl)).toEqual(["20", null])

      const callsFor = (symbol: string) => marks.markCalls.filter((s) => s === symbol).length
      expect(callsFor("BTC-USDT")).toBe(1) // cached for the second call
      expect(callsFor("ETH-USDT")).toBe(2) // failures are not cached
      marks.marks.set("BTC-USDT", "120")
      yield* TestClock.adjust("4 seconds")
      expect((yield* positionsJson(pnl))[0]?.mark_price).toBe("110")
      expect(callsFor("BTC-USDT")).toBe(1)
      yield* TestClock.adjust("1 second")
      expect((yield* positionsJson(pnl))[0]).toMatchObject({ mark_price: "120", unrealized_pnl: "40" })
      expect(callsFor("BTC-USDT")).toBe(2)
    }))
})

const hanging = fakeExchangeState({ "SOL-USDT": "hang" })

layer(pnlProcess(hanging), { timeout: "60 seconds" })(`a mark price that never comes (${DB})`, (it) => {
  it.effect("gives up after the exchange timeout (3 s): null, not a hung call", () =>
    Effect.gen(function*() {
      const pnl = yield* PnlService
      yield* insertFill({ symbol: "SOL-USDT", action: "buy", quantity: "3", price: "20" })
      yield* pnl.catchUp
      const call = yield* Effect.forkChild(accountJson(pnl))
      yield* untilMarkCalls(hanging, "SOL-USDT", 1)
      yield* TestClock.adjust("2999 millis")
      expect(call.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const parts = yield* Fiber.join(call)
      expect(parts.open_positions).toEqual([expect.objectContaining({ symbol: "SOL-USDT", mark_price: null, unrealized_pnl: null })])
      expect(parts.pnl.unrealized).toBe("0")
    }))
})

const balances = fakeExchangeState()

layer(pnlProcess(balances), { timeout: "60 seconds" })(`balances (${DB})`, (it) => {
  it.effect("mapped, cached 5 s, the last answer for 5 min while the exchange fails, then unavailable", () =>
    Effect.gen(function*() {
      const pnl = yield* PnlService
      balances.balances = [balance("USDT", "1050.5", "900.25")]
      // free = available, total = equity, locked = equity − available
      const expected = [{ asset: "USDT", free: "900.25", locked: "150.25", total: "1050.5" }]
      expect(yield* balancesJson(pnl)).toEqual(expected)
      expect(yield* balancesJson(pnl)).toEqual(expected)
      expect(balances.balanceCalls).toBe(1)

      balances.balances = "fail"
      yield* TestClock.adjust("6 seconds")
      expect(yield* balancesJson(pnl)).toEqual(expected)
      expect(balances.balanceCalls).toBe(2)
      expect((yield* accountJson(pnl)).balances).toEqual(expected)

      yield* TestClock.adjust("5 minutes")
      const error = yield* Effect.flip(pnl.balances)
      expect(error._tag).toBe("BalancesUnavailable")
      expect((yield* accountJson(pnl)).balances).toEqual([])

      // Equity below available never shows negative locked funds.
      balances.balances = [balance("USDT", "10", "12"), balance("USDC", "5", "5")]
      expect(yield* balancesJson(pnl)).toEqual([
        { asset: "USDT", free: "12", locked: "0", total: "10" },
        { asset: "USDC", free: "5", locked: "0", total: "5" }
      ])
    }))
})

const periods = fakeExchangeState()

layer(pnlProcess(periods), { timeout: "60 seconds" })(`report periods on stored fills (${DB})`, (it) => {
  // The test clock starts at 1970-01-01T00:00:00Z, a Thursday. (Jumping the test clock by years
  // would make the database pool's timers, which inherit it, spin through every tick in between.)
  it.effect("day and week are UTC windows [start, end); all counts everything", () =>
    Effect.gen(function*() {
      const pnl = yield* PnlService
      expect(new Date(yield* Clock.currentTimeMillis).toISOString()).toBe("1970-01-01T00:00:00.000Z")
      const fill = (iso: string, action: "buy" | "sell", price: string) =>
        insertFill({ symbol: "BTC-USDT", action, quantity: "1", price, filledAt: new Date(iso) })
      yield* fill("1969-12-28T23:59:59.999Z", "buy", "100") // Sunday: last week
      yield* fill("1969-12-29T00:00:00.000Z", "sell", "110") // Monday 00:00: this week; realises +10
      yield* fill("1969-12-31T23:59:59.999Z", "buy", "100") // Wednesday: this week, not today
      yield* fill("1970-01-01T00:00:00.000Z", "sell", "95") // today 00:00 (now); realises −5
      yield* fill("1970-01-02T00:00:00.000Z", "buy", "90") // tomorrow: outside today
      yield* pnl.catchUp

      expect(yield* summaryJson(pnl, "day")).toMatchObject({
        from: "1970-01-01T00:00:00.000Z",
        to: "1970-01-02T00:00:00.000Z",
        trades: 1,
        realized: "-5",
        volume: "95",
        realising_fills: 1,
        win_rate: "0"
      })
      expect(yield* summaryJson(pnl, "week")).toMatchObject({
        from: "1969-12-29T00:00:00.000Z",
        to: "1970-01-05T00:00:00.000Z",
        trades: 4,
        realized: "5",
        volume: "395",
        realising_fills: 2,
        win_rate: "0.5"
      })
      expect(yield* summaryJson(pnl, "all")).toMatchObject({
        from: null,
        to: "1970-01-01T00:00:00.000Z",
        trades: 5,
        realized: "5",
        volume: "495"
      })
    }))
})
