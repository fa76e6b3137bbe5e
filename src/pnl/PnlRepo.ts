/**
 * Storage of the PnL book (`pnl_positions`) and the per-fill PnL columns of `fills`
 * (migration 0030). Fills are applied in transactions that first lock the single
 * `pnl_ledger_lock` row, take the oldest fills not yet applied (a batch), update their slots and
 * mark the fills applied — so fills are applied exactly once and in id order, by any number of
 * callers or processes. Numerics are read as text and parsed as `BigDecimal`; ids travel as strings.
 */
import { BigDecimal, Context, Data, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { parseUnsafe, plain, ZERO } from "../domain/decimal.ts"
import type { Action, PositionSide } from "../domain/vocabulary.ts"
import { applyFill, type BookFill, EMPTY_SLOT, type FillOutcome, type Slot, slotOf, type SlotState } from "./book.ts"

/** A stored fill the ledger cannot apply (it stays unapplied; the next sweep tries again). */
export class PnlLedgerError extends Data.TaggedError("PnlLedgerError")<{
  readonly fillId: string
  readonly message: string
}> {}

export interface StoredSlot {
  readonly symbol: string
  readonly slot: Slot
  readonly state: SlotState
  readonly updatedAt: Date
}

export interface AppliedFill {
  readonly fillId: string
  readonly symbol: string
  readonly slot: Slot
  readonly outcome: FillOutcome
  /** Realised PnL of the fill's symbol (all slots) and of the whole book, after this fill. */
  readonly symbolRealised: BigDecimal.BigDecimal
  readonly totalRealised: BigDecimal.BigDecimal
}

/** Aggregates of the fills of one symbol in a time window. */
export interface SymbolPeriodRow {
  readonly symbol: string
  readonly trades: number
  readonly volume: BigDecimal.BigDecimal
  readonly fees: BigDecimal.BigDecimal
  readonly realised: BigDecimal.BigDecimal
  readonly realisingFills: number
  readonly winningFills: number
}

/** One fill with its PnL, for the CSV report. */
export interface FillReportRow {
  readonly fillId: string
  readonly orderId: string
  readonly filledAt: Date
  readonly symbol: string
  readonly action: Action
  readonly positionSide: PositionSide | null
  readonly quantity: BigDecimal.BigDecimal
  readonly price: BigDecimal.BigDecimal
  readonly fee: BigDecimal.BigDecimal
  readonly feeAsset: string
  /** undefined while the fill is not applied yet. */
  readonly realised: BigDecimal.BigDecimal | undefined
  readonly closedQuantity: BigDecimal.BigDecimal | undefined
}

interface SlotRow {
  readonly symbol: string
  readonly slot: Slot
  readonly side: PositionSide | null
  readonly quantity: string
  readonly cost: string
  readonly realised: string
  readonly fees: string
  readonly fills: string
  readonly leverage: number | null
  readonly opened_at: Date | string | null
  readonly updated_at: Date | string
}

const SLOT_COLUMNS = `symbol, slot, side, quantity::text AS quantity, cost::text AS cost, realised::text AS realised,
  fees::text AS fees, fills::text AS fills, leverage, opened_at, updated_at`

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v))

const toStoredSlot = (row: SlotRow): StoredSlot => ({
  symbol: row.symbol,
  slot: row.slot,
  updatedAt: toDate(row.updated_at),
  state: {
    side: row.side ?? undefined,
    leg: { quantity: parseUnsafe(row.quantity), cost: parseUnsafe(row.cost) },
    realised: parseUnsafe(row.realised),
    fees: parseUnsafe(row.fees),
    fills: Number(row.fills),
    openedAt: row.opened_at === null ? undefined : toDate(row.opened_at),
    leverage: row.leverage === null ? undefined : Number(row.leverage)
  }
})

interface PendingRow {
  readonly id: string
  readonly symbol: string
  readonly action: Action
  readonly position_side: PositionSide | null
  readonly quantity: string
  readonly price: string
  readonly fee: string
  readonly filled_at: Date | string
  readonly leverage: number | null
}

export interface AppliedBatch {
  readonly applied: ReadonlyArray<AppliedFill>
  readonly drained: boolean
}

export interface PnlRepoShape {
  /**
   * Applies up to `limit` of the oldest unapplied fills, in id order (one transaction). `drained`:
   * no fill was left unapplied when the batch was read (fewer than `limit` were pending and the book
   * took them all), so another call now would find only fills recorded since.
   */
  readonly applyBatch: (limit: number) => Effect.Effect<AppliedBatch, SqlError | PnlLedgerError>
  /** Whether a fill exists and is applied (undefined: no such fill). */
  readonly isApplied: (fillId: string) => Effect.Effect<boolean | undefined, SqlError>
  readonly slots: Effect.Effect<ReadonlyArray<StoredSlot>, SqlError>
  /** Fills in [from, to) grouped by symbol (an undefined bound is open). */
  readonly periodBySymbol: (
    from: Date | undefined,
    to: Date | undefined
  ) => Effect.Effect<ReadonlyArray<SymbolPeriodRow>, SqlError>
  /** Fills in [from, to), oldest first (an undefined bound is open). */
  readonly fillsReport: (
    from: Date | undefined,
    to: Date | undefined
  ) => Effect.Effect<ReadonlyArray<FillReportRow>, SqlError>
}

export class PnlRepo extends Context.Service<PnlRepo, PnlRepoShape>()("tvtelegrambingx/PnlRepo") {
  static readonly make = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * Up to `limit` of the oldest unapplied fills, in id order, in ONE transaction under the ledger
     * lock: every slot row is read (and locked) once, the fills are applied to those states in
     * memory, then the touched slots are written and the fills marked applied in one statement.
     * The result is exactly what applying them one transaction each gives (same order, same rows;
     * the totals after each fill are the sums of the locked slot rows), in a handful of round
     * trips instead of eight per fill. A fill the book refuses stops the batch: the ones before it
     * are applied and returned; the next call fails on it (it stays unapplied, as before).
     */
    const applyBatch = (limit: number) =>
      sql.withTransaction(Effect.gen(function*() {
        yield* sql`SELECT id FROM pnl_ledger_lock WHERE id = 1 FOR UPDATE`
        const pending = yield* sql<PendingRow>`
          SELECT f.id::text AS id, f.symbol, f.action, f.position_side, f.quantity::text AS quantity,
                 f.price::text AS price, f.fee::text AS fee, f.filled_at, o.leverage
          FROM fills f JOIN orders o ON o.id = f.order_id
          WHERE f.pnl_applied_at IS NULL
          ORDER BY f.id
          LIMIT ${limit}`
        if (pending.length === 0) return { applied: [], drained: true }
        const rows = yield* sql<SlotRow>`
          SELECT ${sql.unsafe(SLOT_COLUMNS)} FROM pnl_positions ORDER BY symbol, slot FOR UPDATE`
        const states = new Map<string, SlotState>()
        for (const row of rows) states.set(`${row.symbol}\u0000${row.slot}`, toStoredSlot(row).state)
        const realisedOf = (symbol: string | undefined) => {
          let sum = ZERO
          for (const [key, state] of states) {
            if (symbol === undefined || key.slice(0, key.indexOf("\u0000")) === symbol) sum = BigDecimal.sum(sum, state.realised)
          }
          return sum
        }
        const applied: Array<AppliedFill> = []
        const touched = new Map<string, { readonly symbol: string; readonly slot: Slot }>()
        for (const fill of pending) {
          const slot = slotOf(fill.position_side)
          const key = `${fill.symbol}\u0000${slot}`
          const bookFill: BookFill = {
            action: fill.action,
            positionSide: fill.position_side,
            quantity: parseUnsafe(fill.quantity),
            price: parseUnsafe(fill.price),
            fee: parseUnsafe(fill.fee),
            filledAt: toDate(fill.filled_at),
            leverage: fill.leverage === null ? undefined : Number(fill.leverage)
          }
          const outcome = yield* Effect.try({
            try: () => applyFill(states.get(key) ?? EMPTY_SLOT, bookFill),
            catch: (e) =>
              new PnlLedgerError({ fillId: fill.id, message: `fill ${fill.id} cannot be applied: ${String(e)}` })
          }).pipe(Effect.result)
          if (outcome._tag === "Failure") {
            if (applied.length === 0) return yield* outcome.failure
            break
          }
          states.set(key, outcome.success.state)
          touched.set(key, { symbol: fill.symbol, slot })
          applied.push({
            fillId: fill.id,
            symbol: fill.symbol,
            slot,
            outcome: outcome.success,
            symbolRealised: realisedOf(fill.symbol),
            totalRealised: realisedOf(undefined)
          })
        }
        // Every touched slot in one statement (exact decimal strings, cast by Postgres).
        const slotRows = sql.csv(
          [...touched].map(([key, { symbol, slot }]) => {
            const s = states.get(key)!
            return sql`(${symbol}, ${slot}, ${s.side ?? null}, ${plain(s.leg.quantity)}::numeric, ${plain(s.leg.cost)}::numeric,
                    ${plain(s.realised)}::numeric, ${plain(s.fees)}::numeric, ${s.fills}::bigint, ${s.leverage ?? null}::integer,
                    ${s.openedAt?.toISOString() ?? null}::timestamptz, now())`
          })
        )
        // (At least one fill is applied here: a refusal of the first one failed above.)
        yield* sql`
          INSERT INTO pnl_positions (symbol, slot, side, quantity, cost, realised, fees, fills, leverage, opened_at, updated_at)
          VALUES ${slotRows}
          ON CONFLICT (symbol, slot) DO UPDATE SET
            side = EXCLUDED.side, quantity = EXCLUDED.quantity, cost = EXCLUDED.cost, realised = EXCLUDED.realised,
            fees = EXCLUDED.fees, fills = EXCLUDED.fills, leverage = EXCLUDED.leverage, opened_at = EXCLUDED.opened_at,
            updated_at = now()`
        const marks = JSON.stringify(applied.map((a) => ({
          id: a.fillId,
          realised: plain(a.outcome.realised),
          closed: plain(a.outcome.closed)
        })))
        const marked = yield* sql<{ id: string }>`
          UPDATE fills f SET pnl_applied_at = now(), realised_pnl = x.realised::numeric, pnl_closed_quantity = x.closed::numeric
          FROM jsonb_to_recordset(${marks}::jsonb) AS x(id text, realised text, closed text)
          WHERE f.id = x.id::bigint AND f.pnl_applied_at IS NULL
          RETURNING f.id::text AS id`
        if (marked.length !== applied.length) {
          // Cannot happen under the ledger lock; refuse to double-count if it ever does.
          const done = new Set(marked.map((m) => m.id))
          const first = applied.find((a) => !done.has(a.fillId))!
          return yield* new PnlLedgerError({ fillId: first.fillId, message: `fill ${first.fillId} was applied concurrently` })
        }
        return { applied, drained: pending.length < limit && applied.length === pending.length }
      }))

    const isApplied = (fillId: string) =>
      Effect.map(
        sql<{ applied: boolean }>`SELECT pnl_applied_at IS NOT NULL AS applied FROM fills WHERE id = ${fillId}::bigint`,
        (rows) => rows[0]?.applied
      )

    const slots = Effect.map(
      sql<SlotRow>`SELECT ${sql.unsafe(SLOT_COLUMNS)} FROM pnl_positions ORDER BY symbol, slot`,
      (rows) => rows.map(toStoredSlot)
    )

    const since = (from: Date | undefined) =>
      from === undefined ? sql`TRUE` : sql`f.filled_at >= ${from.toISOString()}::timestamptz`
    const before = (to: Date | undefined) =>
      to === undefined ? sql`TRUE` : sql`f.filled_at < ${to.toISOString()}::timestamptz`

    const periodBySymbol = (from: Date | undefined, to: Date | undefined) =>
      Effect.map(
        sql<{
          symbol: string
          trades: number
          volume: string
          fees: string
          realised: string
          realising: number
          wins: number
        }>`
          SELECT f.symbol,
                 COUNT(*)::integer AS trades,
                 SUM(f.price * f.quantity)::text AS volume,
                 SUM(f.fee)::text AS fees,
                 COALESCE(SUM(f.realised_pnl) FILTER (WHERE f.pnl_applied_at IS NOT NULL), 0)::text AS realised,
                 (COUNT(*) FILTER (WHERE f.pnl_closed_quantity > 0))::integer AS realising,
                 (COUNT(*) FILTER (WHERE f.pnl_closed_quantity > 0 AND f.realised_pnl > 0
                                    AND f.pnl_applied_at IS NOT NULL))::integer AS wins
          FROM fills f
          WHERE ${since(from)} AND ${before(to)}
          GROUP BY f.symbol
          ORDER BY f.symbol`,
        (rows) =>
          rows.map((r): SymbolPeriodRow => ({
            symbol: r.symbol,
            trades: Number(r.trades),
            volume: parseUnsafe(r.volume),
            fees: parseUnsafe(r.fees),
            realised: parseUnsafe(r.realised),
            realisingFills: Number(r.realising),
            winningFills: Number(r.wins)
          }))
      )

    const fillsReport = (from: Date | undefined, to: Date | undefined) =>
      Effect.map(
        sql<{
          id: string
          order_id: string
          filled_at: Date | string
          symbol: string
          action: Action
          position_side: PositionSide | null
          quantity: string
          price: string
          fee: string
          fee_asset: string
          realised_pnl: string | null
          closed: string | null
          applied: boolean
        }>`
          SELECT f.id::text AS id, f.order_id::text AS order_id, f.filled_at, f.symbol, f.action, f.position_side,
                 f.quantity::text AS quantity, f.price::text AS price, f.fee::text AS fee, f.fee_asset,
                 f.realised_pnl::text AS realised_pnl, f.pnl_closed_quantity::text AS closed,
                 f.pnl_applied_at IS NOT NULL AS applied
          FROM fills f
          WHERE ${since(from)} AND ${before(to)}
          ORDER BY f.filled_at, f.id`,
        (rows) =>
          rows.map((r): FillReportRow => ({
            fillId: r.id,
            orderId: r.order_id,
            filledAt: toDate(r.filled_at),
            symbol: r.symbol,
            action: r.action,
            positionSide: r.position_side,
            quantity: parseUnsafe(r.quantity),
            price: parseUnsafe(r.price),
            fee: parseUnsafe(r.fee),
            feeAsset: r.fee_asset,
            realised: r.applied ? (r.realised_pnl === null ? ZERO : parseUnsafe(r.realised_pnl)) : undefined,
            closedQuantity: r.applied ? (r.closed === null ? ZERO : parseUnsafe(r.closed)) : undefined
          }))
      )

    return PnlRepo.of({
      applyBatch: (limit: number) => Effect.withSpan(applyBatch(limit), "PnlRepo.applyBatch"),
      isApplied,
      slots,
      periodBySymbol,
      fillsReport
    })
  })

  /** Needs SqlClient. */
  static readonly layer = Layer.effect(PnlRepo, PnlRepo.make)
}
