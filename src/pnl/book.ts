/**
 * The PnL book (pure): one slot per (symbol, mode) — `net` for a one-way position (fills without a
 * position side; the side flips through zero), `long` / `short` for the two legs of a hedge-mode
 * position. Each slot keeps its ledger leg (open quantity + exact cost basis), its realised PnL,
 * fees and fill count. `PnlService` stores exactly this state in `pnl_positions`.
 *
 * Rules (see src/domain/ledger.ts): opening fills add `price × qty` to the cost; reducing fills
 * realise `(exit − avg) × qty` (long) / `(avg − exit) × qty` (short) by removing the closed share
 * of the cost — the whole cost on a full close, `cost × q / open` rounded half-even at 18 decimals
 * on a partial one; a one-way fill beyond zero closes the position and opens the rest at the fill
 * price. Fees are summed separately (net = realised − fees). A hedge-mode fill that reduces more
 * than the leg holds realises on what is held; the excess is reported as `ignored` (the exchange
 * refuses such orders, so it only happens when positions were changed outside the bot).
 */
import { BigDecimal } from "effect"
import { ZERO } from "../domain/decimal.ts"
import { applyToLeg, applyToNet, FLAT, isFlat, type Leg } from "../domain/ledger.ts"
import type { Action, BookSlot, PositionSide } from "../domain/vocabulary.ts"

/** Fills without a position side belong to the one-way (net) slot. */
export const slotOf = (positionSide: PositionSide | null): BookSlot => positionSide ?? "net"

export interface SlotState {
  /** The open side; undefined when flat. */
  readonly side: PositionSide | undefined
  readonly leg: Leg
  /** Realised PnL of the slot so far (before fees). */
  readonly realised: BigDecimal.BigDecimal
  readonly fees: BigDecimal.BigDecimal
  readonly fills: number
  /** When the open position was opened (last time it went from flat, or flipped). */
  readonly openedAt: Date | undefined
  /** Leverage of the last order that opened or added to the position. */
  readonly leverage: number | undefined
}

export const EMPTY_SLOT: SlotState = {
  side: undefined,
  leg: FLAT,
  realised: ZERO,
  fees: ZERO,
  fills: 0,
  openedAt: undefined,
  leverage: undefined
}

export interface BookFill {
  readonly action: Action
  readonly positionSide: PositionSide | null
  /** > 0 */
  readonly quantity: BigDecimal.BigDecimal
  /** > 0 */
  readonly price: BigDecimal.BigDecimal
  /** Paid fee (a rebate is negative), in the quote currency. */
  readonly fee: BigDecimal.BigDecimal
  readonly filledAt: Date
  readonly leverage: number | undefined
}

export interface FillOutcome {
  readonly state: SlotState
  /** Realised PnL of this fill (0 when it only opened). */
  readonly realised: BigDecimal.BigDecimal
  readonly opened: BigDecimal.BigDecimal
  /** Quantity this fill closed: > 0 makes it a "realising" fill. */
  readonly closed: BigDecimal.BigDecimal
  /** Hedge mode: quantity reduced beyond the open leg, not applied. */
  readonly ignored: BigDecimal.BigDecimal
}

/** Applies one fill to the slot it belongs to (`slotOf(fill.positionSide)` must be that slot). */
export const applyFill = (state: SlotState, fill: BookFill): FillOutcome => {
  let side: PositionSide | undefined
  let leg: Leg
  let realised: BigDecimal.BigDecimal
  let opened: BigDecimal.BigDecimal
  let closed: BigDecimal.BigDecimal
  let ignored = ZERO
  if (fill.positionSide === null) {
    const r = applyToNet({ side: state.side, leg: state.leg }, fill.action, fill.quantity, fill.price)
    side = r.position.side
    leg = r.position.leg
    realised = r.realised
    opened = r.opened
    closed = r.closed
  } else {
    const r = applyToLeg(fill.positionSide, state.leg, fill.action, fill.quantity, fill.price)
    leg = r.leg
    side = isFlat(r.leg) ? undefined : fill.positionSide
    realised = r.realised
    opened = r.opened
    closed = r.closed
    ignored = r.excess
  }
  const reopened = side !== undefined && side !== state.side
  return {
    state: {
      side,
      leg,
      realised: BigDecimal.sum(state.realised, realised),
      fees: BigDecimal.sum(state.fees, fill.fee),
      fills: state.fills + 1,
      openedAt: side === undefined ? undefined : reopened ? fill.filledAt : state.openedAt,
      leverage: side === undefined
        ? undefined
        : BigDecimal.isPositive(opened) && fill.leverage !== undefined
        ? fill.leverage
        : reopened
        ? fill.leverage
        : state.leverage
    },
    realised,
    opened,
    closed,
    ignored
  }
}

/** A whole book in memory (tests and the reference comparison): key = `${symbol} ${slot}`. */
export type Book = ReadonlyMap<string, SlotState>

export const bookKey = (symbol: string, slot: BookSlot): string => `${symbol} ${slot}`

export const applyToBook = (
  book: Book,
  symbol: string,
  fill: BookFill
): { readonly book: Book; readonly outcome: FillOutcome } => {
  const key = bookKey(symbol, slotOf(fill.positionSide))
  const outcome = applyFill(book.get(key) ?? EMPTY_SLOT, fill)
  const next = new Map(book)
  next.set(key, outcome.state)
  return { book: next, outcome }
}
