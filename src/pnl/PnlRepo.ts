/**
 * Storage of the PnL book (`pnl_positions`) and the per-fill PnL columns of `fills`
 * (migration 0030). Fills are applied in transactions that first lock the single
 * `pnl_ledger_lock` row, take the oldest fills not yet applied (a batch), update their slots and
 * mark the fills applied — so fills are applied exactly once and in id order, by any number of
 * callers or processes. A fee correction takes the same lock: it rewrites the fill's fee and, when
 * the fill is already in the book, adds the difference to its slot's fees in the same transaction
 * (a second correction to the same figure finds no difference), so every fee counts exactly once.
 * Rows are decoded with the Schemas of src/pnl/rows.ts into domain records (a row that does not
 * decode is a defect: the tables' constraints make it impossible); values are encoded (plain
 * decimal text, ISO times) only when written.
 */
import { BigDecimal, Context, Data, Effect, Layer, Schema } from "effect"
import { SqlClient, SqlSchema } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { plain, ZERO } from "../domain/decimal.ts"
import type { BookSlot } from "../domain/vocabulary.ts"
import { applyFill, type BookFill, EMPTY_SLOT, slotOf, type SlotState } from "./book.ts"
import type { Window } from "./report.ts"
import type { AppliedFill, FeeCorrection, ReportedFill, StoredSlot, SymbolPeriod } from "./records.ts"
import { FeeRow, PendingFillRow, ReportedFillRow, SLOT_COLUMNS, SlotRow, storedSlot, SymbolPeriodRow } from "./rows.ts"

/** A stored fill the ledger cannot apply (it stays unapplied; the next sweep tries again). */
export class PnlLedgerError extends Data.TaggedError("PnlLedgerError")<{
  readonly fillId: string
  readonly message: string
}> {}

/** A fee correction named a fill that is not stored. */
export class FillNotFound extends Data.TaggedError("FillNotFound")<{
  readonly fillId: string
  readonly message: string
}> {}

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
  /** Fills in the window grouped by symbol. */
  readonly periodBySymbol: (window: Window) => Effect.Effect<ReadonlyArray<SymbolPeriod>, SqlError>
  /** Fills in the window, oldest first. */
  readonly fillsReport: (window: Window) => Effect.Effect<ReadonlyArray<ReportedFill>, SqlError>
  /**
   * Sets a fill's fee to the exact figure (one transaction, under the ledger lock). When the fill
   * is applied already, the difference goes into its slot's fees now; when it is not, it will be
   * applied with this fee. The same figure again changes nothing.
   */
  readonly correctFee: (
    fillId: string,
    fee: BigDecimal.BigDecimal
  ) => Effect.Effect<FeeCorrection, SqlError | FillNotFound | PnlLedgerError>
}

/** A row that does not match its Schema cannot come from these tables: a defect, with the reason. */
const orDieOnSchema = <A, E, R>(effect: Effect.Effect<A, E | Schema.SchemaError, R>): Effect.Effect<A, Exclude<E, Schema.SchemaError>, R> =>
  Effect.catchIf(
    effect,
    (e): e is Schema.SchemaError => Schema.isSchemaError(e),
    (e) => Effect.die(new Error(`PnL: a stored row does not decode: ${e.message}`))
  ) as Effect.Effect<A, Exclude<E, Schema.SchemaError>, R>

const decodeSlots = Schema.decodeUnknownEffect(Schema.Array(SlotRow))
const decodePending = Schema.decodeUnknownEffect(Schema.Array(PendingFillRow))
const decodeFee = Schema.decodeUnknownEffect(Schema.Array(FeeRow))

export class PnlRepo extends Context.Service<PnlRepo, PnlRepoShape>()("tvtelegrambingx/PnlRepo") {
  static readonly make = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const lockLedger = sql`SELECT id FROM pnl_ledger_lock WHERE id = 1 FOR UPDATE`

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
        yield* lockLedger
        const pending = yield* decodePending(
          yield* sql`
            SELECT f.id::text AS id, f.symbol, f.action, f.position_side, f.quantity::text AS quantity,
                   f.price::text AS price, f.fee::text AS fee, f.filled_at, o.leverage
            FROM fills f JOIN orders o ON o.id = f.order_id
            WHERE f.pnl_applied_at IS NULL
            ORDER BY f.id
            LIMIT ${limit}`
        )
        if (pending.length === 0) return { applied: [], drained: true }
        const rows = yield* decodeSlots(
          yield* sql`SELECT ${sql.unsafe(SLOT_COLUMNS)} FROM pnl_positions ORDER BY symbol, slot FOR UPDATE`
        )
        const states = new Map<string, SlotState>()
        for (const row of rows) states.set(`${row.symbol}\u0000${row.slot}`, storedSlot(row).state)
        const realisedOf = (symbol: string | undefined) => {
          let sum = ZERO
          for (const [key, state] of states) {
            if (symbol === undefined || key.slice(0, key.indexOf("\u0000")) === symbol) sum = BigDecimal.sum(sum, state.realised)
          }
          return sum
        }
        const applied: Array<AppliedFill> = []
        const touched = new Map<string, { readonly symbol: string; readonly slot: BookSlot }>()
        for (const fill of pending) {
          const slot = slotOf(fill.positionSide)
          const key = `${fill.symbol}\u0000${slot}`
          const bookFill: BookFill = {
            action: fill.action,
            positionSide: fill.positionSide,
            quantity: fill.quantity,
            price: fill.price,
            fee: fill.fee,
            filledAt: fill.filledAt,
            leverage: fill.leverage ?? undefined
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
        // Every touched slot in one statement (plain decimal text, cast by Postgres).
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
      })).pipe(orDieOnSchema)

    const isApplied = (fillId: string) =>
      Effect.map(
        sql<{ applied: boolean }>`SELECT pnl_applied_at IS NOT NULL AS applied FROM fills WHERE id = ${fillId}::bigint`,
        (rows) => rows[0]?.applied
      )

    const slots = SqlSchema.findAll({
      Request: Schema.Void,
      Result: SlotRow,
      execute: () => sql`SELECT ${sql.unsafe(SLOT_COLUMNS)} FROM pnl_positions ORDER BY symbol, slot`
    })(undefined).pipe(Effect.map((rows) => rows.map(storedSlot)), orDieOnSchema)

    const since = (from: Date | undefined) =>
      from === undefined ? sql`TRUE` : sql`f.filled_at >= ${from.toISOString()}::timestamptz`
    const before = (to: Date | undefined) =>
      to === undefined ? sql`TRUE` : sql`f.filled_at < ${to.toISOString()}::timestamptz`

    const BoundsRequest = Schema.Struct({ from: Schema.UndefinedOr(Schema.Date), to: Schema.UndefinedOr(Schema.Date) })

    const findPeriodBySymbol = SqlSchema.findAll({
      Request: BoundsRequest,
      Result: SymbolPeriodRow,
      execute: ({ from, to }) =>
        sql`
          SELECT f.symbol,
                 COUNT(*)::text AS trades,
                 SUM(f.price * f.quantity)::text AS volume,
                 SUM(f.fee)::text AS fees,
                 COALESCE(SUM(f.realised_pnl) FILTER (WHERE f.pnl_applied_at IS NOT NULL), 0)::text AS realised,
                 (COUNT(*) FILTER (WHERE f.pnl_closed_quantity > 0))::text AS realising,
                 (COUNT(*) FILTER (WHERE f.pnl_closed_quantity > 0 AND f.realised_pnl > 0
                                    AND f.pnl_applied_at IS NOT NULL))::text AS wins
          FROM fills f
          WHERE ${since(from)} AND ${before(to)}
          GROUP BY f.symbol
          ORDER BY f.symbol`
    })
    const periodBySymbol = (window: Window) => orDieOnSchema(findPeriodBySymbol(window))

    const findFills = SqlSchema.findAll({
      Request: BoundsRequest,
      Result: ReportedFillRow,
      execute: ({ from, to }) =>
        sql`
          SELECT f.id::text AS id, f.order_id::text AS order_id, f.filled_at, f.symbol, f.action, f.position_side,
                 f.quantity::text AS quantity, f.price::text AS price, f.fee::text AS fee, f.fee_asset,
                 CASE WHEN f.pnl_applied_at IS NULL THEN NULL ELSE COALESCE(f.realised_pnl, 0)::text END AS realised_pnl,
                 CASE WHEN f.pnl_applied_at IS NULL THEN NULL ELSE COALESCE(f.pnl_closed_quantity, 0)::text END AS closed
          FROM fills f
          WHERE ${since(from)} AND ${before(to)}
          ORDER BY f.filled_at, f.id`
    })
    const fillsReport = (window: Window) => orDieOnSchema(findFills(window))

    const correctFee = (fillId: string, fee: BigDecimal.BigDecimal) =>
      sql.withTransaction(Effect.gen(function*() {
        // The ledger lock first (as applyBatch): a batch reading this fill's fee and this update
        // never interleave, so the fill is counted with either the old fee plus the delta or the
        // exact fee, never both.
        yield* lockLedger
        const [row] = yield* decodeFee(
          yield* sql`
            SELECT id::text AS id, symbol, position_side, fee::text AS fee, pnl_applied_at IS NOT NULL AS applied
            FROM fills WHERE id = ${fillId}::bigint FOR UPDATE`
        )
        if (row === undefined) {
          return yield* new FillNotFound({ fillId, message: `fill ${fillId} is not stored; its fee cannot be corrected` })
        }
        const delta = BigDecimal.subtract(fee, row.fee)
        const correction: FeeCorrection = { fillId: row.id, previousFee: row.fee, fee, delta, booked: row.applied }
        if (BigDecimal.isZero(delta)) return correction
        yield* sql`UPDATE fills SET fee = ${plain(fee)}::numeric WHERE id = ${fillId}::bigint`
        if (!row.applied) return correction
        const slot = slotOf(row.positionSide)
        const updated = yield* sql<{ symbol: string }>`
          UPDATE pnl_positions SET fees = fees + ${plain(delta)}::numeric, updated_at = now()
          WHERE symbol = ${row.symbol} AND slot = ${slot}
          RETURNING symbol`
        if (updated.length !== 1) {
          // An applied fill always has its slot row (written in the same transaction as the mark).
          return yield* new PnlLedgerError({
            fillId,
            message: `fill ${fillId} is applied but its slot ${row.symbol}/${slot} is missing; fee not corrected`
          })
        }
        return correction
      })).pipe(orDieOnSchema)

    return PnlRepo.of({
      applyBatch: (limit: number) => Effect.withSpan(applyBatch(limit), "PnlRepo.applyBatch"),
      isApplied,
      slots,
      periodBySymbol,
      fillsReport,
      correctFee: (fillId, fee) => Effect.withSpan(correctFee(fillId, fee), "PnlRepo.correctFee")
    })
  })

  /** Needs SqlClient. */
  static readonly layer = Layer.effect(PnlRepo, PnlRepo.make)
}
