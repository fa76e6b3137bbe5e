/**
 * Property through the database: random fill sequences stored as fills and applied by PnlService
 * leave exactly the reference model's numbers in `pnl_positions` and `fills` (numeric round trips
 * of 18-decimal cost bases included). Fewer cases than the pure property (each fill is a
 * transaction); every sequence uses its own symbols on one shared database.
 * Some fills are booked with fee 0 and get their exact fee later — before they are applied, after,
 * or twice after — and the book's fees still equal the reference's (exact fees, each counted once).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import * as fc from "fast-check"
import { SqlClient } from "effect/sql"
import { parseUnsafe, plain } from "../../src/domain/decimal.ts"
import { PnlService } from "../../src/pnl/PnlService.ts"
import type { RecordedFill } from "../../src/orders/FillEvents.ts"
import { layerTestConfigAndDatabase, realPostgresUrl } from "../support/database.ts"
import { resolveStep, stepArb } from "./arbitraries.ts"
import { fromUnits, ReferenceModel } from "./reference.ts"
import { insertFill, layerPnlProcess, readGauges } from "./support.ts"

const DB = realPostgresUrl ? "real Postgres" : "PGlite"
const RUNS = 50

/** How a fill's fee is known: at once, or corrected later (before it is applied, after, twice after). */
const feeModeArb = fc.constantFrom("exact" as const, "exact" as const, "before" as const, "after" as const, "twice" as const)
type FeeMode = "exact" | "before" | "after" | "twice"

describe(`PnlService vs reference model (property, ${DB})`, () => {
  it.live(`${RUNS} random sequences: stored positions and per-fill PnL equal the reference exactly`, () =>
    Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      const sequences = fc.sample(fc.array(fc.tuple(stepArb, feeModeArb), { minLength: 1, maxLength: 30 }), RUNS)
      const context = yield* Layer.build(layerPnlProcess(registry).pipe(Layer.provideMerge(layerTestConfigAndDatabase())))
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        const sql = yield* SqlClient.SqlClient
        let total = 0n
        for (const [run, steps] of sequences.entries()) {
          const ref = new ReferenceModel()
          const expectedPerFill: Array<{ id: string; realised: string; closed: string }> = []
          let corrections: Array<{ readonly fill: RecordedFill; readonly exact: string; readonly mode: FeeMode }> = []
          /** Corrections due before the ledger applies, the ledger, then the ones due after. */
          const applyWithCorrections = Effect.gen(function*() {
            for (const c of corrections) if (c.mode === "before") yield* pnl.correctFee(c.fill.fillId, parseUnsafe(c.exact))
            yield* pnl.catchUp
            for (const c of corrections) {
              if (c.mode === "after" || c.mode === "twice") yield* pnl.correctFee(c.fill.fillId, parseUnsafe(c.exact))
              if (c.mode === "twice") yield* pnl.correctFee(c.fill.fillId, parseUnsafe(c.exact))
            }
            corrections = []
          })
          for (const [step, mode] of steps) {
            const symbol = `R${run}-${step.symbol}`
            const fill = resolveStep(step, ref)
            const expected = ref.apply(fill)
            const stored = yield* insertFill({ ...fill, symbol, fee: mode === "exact" ? fill.fee : "0" })
            if (mode !== "exact") corrections.push({ fill: stored, exact: fill.fee, mode })
            expectedPerFill.push({ id: stored.fillId, realised: fromUnits(expected.realised), closed: fromUnits(expected.closed) })
            // Apply every few fills (and at the end): a backlog is applied in order, like after a restart.
            if (expectedPerFill.length % 3 === 0) yield* applyWithCorrections
          }
          yield* applyWithCorrections
          const context = `run ${run}: ${JSON.stringify(steps)}`

          const fills = yield* sql<{ id: string; realised: string; closed: string }>`
            SELECT f.id::text AS id, f.realised_pnl::text AS realised, f.pnl_closed_quantity::text AS closed
            FROM fills f WHERE f.symbol LIKE ${`R${run}-%`} ORDER BY f.id`
          expect(fills.map((f) => ({ id: f.id, realised: plain(parseUnsafe(f.realised)), closed: plain(parseUnsafe(f.closed)) })), context)
            .toEqual(expectedPerFill)

          const slots = yield* sql<{ symbol: string; slot: string; quantity: string; cost: string; realised: string; fees: string }>`
            SELECT symbol, slot, quantity::text AS quantity, cost::text AS cost, realised::text AS realised, fees::text AS fees
            FROM pnl_positions WHERE symbol LIKE ${`R${run}-%`} ORDER BY symbol, slot`
          const expectedSlots = [...ref.slots.entries()].map(([key, s]) => {
            const [symbol, slot] = key.split(" ")
            return {
              key: `R${run}-${symbol} ${slot}`,
              quantity: fromUnits(ReferenceModel.open(s)),
              cost: fromUnits(s.cost),
              realised: fromUnits(s.realised),
              fees: fromUnits(s.fees)
            }
          }).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          expect(slots.map((s) => ({
            key: `${s.symbol} ${s.slot}`,
            quantity: plain(parseUnsafe(s.quantity)),
            cost: plain(parseUnsafe(s.cost)),
            realised: plain(parseUnsafe(s.realised)),
            fees: plain(parseUnsafe(s.fees))
          })), context).toEqual(expectedSlots)
          for (const s of ref.slots.values()) total += s.realised
        }
        // The book total equals the sum of all reference runs.
        expect(plain((yield* pnl.totals).realised)).toBe(fromUnits(total))
        expect((yield* readGauges(registry)).total).toBe(Number(fromUnits(total)))
      }).pipe(Effect.provideContext(context), Effect.provideService(Metric.MetricRegistry, registry))
    }).pipe(Effect.scoped), { timeout: 240_000 })
})
