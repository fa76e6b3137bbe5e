/**
 * Exact fees (PGlite, or TEST_DATABASE_URL): a fill booked with an estimated fee gets its exact fee
 * later; the book's fees change by exactly the difference, once — whether the fill was applied
 * before the correction or after, however often the same figure arrives, and with several PnL
 * processes correcting and applying at the same time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import { parseUnsafe as dec, plain } from "../../src/domain/decimal.ts"
import type { RecordedFill } from "../../src/orders/FillEvents.ts"
import { PnlService, type PnlServiceShape } from "../../src/pnl/PnlService.ts"
import { renderCsv } from "../../src/api/Pnl.ts"
import { layerTestConfigAndDatabase, realPostgresUrl } from "../support/database.ts"
import { insertFill, layerPnlProcess } from "./support.ts"

const DB = realPostgresUrl ? "real Postgres" : "PGlite"

/** Runs `body` with AppConfig + a fresh migrated database (released afterwards). */
const withDatabase = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(layerTestConfigAndDatabase())
    return yield* Effect.provideContext(body as Effect.Effect<A, E, never>, context as never)
  }).pipe(Effect.scoped)

/** A PnL process of its own (service, events, metrics) on the database in context. */
const withProcess = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(layerPnlProcess(new Map() as Metric.MetricRegistry))
    return yield* Effect.provideContext(body as Effect.Effect<A, E, never>, context as never)
  }).pipe(Effect.scoped)

/** fees of the stored slot and the fee column of a fill, as plain text. */
const stored = (symbol: string, fillId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [slot] = yield* sql<{ fees: string; fills: string }>`
      SELECT fees::text AS fees, fills::text AS fills FROM pnl_positions WHERE symbol = ${symbol}`
    const [fill] = yield* sql<{ fee: string }>`SELECT fee::text AS fee FROM fills WHERE id = ${fillId}::bigint`
    return { slotFees: slot === undefined ? undefined : plain(dec(slot.fees)), fills: slot?.fills, fillFee: plain(dec(fill!.fee)) }
  })

describe(`fee corrections (${DB})`, () => {
  it.live("after the fill is applied: fees change by exactly the delta; the same figure again changes nothing", () =>
    withDatabase(withProcess(Effect.gen(function*() {
      const pnl = yield* PnlService
      // Booked with fee 0 (the place-order answer carries no commission), then one with a known fee.
      const first = yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "0.5", price: "60000", fee: "0" })
      yield* insertFill({ symbol: "BTC-USDT", action: "sell", quantity: "0.2", price: "61000", fee: "6.1" })
      yield* pnl.catchUp
      expect(plain((yield* pnl.totals).fees)).toBe("6.1")

      const correction = yield* pnl.correctFee(first.fillId, dec("15.000"))
      expect({ ...correction, previousFee: plain(correction.previousFee), fee: plain(correction.fee), delta: plain(correction.delta) })
        .toEqual({ fillId: first.fillId, previousFee: "0", fee: "15", delta: "15", booked: true })
      expect(yield* stored("BTC-USDT", first.fillId)).toEqual({ slotFees: "21.1", fills: "2", fillFee: "15" })
      const totals = yield* pnl.totals
      expect([plain(totals.fees), plain(totals.realised), plain(totals.net)]).toEqual(["21.1", "200", "178.9"])

      // The same figure again (a retry, a second process): no difference, nothing booked twice.
      for (let i = 0; i < 3; i++) {
        const again = yield* pnl.correctFee(first.fillId, dec("15"))
        expect(plain(again.delta)).toBe("0")
      }
      expect(yield* stored("BTC-USDT", first.fillId)).toEqual({ slotFees: "21.1", fills: "2", fillFee: "15" })

      // A later, different exact figure (a rebate correction) books only its own difference.
      const lower = yield* pnl.correctFee(first.fillId, dec("14.25"))
      expect(plain(lower.delta)).toBe("-0.75")
      expect(yield* stored("BTC-USDT", first.fillId)).toEqual({ slotFees: "20.35", fills: "2", fillFee: "14.25" })

      // Reports read the corrected fee: the period's fees, the CSV's fee and net PnL.
      const summary = yield* pnl.periodSummary("all")
      expect([plain(summary.fees), plain(summary.net)]).toEqual(["20.35", "179.65"])
      const csv = renderCsv(yield* pnl.fillsReport({ from: undefined, to: undefined })).split("\r\n")
      expect(csv[1]!.split(",").slice(9)).toEqual(["14.25", "USDT", "0", "0", "-14.25"])
    }))), { timeout: 120_000 })

  it.live("before the fill is applied: it is applied once, with the exact fee", () =>
    withDatabase(withProcess(Effect.gen(function*() {
      const pnl = yield* PnlService
      const fill = yield* insertFill({ symbol: "ETH-USDT", action: "sell", quantity: "2", price: "3000", fee: "0" })
      const correction = yield* pnl.correctFee(fill.fillId, dec("3"))
      expect([plain(correction.delta), correction.booked]).toEqual(["3", false])
      expect(yield* stored("ETH-USDT", fill.fillId)).toEqual({ slotFees: undefined, fills: undefined, fillFee: "3" })
      // Not booked anywhere yet, so nothing to count twice when the ledger applies it.
      yield* pnl.catchUp
      expect(yield* stored("ETH-USDT", fill.fillId)).toEqual({ slotFees: "3", fills: "1", fillFee: "3" })
      // Once applied, the same figure is a no-op.
      expect((yield* pnl.correctFee(fill.fillId, dec("3"))).booked).toBe(true)
      expect(yield* stored("ETH-USDT", fill.fillId)).toEqual({ slotFees: "3", fills: "1", fillFee: "3" })
    }))), { timeout: 120_000 })

  it.live("an unknown fill is refused by name, and nothing changes", () =>
    withDatabase(withProcess(Effect.gen(function*() {
      const pnl = yield* PnlService
      const error = yield* Effect.flip(pnl.correctFee("987654", dec("1")))
      expect(error).toMatchObject({ _tag: "FillNotFound", fillId: "987654" })
      expect(error.message).toContain("fill 987654 is not stored")
    }))), { timeout: 120_000 })

  it.live("two processes correcting and applying at once: every fee counted exactly once", () =>
    withDatabase(Effect.gen(function*() {
      const fills: Array<RecordedFill> = []
      for (let i = 0; i < 12; i++) {
        fills.push(yield* insertFill({ symbol: "SOL-USDT", action: "buy", quantity: "1", price: "150", fee: "0" }))
      }
      // Exact fee of fill i: 0.075 + i / 1000.
      const exact = (i: number) => dec(`0.${String(75 + i).padStart(3, "0")}`)
      const work = (pnl: PnlServiceShape, offset: number) =>
        Effect.forEach(fills, (fill, i) => {
          const j = (i + offset) % fills.length
          const step = pnl.correctFee(fills[j]!.fillId, exact(j))
          return j % 4 === 0 ? Effect.andThen(pnl.catchUp, step) : step
        }, { discard: true })
      const a = yield* Layer.build(layerPnlProcess(new Map() as Metric.MetricRegistry))
      const b = yield* Layer.build(layerPnlProcess(new Map() as Metric.MetricRegistry))
      const pnlA = Context.get(a, PnlService)
      const pnlB = Context.get(b, PnlService)
      yield* Effect.all([work(pnlA, 0), work(pnlB, 5), work(pnlA, 7)], { concurrency: "unbounded", discard: true })
      yield* pnlB.catchUp
      // Σ exact = 12 × 0.075 + (0 + … + 11) / 1000 = 0.9 + 0.066
      expect(plain((yield* pnlA.totals).fees)).toBe("0.966")
      expect(yield* stored("SOL-USDT", fills[0]!.fillId)).toEqual({ slotFees: "0.966", fills: "12", fillFee: "0.075" })
    }).pipe(Effect.scoped)), { timeout: 120_000 })
})
