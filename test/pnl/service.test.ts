/**
 * PnlService on a real database (PGlite, or TEST_DATABASE_URL): fills in → positions, realised,
 * fees, gauges, reports out, against numbers computed by hand in the comments.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import { FillEvents } from "../../src/orders/FillEvents.ts"
import { parseUnsafe, plain } from "../../src/domain/decimal.ts"
import { PnlRepo } from "../../src/pnl/PnlRepo.ts"
import { PnlService } from "../../src/pnl/PnlService.ts"
import { renderCsv } from "../../src/api/Pnl.ts"
import { layerTestConfigAndDatabase, realPostgresUrl } from "../support/database.ts"
import {
  accountJson,
  fakeExchangeState,
  type FillSpec,
  insertFill,
  layerFakeExchange,
  layerPnlProcess,
  positionsJson,
  readGauges,
  summaryJson
} from "./support.ts"

const DB = realPostgresUrl ? "real Postgres" : "PGlite"

/** Runs `body` with AppConfig + a fresh migrated database (released afterwards). */
const withDatabase = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(layerTestConfigAndDatabase())
    return yield* Effect.provideContext(body as Effect.Effect<A, E, never>, context as never)
  }).pipe(Effect.scoped)

/** Re-runs `effect` every 50 ms until `done` holds (at most 20 s). */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    while (true) {
      const a = yield* effect
      if (done(a)) return a
      yield* Effect.sleep("50 millis")
    }
  }).pipe(Effect.timeout("20 seconds"))

const T0 = Date.parse("2026-03-04T10:00:00.000Z")
const at = (seconds: number) => new Date(T0 + seconds * 1000)

// BTC-USDT, one-way (taker fee 0.05 %):
//  f1 buy  0.5 @ 60000  fee 15    → long 0.5, cost 30000
//  f2 buy  0.5 @ 62000  fee 15.5  → long 1, cost 61000, entry 61000
//  f3 sell 0.4 @ 63000  fee 12.6  → realised (63000 − 61000) × 0.4 = 800; long 0.6, cost 36600
//  f4 sell 1   @ 59000  fee 29.5  → realised (59000 − 61000) × 0.6 = −1200; flips: short 0.4 @ 59000
//  f5 buy  0.4 @ 57500  fee 11.5  → realised (59000 − 57500) × 0.4 = 600; flat
//  BTC: realised 200, fees 84.1, net 115.9, volume 168200, 5 trades, 3 realising, 2 winning
const BTC: ReadonlyArray<FillSpec> = [
  { symbol: "BTC-USDT", action: "buy", quantity: "0.5", price: "60000", fee: "15", leverage: 5, filledAt: at(1) },
  { symbol: "BTC-USDT", action: "buy", quantity: "0.5", price: "62000", fee: "15.5", leverage: 5, filledAt: at(2) },
  { symbol: "BTC-USDT", action: "sell", quantity: "0.4", price: "63000", fee: "12.6", leverage: 5, filledAt: at(3) },
  { symbol: "BTC-USDT", action: "sell", quantity: "1", price: "59000", fee: "29.5", leverage: 7, filledAt: at(4) },
  { symbol: "BTC-USDT", action: "buy", quantity: "0.4", price: "57500", fee: "11.5", leverage: 7, filledAt: at(5) }
]
// ETH-USDT, hedge mode (long and short legs at once):
//  g1 buy  long  2 @ 3000 fee 3     → long 2, cost 6000
//  g2 sell short 1 @ 3100 fee 1.55  → short 1, cost 3100
//  g3 sell long  1 @ 3050 fee 1.525 → long realises (3050 − 3000) × 1 = 50; long 1 @ 3000 stays open
//  g4 buy  short 1 @ 3080 fee 1.54  → short realises (3100 − 3080) × 1 = 20; short flat
//  ETH: realised 70, fees 7.615, volume 15230, 4 trades, 2 realising, 2 winning
const ETH: ReadonlyArray<FillSpec> = [
  { symbol: "ETH-USDT", action: "buy", positionSide: "long", quantity: "2", price: "3000", fee: "3", leverage: 3, filledAt: at(6) },
  { symbol: "ETH-USDT", action: "sell", positionSide: "short", quantity: "1", price: "3100", fee: "1.55", leverage: 3, filledAt: at(7) },
  { symbol: "ETH-USDT", action: "sell", positionSide: "long", quantity: "1", price: "3050", fee: "1.525", leverage: 3, filledAt: at(8) },
  { symbol: "ETH-USDT", action: "buy", positionSide: "short", quantity: "1", price: "3080", fee: "1.54", leverage: 3, filledAt: at(9) }
]
// SOL-USDT, one-way: h1 sell 10 @ 150 fee 0.75 → short 10 @ 150 (open)
const SOL: ReadonlyArray<FillSpec> = [
  { symbol: "SOL-USDT", action: "sell", quantity: "10", price: "150", fee: "0.75", leverage: 10, filledAt: at(10) }
]
// Totals: realised 270, fees 92.465, net 177.535, volume 184930, 10 trades, 5 realising, 4 winning (0.8).
// Marks ETH 3200, SOL 140: unrealised (3200 − 3000) × 1 + (150 − 140) × 10 = 300; total 570.

describe(`PnlService (${DB})`, () => {
  it.live("hand-computed: open, add, partial close, full close, flip, hedge legs, fees", () =>
    withDatabase(Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      const exchange = fakeExchangeState({ "ETH-USDT": "3200", "SOL-USDT": "140", "BTC-USDT": "58000" })
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        const positionOf = (symbol: string) =>
          Effect.map(positionsJson(pnl), (ps) => ps.filter((p) => p.symbol === symbol))

        // Step by step through BTC, as the order actor would report the fills.
        const expectedAfter = [
          [{ side: "long", quantity: "0.5", entry_price: "60000", leverage: 5, opened_at: at(1).toISOString() }],
          [{ side: "long", quantity: "1", entry_price: "61000", leverage: 5, opened_at: at(1).toISOString() }],
          [{ side: "long", quantity: "0.6", entry_price: "61000", leverage: 5, opened_at: at(1).toISOString() }],
          [{ side: "short", quantity: "0.4", entry_price: "59000", leverage: 7, opened_at: at(4).toISOString() }],
          []
        ]
        for (const [i, spec] of BTC.entries()) {
          const fill = yield* insertFill(spec)
          expect(yield* pnl.apply(fill)).toBe(true)
          const open = yield* positionOf("BTC-USDT")
          expect(open.map(({ side, quantity, entry_price, leverage, opened_at }) => ({
            side,
            quantity,
            entry_price,
            leverage,
            opened_at
          }))).toEqual(expectedAfter[i])
        }
        expect((yield* readGauges(registry)).bySymbol["BTC-USDT"]).toBe(200)

        for (const spec of [...ETH, ...SOL]) yield* insertFill(spec)
        expect(yield* pnl.catchUp).toBe(5)
        expect(yield* pnl.catchUp).toBe(0)

        expect(yield* positionsJson(pnl)).toEqual([
          {
            symbol: "ETH-USDT",
            side: "long",
            quantity: "1",
            entry_price: "3000",
            mark_price: "3200",
            unrealized_pnl: "200",
            leverage: 3,
            opened_at: at(6).toISOString()
          },
          {
            symbol: "SOL-USDT",
            side: "short",
            quantity: "10",
            entry_price: "150",
            mark_price: "140",
            unrealized_pnl: "100",
            leverage: 10,
            opened_at: at(10).toISOString()
          }
        ])

        const all = yield* summaryJson(pnl, "all")
        expect({ ...all, to: "(now)" }).toEqual({
          period: "all",
          from: null,
          to: "(now)",
          realized: "270",
          fees: "92.465",
          net: "177.535",
          unrealized: "300",
          volume: "184930",
          trades: 10,
          realising_fills: 5,
          win_rate: "0.8",
          by_symbol: [
            { symbol: "BTC-USDT", realized: "200", fees: "84.1", net: "115.9", volume: "168200", trades: 5 },
            { symbol: "ETH-USDT", realized: "70", fees: "7.615", net: "62.385", volume: "15230", trades: 4 },
            { symbol: "SOL-USDT", realized: "0", fees: "0.75", net: "-0.75", volume: "1500", trades: 1 }
          ]
        })

        const parts = yield* accountJson(pnl)
        expect(parts.pnl).toEqual({ realized: "270", unrealized: "300", total: "570", fees: "92.465", net: "177.535" })
        expect(parts.open_positions).toEqual(yield* positionsJson(pnl))
        expect(parts.balances).toEqual([])

        // Gauges agree with the book and the report.
        expect(yield* readGauges(registry)).toEqual({
          bySymbol: { "BTC-USDT": 200, "ETH-USDT": 70, "SOL-USDT": 0 },
          total: 270
        })

        // Per-fill realised PnL and closed quantity are stored with the fill.
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ realised: string; closed: string }>`
          SELECT realised_pnl::text AS realised, pnl_closed_quantity::text AS closed FROM fills ORDER BY id`
        expect(rows.map((r) => Number(r.realised))).toEqual([0, 0, 800, -1200, 600, 0, 0, 50, 20, 0])
        expect(rows.map((r) => Number(r.closed))).toEqual([0, 0, 0.4, 0.6, 0.4, 0, 0, 1, 1, 0])
      }).pipe(
        Effect.provide(layerPnlProcess(registry, undefined, layerFakeExchange(exchange))),
        Effect.provideService(Metric.MetricRegistry, registry)
      )
    })), { timeout: 60_000 })

  it.live("exact through the database: a non-terminating average keeps realised + cost exact", () =>
    withDatabase(Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        // buy 1 @ 1 and 2 @ 2: cost 5, quantity 3, entry 1.666666666666666667 (half-even at 18)
        yield* insertFill({ symbol: "XRP-USDT", action: "buy", quantity: "1", price: "1" })
        yield* insertFill({ symbol: "XRP-USDT", action: "buy", quantity: "2", price: "2" })
        yield* pnl.catchUp
        expect((yield* positionsJson(pnl))[0]?.entry_price).toBe("1.666666666666666667")
        // sell 1 @ 2: removes 5/3 → 1.666666666666666667, realises 0.333333333333333333
        yield* insertFill({ symbol: "XRP-USDT", action: "sell", quantity: "1", price: "2" })
        yield* pnl.catchUp
        const [open] = yield* pnl.openPositions
        expect(open?.cost.value).toBe(3333333333333333333n)
        expect(open?.cost.scale).toBe(18)
        // sell 2 @ 2: removes the rest (3.333333333333333333), realises 0.666666666666666667
        yield* insertFill({ symbol: "XRP-USDT", action: "sell", quantity: "2", price: "2" })
        yield* pnl.catchUp
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ realised: string }>`SELECT realised_pnl::text AS realised FROM fills ORDER BY id`
        expect(rows.map((r) => plain(parseUnsafe(r.realised)))).toEqual([
          "0",
          "0",
          "0.333333333333333333",
          "0.666666666666666667"
        ])
        // 2 × 3 − 5 = 1, exactly.
        expect((yield* accountJson(pnl)).pnl.realized).toBe("1")
        expect(yield* positionsJson(pnl)).toEqual([])
      }).pipe(Effect.provide(layerPnlProcess(registry)), Effect.provideService(Metric.MetricRegistry, registry))
    })), { timeout: 60_000 })

  it.live("idempotent: the same fill twice, concurrently, and from two processes → applied once", () =>
    withDatabase(Effect.gen(function*() {
      const registryA: Metric.MetricRegistry = new Map()
      const registryB: Metric.MetricRegistry = new Map()
      const a = yield* Layer.build(layerPnlProcess(registryA))
      const b = yield* Layer.build(layerPnlProcess(registryB))
      const pnlA = Context.get(a, PnlService)
      const pnlB = Context.get(b, PnlService)
      const open = yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "2", price: "100", fee: "0.1" })
      // Sequentially twice.
      expect(yield* pnlA.apply(open)).toBe(true)
      expect(yield* pnlA.apply(open)).toBe(true)
      // Ten fills, each applied 6 times at once from two service instances (own pools on real Postgres).
      const fills = []
      for (let i = 0; i < 10; i++) {
        fills.push(yield* insertFill({ symbol: "BTC-USDT", action: i % 2 === 0 ? "sell" : "buy", quantity: "0.1", price: String(101 + i), fee: "0.01" }))
      }
      const results = yield* Effect.all(
        fills.flatMap((f) => [pnlA.apply(f), pnlB.apply(f), pnlA.apply(f), pnlB.apply(f), pnlA.catchUp, pnlB.catchUp]),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r === true)).toHaveLength(40)
      // Hand computation (in id order), long 2 @ 100 (cost 200):
      //  sell .1 @ 101: removes 200 × .1 / 2 = 10         → realises 10.1 − 10 = 0.1;            cost 190
      //  buy  .1 @ 102: cost 200.2
      //  sell .1 @ 103: removes 10.01                      → 0.29;                                cost 190.19
      //  buy  .1 @ 104: cost 200.59
      //  sell .1 @ 105: removes 10.0295                    → 0.4705;                              cost 190.5605
      //  buy  .1 @ 106: cost 201.1605
      //  sell .1 @ 107: removes 10.058025                  → 0.641975;                            cost 191.102475
      //  buy  .1 @ 108: cost 201.902475
      //  sell .1 @ 109: removes 10.09512375                → 0.80487625;                          cost 191.80735125
      //  buy  .1 @ 110: cost 202.80735125 (quantity 2)
      //  realised = 0.1 + 0.29 + 0.4705 + 0.641975 + 0.80487625 = 2.30735125 — once, not six times.
      const totals = yield* pnlA.totals
      expect(plain(totals.realised)).toBe("2.30735125")
      expect(plain((yield* pnlB.openPositions)[0]!.cost)).toBe("202.80735125")
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ fills: string; quantity: string; fees: string }>`
        SELECT fills::text AS fills, quantity::text AS quantity, fees::text AS fees FROM pnl_positions`
      expect(Number(row!.fills)).toBe(11)
      expect(Number(row!.quantity)).toBe(2)
      expect(plain(parseUnsafe(row!.fees))).toBe("0.2")
      const [applied] = yield* sql<{ n: number }>`SELECT COUNT(*)::integer AS n FROM fills WHERE pnl_applied_at IS NOT NULL`
      expect(Number(applied!.n)).toBe(11)
    }).pipe(Effect.scoped)), { timeout: 60_000 })

  it.live("fills come in from FillEvents; a fill never published is picked up by the periodic sweep", () =>
    withDatabase(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const registry: Metric.MetricRegistry = new Map()
      // No periodic sweep here (1 hour): only the event can apply the fill.
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        const events = yield* FillEvents
        const fill = yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "1", price: "100" })
        yield* events.publish(fill)
        const open = yield* eventually(positionsJson(pnl), (ps) => ps.length === 1)
        expect(open[0]).toMatchObject({ symbol: "BTC-USDT", side: "long", quantity: "1", entry_price: "100" })
      }).pipe(Effect.provide(layerPnlProcess(registry)), Effect.provideService(Metric.MetricRegistry, registry))
      // Sweep every 200 ms: a fill stored after start and never published is applied anyway (watched in
      // the table and the gauges: a read of the book would apply it itself).
      yield* Effect.gen(function*() {
        const fill = yield* insertFill({ symbol: "BTC-USDT", action: "sell", quantity: "1", price: "90" })
        const applied = sql<{ applied: boolean }>`
          SELECT pnl_applied_at IS NOT NULL AS applied FROM fills WHERE id = ${fill.fillId}::bigint`
        yield* eventually(applied, (rows) => rows[0]?.applied === true)
        expect((yield* readGauges(registry)).total).toBe(-10)
        expect(plain((yield* (yield* PnlService).totals).realised)).toBe("-10")
      }).pipe(
        Effect.provide(layerPnlProcess(registry, { sweepInterval: "200 millis" })),
        Effect.provideService(Metric.MetricRegistry, registry)
      )
    })), { timeout: 60_000 })

  it.live("a read of the book includes every recorded fill, even one no event or sweep has applied yet", () =>
    withDatabase(Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      const exchange = fakeExchangeState({ "BTC-USDT": "110" })
      // No sweep (1 hour) and no event published: only the reads can apply these fills.
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "2", price: "100", fee: "0.1" })
        const parts = yield* accountJson(pnl)
        expect(parts.pnl).toMatchObject({ realized: "0", unrealized: "20", fees: "0.1" })
        expect(parts.open_positions).toMatchObject([{ symbol: "BTC-USDT", side: "long", quantity: "2", entry_price: "100" }])
        yield* insertFill({ symbol: "BTC-USDT", action: "sell", quantity: "1", price: "105", fee: "0.05" })
        expect(plain((yield* pnl.totals).realised)).toBe("5")
        yield* insertFill({ symbol: "BTC-USDT", action: "sell", quantity: "1", price: "120", fee: "0.06" })
        expect(yield* positionsJson(pnl)).toEqual([])
        expect((yield* summaryJson(pnl, "all")).realized).toBe("25")
        yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "1", price: "100" })
        // Header + the four fills, the last applied by this read.
        expect((yield* Effect.map(pnl.fillsReport({ from: undefined, to: undefined }), renderCsv)).trim().split("\n")).toHaveLength(5)
        expect(yield* pnl.catchUp).toBe(0)
        expect((yield* readGauges(registry)).total).toBe(25)
      }).pipe(
        Effect.provide(layerPnlProcess(registry, undefined, layerFakeExchange(exchange))),
        Effect.provideService(Metric.MetricRegistry, registry)
      )
    })), { timeout: 60_000 })

  it.live("the fills of a burst share one ledger transaction, and a batch that drains the backlog ends the catch-up", () =>
    withDatabase(Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      // Fills taken per ledger transaction, in order (PnlRepo.applyBatch, counted).
      const batches: Array<number> = []
      const countingRepo = Layer.effect(
        PnlRepo,
        Effect.map(PnlRepo.make, (repo) =>
          PnlRepo.of({
            ...repo,
            applyBatch: (limit) => Effect.tap(repo.applyBatch(limit), (b) => Effect.sync(() => batches.push(b.applied.length)))
          }))
      )
      const layer = PnlService.layerNoDeps({ sweepInterval: "1 hour", applyDelay: "1 second" }).pipe(
        Layer.provide(countingRepo),
        Layer.provideMerge(Layer.fresh(FillEvents.layer)),
        Layer.provide(Layer.succeed(Metric.MetricRegistry, registry))
      )
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        const events = yield* FillEvents
        expect(batches).toEqual([0]) // the catch-up at start: nothing stored
        // Five fills recorded and announced a few milliseconds apart, as the order actor would.
        for (let i = 0; i < 5; i++) {
          yield* events.publish(yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "1", price: `${100 + i}` }))
          yield* Effect.sleep("5 millis")
        }
        yield* eventually(Effect.sync(() => batches.length), (n) => n > 1)
        yield* Effect.sleep("300 millis")
        // One transaction for the burst; it drained the backlog, so no second one to find nothing.
        expect(batches).toEqual([0, 5])
        expect((yield* readGauges(registry)).bySymbol["BTC-USDT"]).toBe(0)
        expect(yield* positionsJson(pnl)).toMatchObject([{ symbol: "BTC-USDT", side: "long", quantity: "5", entry_price: "102" }])
      }).pipe(Effect.provide(layer), Effect.provideService(Metric.MetricRegistry, registry))
    })), { timeout: 60_000 })

  it.live("a fill the book refuses stops the batch: the fills before it count, it and those after it wait", () =>
    withDatabase(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const registry: Metric.MetricRegistry = new Map()
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        // A zero price cannot be stored normally: lift the check to plant one.
        yield* sql.unsafe("ALTER TABLE fills DROP CONSTRAINT fills_price_check")
        const good = yield* insertFill({ symbol: "BTC-USDT", action: "buy", quantity: "1", price: "100", filledAt: at(1) })
        const bad = yield* insertFill({ symbol: "BTC-USDT", action: "sell", quantity: "1", price: "0", filledAt: at(2) })
        const later = yield* insertFill({ symbol: "BTC-USDT", action: "sell", quantity: "1", price: "110", filledAt: at(3) })
        const failure = yield* Effect.flip(pnl.catchUp)
        expect(failure).toMatchObject({ _tag: "PnlLedgerError", fillId: bad.fillId })
        const applied = yield* sql<{ id: string; applied: boolean }>`
          SELECT id::text AS id, pnl_applied_at IS NOT NULL AS applied FROM fills ORDER BY id`
        expect(applied.map((r) => [r.id, r.applied])).toEqual([[good.fillId, true], [bad.fillId, false], [later.fillId, false]])
        expect(yield* positionsJson(pnl)).toMatchObject([{ symbol: "BTC-USDT", side: "long", quantity: "1", entry_price: "100" }])
        // Still refused on the next pass; nothing after it is applied out of order.
        expect(yield* Effect.flip(pnl.catchUp)).toMatchObject({ fillId: bad.fillId })
      }).pipe(Effect.provide(layerPnlProcess(registry)), Effect.provideService(Metric.MetricRegistry, registry))
    })), { timeout: 60_000 })

  it.live("restart: stored fills are applied at start and the gauges come back from the database", () =>
    withDatabase(Effect.gen(function*() {
      // Fills stored while no PnL service ran (e.g. before a crash).
      for (const spec of [...BTC, ...ETH]) yield* insertFill(spec)
      const first: Metric.MetricRegistry = new Map()
      yield* Effect.gen(function*() {
        // Applied during start-up, before the service is handed out.
        expect(yield* (yield* PnlService).catchUp).toBe(0)
        expect(yield* readGauges(first)).toEqual({ bySymbol: { "BTC-USDT": 200, "ETH-USDT": 70 }, total: 270 })
      }).pipe(Effect.provide(layerPnlProcess(first)), Effect.provideService(Metric.MetricRegistry, first))

      // A new process: fresh metrics, same database.
      const second: Metric.MetricRegistry = new Map()
      expect(yield* readGauges(second)).toEqual({ bySymbol: {}, total: undefined })
      yield* Effect.gen(function*() {
        const pnl = yield* PnlService
        expect(yield* readGauges(second)).toEqual({ bySymbol: { "BTC-USDT": 200, "ETH-USDT": 70 }, total: 270 })
        expect((yield* accountJson(pnl)).pnl.realized).toBe("270")
        // And it keeps counting from there.
        yield* insertFill(SOL[0]!)
        yield* insertFill({ symbol: "SOL-USDT", action: "buy", quantity: "4", price: "145" })
        yield* pnl.catchUp
        // (150 − 145) × 4 = 20
        expect(yield* readGauges(second)).toEqual({
          bySymbol: { "BTC-USDT": 200, "ETH-USDT": 70, "SOL-USDT": 20 },
          total: 290
        })
      }).pipe(Effect.provide(layerPnlProcess(second)), Effect.provideService(Metric.MetricRegistry, second))
    })), { timeout: 60_000 })
})
