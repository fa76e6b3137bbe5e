/**
 * The PnL records the repository and the service hand around: camelCase, exact decimals
 * (BigDecimal), times as Date, ids as strings, null for a value that is not known. They are the
 * only shapes PnL speaks; the database edge decodes into them (src/pnl/rows.ts) and the HTTP edge
 * encodes them (src/api/Pnl.ts).
 */
import { type BigDecimal, Schema } from "effect"
import type { Action, BookSlot, PositionSide } from "../domain/vocabulary.ts"
import type { FillOutcome, SlotState } from "./book.ts"

/** Reporting periods (UTC windows: see src/pnl/report.ts). */
export const Period = Schema.Literals(["day", "week", "all"])
export type Period = typeof Period.Type

/** One slot of the book as stored. */
export interface StoredSlot {
  readonly symbol: string
  readonly slot: BookSlot
  readonly state: SlotState
  readonly updatedAt: Date
}

/** A fill the ledger has just applied. */
export interface AppliedFill {
  readonly fillId: string
  readonly symbol: string
  readonly slot: BookSlot
  readonly outcome: FillOutcome
  /** Realised PnL of the fill's symbol (all slots) and of the whole book, after this fill. */
  readonly symbolRealised: BigDecimal.BigDecimal
  readonly totalRealised: BigDecimal.BigDecimal
}

/** Aggregates of the fills of one symbol in a time window. */
export interface SymbolPeriod {
  readonly symbol: string
  readonly trades: number
  readonly volume: BigDecimal.BigDecimal
  readonly fees: BigDecimal.BigDecimal
  readonly realised: BigDecimal.BigDecimal
  readonly realisingFills: number
  readonly winningFills: number
}

/** One fill with its PnL (the CSV report's row). */
export interface ReportedFill {
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
  /** null while the fill is not applied yet. */
  readonly realised: BigDecimal.BigDecimal | null
  readonly closedQuantity: BigDecimal.BigDecimal | null
}

/** An open slot of the book, valued at the mark price when one is known. */
export interface OpenPosition {
  readonly symbol: string
  readonly slot: BookSlot
  readonly side: PositionSide
  readonly quantity: BigDecimal.BigDecimal
  readonly cost: BigDecimal.BigDecimal
  readonly entryPrice: BigDecimal.BigDecimal
  readonly markPrice: BigDecimal.BigDecimal | null
  readonly unrealised: BigDecimal.BigDecimal | null
  readonly leverage: number | null
  readonly openedAt: Date | null
}

export interface PnlTotals {
  /** All-time realised PnL (before fees), from the book. */
  readonly realised: BigDecimal.BigDecimal
  /** Sum over open positions whose mark price is known. */
  readonly unrealised: BigDecimal.BigDecimal
  /** realised + unrealised */
  readonly total: BigDecimal.BigDecimal
  readonly fees: BigDecimal.BigDecimal
  /** realised − fees */
  readonly net: BigDecimal.BigDecimal
}

/** One asset of the account: free = available margin, total = equity, locked = total − free (≥ 0). */
export interface Balance {
  readonly asset: string
  readonly free: BigDecimal.BigDecimal
  readonly locked: BigDecimal.BigDecimal
  readonly total: BigDecimal.BigDecimal
}

export interface SymbolSummary {
  readonly symbol: string
  readonly realised: BigDecimal.BigDecimal
  readonly fees: BigDecimal.BigDecimal
  readonly net: BigDecimal.BigDecimal
  readonly volume: BigDecimal.BigDecimal
  readonly trades: number
}

/** The fills of a period, summed. */
export interface PeriodSummary {
  readonly period: Period
  /** null for `all` (since the first fill). */
  readonly from: Date | null
  readonly to: Date
  readonly realised: BigDecimal.BigDecimal
  readonly fees: BigDecimal.BigDecimal
  readonly net: BigDecimal.BigDecimal
  /** Of the positions open now. */
  readonly unrealised: BigDecimal.BigDecimal
  readonly volume: BigDecimal.BigDecimal
  readonly trades: number
  readonly realisingFills: number
  /** Share of realising fills with a positive PnL, 4 decimals (half-even); null without any. */
  readonly winRate: BigDecimal.BigDecimal | null
  readonly bySymbol: ReadonlyArray<SymbolSummary>
}

/** What PnL contributes to the bot's status: balances, totals and open positions. */
export interface Account {
  readonly balances: ReadonlyArray<Balance>
  readonly totals: PnlTotals
  readonly positions: ReadonlyArray<OpenPosition>
}

/** The outcome of correcting a fill's fee to the exact figure. */
export interface FeeCorrection {
  readonly fillId: string
  readonly previousFee: BigDecimal.BigDecimal
  readonly fee: BigDecimal.BigDecimal
  /** fee − previousFee (0 when the fill already had this fee). */
  readonly delta: BigDecimal.BigDecimal
  /** Whether the delta went into the book now (the fill was applied); else the fill will be applied with the exact fee. */
  readonly booked: boolean
}
