/**
 * The PnL tables as the repository reads them: one Schema per query result, decoding the columns
 * (snake_case, `numeric` as text, ids as text) into camelCase domain values (BigDecimal, Date,
 * string ids) — a row that does not decode is an error, never a guess. Nothing here is written
 * to JSON; the HTTP edge has its own encoding (src/api/Pnl.ts).
 */
import { Schema } from "effect"
import { BigintText, Count, Numeric, Timestamptz } from "../db/columns.ts"
import { Action, BookSlot, PositionSide, SignalPositionSide } from "../domain/vocabulary.ts"
import type { SlotState } from "./book.ts"
import type { StoredSlot } from "./records.ts"

/** A `pnl_positions` row. */
export const SlotRow = Schema.Struct({
  symbol: Schema.String,
  slot: BookSlot,
  side: Schema.NullOr(PositionSide),
  quantity: Numeric,
  cost: Numeric,
  realised: Numeric,
  fees: Numeric,
  fills: Count,
  leverage: Schema.NullOr(Schema.Int),
  openedAt: Schema.NullOr(Timestamptz),
  updatedAt: Timestamptz
}).pipe(Schema.encodeKeys({ openedAt: "opened_at", updatedAt: "updated_at" }))
export type SlotRow = typeof SlotRow.Type

/** The columns `SlotRow` decodes (numerics as text). */
export const SLOT_COLUMNS = `symbol, slot, side, quantity::text AS quantity, cost::text AS cost, realised::text AS realised,
  fees::text AS fees, fills::text AS fills, leverage, opened_at, updated_at`

export const storedSlot = (row: SlotRow): StoredSlot => ({
  symbol: row.symbol,
  slot: row.slot,
  updatedAt: row.updatedAt,
  state: {
    side: row.side ?? undefined,
    leg: { quantity: row.quantity, cost: row.cost },
    realised: row.realised,
    fees: row.fees,
    fills: row.fills,
    openedAt: row.openedAt ?? undefined,
    leverage: row.leverage ?? undefined
  } satisfies SlotState
})

/** A fill not applied yet, with its order's leverage. */
export const PendingFillRow = Schema.Struct({
  id: BigintText,
  symbol: Schema.String,
  action: Action,
  positionSide: SignalPositionSide,
  quantity: Numeric,
  price: Numeric,
  fee: Numeric,
  filledAt: Timestamptz,
  leverage: Schema.NullOr(Schema.Int)
}).pipe(Schema.encodeKeys({ positionSide: "position_side", filledAt: "filled_at" }))
export type PendingFillRow = typeof PendingFillRow.Type

/** The fields of one fill that a fee correction reads (locked). */
export const FeeRow = Schema.Struct({
  id: BigintText,
  symbol: Schema.String,
  positionSide: SignalPositionSide,
  fee: Numeric,
  applied: Schema.Boolean
}).pipe(Schema.encodeKeys({ positionSide: "position_side" }))

/** Aggregates of the fills of one symbol in a window. */
export const SymbolPeriodRow = Schema.Struct({
  symbol: Schema.String,
  trades: Count,
  volume: Numeric,
  fees: Numeric,
  realised: Numeric,
  realisingFills: Count,
  winningFills: Count
}).pipe(Schema.encodeKeys({ realisingFills: "realising", winningFills: "wins" }))

/** One fill with what it realised (null while not applied). */
export const ReportedFillRow = Schema.Struct({
  fillId: BigintText,
  orderId: BigintText,
  filledAt: Timestamptz,
  symbol: Schema.String,
  action: Action,
  positionSide: SignalPositionSide,
  quantity: Numeric,
  price: Numeric,
  fee: Numeric,
  feeAsset: Schema.String,
  realised: Schema.NullOr(Numeric),
  closedQuantity: Schema.NullOr(Numeric)
}).pipe(Schema.encodeKeys({
  fillId: "id",
  orderId: "order_id",
  filledAt: "filled_at",
  positionSide: "position_side",
  feeAsset: "fee_asset",
  realised: "realised_pnl",
  closedQuantity: "closed"
}))
