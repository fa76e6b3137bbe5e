/**
 * Position ledger (pure, exact decimals): the way exchanges account for a perpetual position.
 *
 * A leg is the open quantity of one side and its cost basis (the entry notional of what is still
 * open). Opening fills add `price × qty` to the cost; reducing fills remove the closed share of the
 * cost and realise the difference:
 *   long:  realised = exit × q − removedCost   (= (exit − avg) × q)
 *   short: realised = removedCost − exit × q   (= (avg − exit) × q)
 * Closing the whole leg removes the whole cost, so a full close is exact to the last digit; a
 * partial close removes `cost × q / open` rounded half-even at `SCALE` decimals, and the remaining
 * cost keeps the rest, so realised + remaining cost always reconcile exactly.
 * Fees are not part of the ledger: they are tracked separately (net PnL = realised − fees).
 */
import { BigDecimal } from "effect"
import { divide, ZERO } from "./decimal.ts"
import type { Action, PositionSide } from "./vocabulary.ts"

/** Decimal places kept when a partial close splits the cost basis. */
export const SCALE = 18

export interface Leg {
  /** Open quantity (≥ 0). */
  readonly quantity: BigDecimal.BigDecimal
  /** Entry notional of the open quantity. */
  readonly cost: BigDecimal.BigDecimal
}

export const FLAT: Leg = { quantity: ZERO, cost: ZERO }

export const isFlat = (leg: Leg): boolean => BigDecimal.isZero(leg.quantity)

/** Average entry price (cost / quantity), rounded half-even at `SCALE`; undefined when flat. */
export const averagePrice = (leg: Leg): BigDecimal.BigDecimal | undefined =>
  isFlat(leg) ? undefined : BigDecimal.normalize(divide(leg.cost, leg.quantity, SCALE))

/** The side a fill opens (buy opens long, sell opens short). */
export const openingSide = (action: Action): PositionSide => (action === "buy" ? "long" : "short")

/** True when `action` increases a position on `side`. */
export const opens = (side: PositionSide, action: Action): boolean => openingSide(action) === side

export interface LegResult {
  readonly leg: Leg
  /** Realised PnL of this fill (0 for opening fills). */
  readonly realised: BigDecimal.BigDecimal
  readonly opened: BigDecimal.BigDecimal
  readonly closed: BigDecimal.BigDecimal
  /** Part of a reducing fill beyond the open quantity (hedge mode: the exchange would refuse it). */
  readonly excess: BigDecimal.BigDecimal
}

const requirePositive = (name: string, d: BigDecimal.BigDecimal) => {
  if (!BigDecimal.isPositive(d)) throw new RangeError(`${name} must be positive, got ${BigDecimal.format(d)}`)
}

/** Closes `quantity` (≤ open) of a leg at `price`. */
const close = (side: PositionSide, leg: Leg, quantity: BigDecimal.BigDecimal, price: BigDecimal.BigDecimal) => {
  const removedCost = BigDecimal.equals(quantity, leg.quantity)
    ? leg.cost
    : divide(BigDecimal.multiply(leg.cost, quantity), leg.quantity, SCALE)
  const exitNotional = BigDecimal.multiply(price, quantity)
  const realised = side === "long"
    ? BigDecimal.subtract(exitNotional, removedCost)
    : BigDecimal.subtract(removedCost, exitNotional)
  const remaining = BigDecimal.subtract(leg.quantity, quantity)
  const next: Leg = BigDecimal.isZero(remaining)
    ? FLAT
    : { quantity: remaining, cost: BigDecimal.subtract(leg.cost, removedCost) }
  return { leg: next, realised: BigDecimal.normalize(realised) }
}

/**
 * A fill against one side of a position (hedge mode, or any leg whose side is fixed).
 * Opening fills (long+buy, short+sell) add at the fill price; reducing fills realise.
 */
export const applyToLeg = (
  side: PositionSide,
  leg: Leg,
  action: Action,
  quantity: BigDecimal.BigDecimal,
  price: BigDecimal.BigDecimal
): LegResult => {
  requirePositive("quantity", quantity)
  requirePositive("price", price)
  if (opens(side, action)) {
    return {
      leg: {
        quantity: BigDecimal.sum(leg.quantity, quantity),
        cost: BigDecimal.sum(leg.cost, BigDecimal.multiply(price, quantity))
      },
      realised: ZERO,
      opened: quantity,
      closed: ZERO,
      excess: ZERO
    }
  }
  const closing = BigDecimal.min(quantity, leg.quantity)
  const excess = BigDecimal.subtract(quantity, closing)
  if (BigDecimal.isZero(closing)) return { leg, realised: ZERO, opened: ZERO, closed: ZERO, excess }
  const { leg: next, realised } = close(side, leg, closing, price)
  return { leg: next, realised, opened: ZERO, closed: closing, excess }
}

/** One-way (net) position: at most one side open at a time. */
export interface NetPosition {
  readonly side: PositionSide | undefined
  readonly leg: Leg
}

export const FLAT_NET: NetPosition = { side: undefined, leg: FLAT }

export interface NetResult {
  readonly position: NetPosition
  readonly realised: BigDecimal.BigDecimal
  readonly opened: BigDecimal.BigDecimal
  readonly closed: BigDecimal.BigDecimal
}

/**
 * A fill against a one-way position: with the side it adds; against it, it reduces; beyond zero it
 * flips — closes everything, then opens the remainder on the other side at the fill price.
 */
export const applyToNet = (
  position: NetPosition,
  action: Action,
  quantity: BigDecimal.BigDecimal,
  price: BigDecimal.BigDecimal
): NetResult => {
  const side = position.side ?? openingSide(action)
  const result = applyToLeg(side, position.side === undefined ? FLAT : position.leg, action, quantity, price)
  if (BigDecimal.isZero(result.excess)) {
    return {
      position: isFlat(result.leg) ? FLAT_NET : { side, leg: result.leg },
      realised: result.realised,
      opened: result.opened,
      closed: result.closed
    }
  }
  // Flip through zero: the excess opens the other side at the fill price.
  const flipped = applyToLeg(openingSide(action), FLAT, action, result.excess, price)
  return {
    position: { side: openingSide(action), leg: flipped.leg },
    realised: result.realised,
    opened: flipped.opened,
    closed: result.closed
  }
}

/** Unrealised PnL of a leg at the mark price: long `mark×q − cost`, short `cost − mark×q`. */
export const unrealised = (side: PositionSide, leg: Leg, mark: BigDecimal.BigDecimal): BigDecimal.BigDecimal => {
  if (isFlat(leg)) return ZERO
  const markNotional = BigDecimal.multiply(mark, leg.quantity)
  return BigDecimal.normalize(
    side === "long" ? BigDecimal.subtract(markNotional, leg.cost) : BigDecimal.subtract(leg.cost, markNotional)
  )
}
