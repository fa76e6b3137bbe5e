/**
 * The order plan (pure): from an order, the bot settings, the account's position mode, the
 * contract's rules and a price to the exact exchange request — or a refusal with its reason.
 * Ingest (against the alert's price, no exchange), planning (against the live price) and the
 * re-send after an unknown outcome all go through these functions; nothing else decides sides,
 * sizes, roundings, minimums or stop-loss / take-profit.
 *
 * Invariants:
 * - Sides: the order side is the action; one-way mode trades `BOTH` and sends `reduceOnly` for a
 *   close; hedge mode trades the `LONG`/`SHORT` leg and never sends `reduceOnly` (BingX refuses
 *   it there; a close is the opposite side on the same leg).
 * - Sizing: a quantity the signal gave is kept; else margin × leverage ÷ price, rounded down at
 *   `SIZING_SCALE` decimals. Planning rounds DOWN to the contract's quantity precision: the order
 *   never exceeds what was asked for. Below the minimum quantity (any order) or notional (entries
 *   only) it is refused.
 * - Stop-loss / take-profit are attached to entries only, rounded (half-even) to the contract's
 *   price precision, and must lie on the protective side of the price: below (SL) / above (TP) it
 *   for a long entry, the reverse for a short one.
 * - The plan is a value (`OrderRequest`): stored with the `submitted` transition and re-sent as is.
 */
import { BigDecimal, Schema } from "effect"
import { floorTo, plain, roundTo, sizeFromMargin } from "./decimal.ts"
import {
  type Action,
  ExchangePositionSide,
  ExchangeSide,
  type MarginMode,
  type PositionMode,
  type SignalPositionSide
} from "./vocabulary.ts"

/** Decimal places of a quantity sized from margin (rounded down: never more than the margin buys). */
export const SIZING_SCALE = 8

/** The MARKET order request the exchange receives (and the plan stores). */
export const OrderRequest = Schema.Struct({
  symbol: Schema.String,
  side: ExchangeSide,
  positionSide: ExchangePositionSide,
  type: Schema.Literal("MARKET"),
  quantity: Schema.BigDecimal,
  /** Stable per order: a resend after an unknown outcome reuses it (lowercase, ≤ 40 chars). */
  clientOrderId: Schema.String,
  /** Only in one-way mode (BingX refuses it in hedge mode). */
  reduceOnly: Schema.Boolean,
  stopLoss: Schema.optional(Schema.BigDecimal),
  takeProfit: Schema.optional(Schema.BigDecimal),
  /**
   * The price the order was sized and checked with (the exchange's price, else the signal's).
   * The live exchange ignores it; the paper exchange fills at it when it has no live price.
   */
  priceHint: Schema.optional(Schema.BigDecimal)
})
export type OrderRequest = typeof OrderRequest.Type

/** What the plan needs to know about an order (an `Order` record is one). */
export interface OrderIntent {
  readonly symbol: string
  readonly action: Action
  readonly positionSide: SignalPositionSide
  readonly reduceOnly: boolean
  readonly quantity: BigDecimal.BigDecimal | null
  readonly marginUsdt: BigDecimal.BigDecimal | null
  readonly leverage: number | null
  readonly marginMode: MarginMode | null
  readonly stopLoss: BigDecimal.BigDecimal | null
  readonly takeProfit: BigDecimal.BigDecimal | null
}

/** The trading rules of one contract, as the exchange states them. */
export interface ContractRules {
  readonly symbol: string
  /** Decimals allowed in a quantity (step = 10^-n). */
  readonly quantityPrecision: number
  readonly pricePrecision: number
  /** Minimum order quantity, in base coins. */
  readonly minQuantity: BigDecimal.BigDecimal
  /** Minimum order notional, in USDT. */
  readonly minNotional: BigDecimal.BigDecimal
  /** Undefined when the contract list does not say (BingX then refuses a leverage above it: 101414). */
  readonly maxLongLeverage: number | undefined
  readonly maxShortLeverage: number | undefined
  /** Listed, online and open to API trading. */
  readonly tradable: boolean
}

/** True when the order reduces a position (a close): no SL/TP, no minimum notional, no leverage check. */
export const closes = (order: Pick<OrderIntent, "action" | "positionSide" | "reduceOnly">): boolean =>
  order.reduceOnly ||
  (order.positionSide === "long" && order.action === "sell") ||
  (order.positionSide === "short" && order.action === "buy")

export interface ExchangeSides {
  readonly side: ExchangeSide
  readonly positionSide: ExchangePositionSide
  readonly reduceOnly: boolean
  readonly closing: boolean
}

/** BingX side / positionSide / reduceOnly for an order, given the account's position mode. */
export const exchangeSides = (
  order: Pick<OrderIntent, "action" | "positionSide" | "reduceOnly">,
  mode: PositionMode
): ExchangeSides => {
  const side: ExchangeSide = order.action === "buy" ? "BUY" : "SELL"
  if (mode === "one_way") {
    const closing = closes(order)
    return { side, positionSide: "BOTH", reduceOnly: closing, closing }
  }
  const leg = order.positionSide ??
    (order.reduceOnly ? (order.action === "buy" ? "short" : "long") : (order.action === "buy" ? "long" : "short"))
  const closing = (leg === "long" && order.action === "sell") || (leg === "short" && order.action === "buy")
  return { side, positionSide: leg === "long" ? "LONG" : "SHORT", reduceOnly: false, closing }
}

/** One reason the plan refuses an order; `field` names the order field at fault, when one is. */
export interface PlanProblem {
  readonly field: "quantity" | "margin_usdt" | "stop_loss" | "take_profit" | "leverage" | undefined
  readonly problem: string
}

/** The refusal's reason as one sentence: the field, then its problem. */
export const reasonOf = (p: PlanProblem): string => (p.field === undefined ? p.problem : `${p.field} ${p.problem}`)

/**
 * The quantity before the contract's rounding: the signal's, else sized from its margin at
 * `SIZING_SCALE`. A problem when there is nothing to size from or the margin buys nothing.
 */
export const quantityFor = (
  order: Pick<OrderIntent, "quantity" | "marginUsdt">,
  leverage: number,
  price: BigDecimal.BigDecimal
): { readonly quantity: BigDecimal.BigDecimal } | { readonly problem: PlanProblem } => {
  if (order.quantity !== null) return { quantity: order.quantity }
  if (order.marginUsdt === null) {
    return { problem: { field: "quantity", problem: "is missing and there is no margin_usdt to size the order from" } }
  }
  const sized = sizeFromMargin(order.marginUsdt, leverage, price, SIZING_SCALE)
  if (BigDecimal.isZero(sized)) {
    return {
      problem: {
        field: "margin_usdt",
        problem: `${plain(order.marginUsdt)} USDT at leverage ${leverage} buys less than ${
          plain(BigDecimal.make(1n, SIZING_SCALE))
        } at price ${plain(price)}`
      }
    }
  }
  return { quantity: sized }
}

/**
 * Stop-loss / take-profit of an entry against a price: on the protective side for the entry's
 * direction (a buy opens a long, a sell a short). Closing orders carry none: do not ask.
 */
export const protectionProblems = (
  entry: Action,
  levels: { readonly stopLoss: BigDecimal.BigDecimal | undefined; readonly takeProfit: BigDecimal.BigDecimal | undefined },
  price: BigDecimal.BigDecimal
): ReadonlyArray<PlanProblem> => {
  const long = entry === "buy"
  const direction = long ? "long" : "short"
  const problems: Array<PlanProblem> = []
  const { stopLoss, takeProfit } = levels
  if (stopLoss !== undefined && (long ? !BigDecimal.isLessThan(stopLoss, price) : !BigDecimal.isGreaterThan(stopLoss, price))) {
    problems.push({
      field: "stop_loss",
      problem: `${plain(stopLoss)} must be ${long ? "below" : "above"} the price ${plain(price)} for a ${direction} entry`
    })
  }
  if (takeProfit !== undefined && (long ? !BigDecimal.isGreaterThan(takeProfit, price) : !BigDecimal.isLessThan(takeProfit, price))) {
    problems.push({
      field: "take_profit",
      problem: `${plain(takeProfit)} must be ${long ? "above" : "below"} the price ${plain(price)} for a ${direction} entry`
    })
  }
  return problems
}

/** Bot settings the order falls back on when the signal did not say. */
export interface PlanSettings {
  readonly leverage: number
  readonly marginMode: MarginMode
}

export interface PlanInput {
  readonly order: OrderIntent
  readonly settings: PlanSettings
  readonly mode: PositionMode
  readonly rules: ContractRules
  /** The exchange's price, else the signal's; undefined when neither is known. */
  readonly price: BigDecimal.BigDecimal | undefined
  readonly clientOrderId: string
}

export interface OrderPlan {
  readonly request: OrderRequest
  readonly leverage: number
  readonly marginMode: MarginMode
  /** A close: margin type and leverage are not set, SL/TP are not attached. */
  readonly closing: boolean
  /** The order asked for SL/TP but closes a position: they are dropped. */
  readonly droppedProtection: boolean
}

export type PlanResult =
  | { readonly _tag: "Planned"; readonly plan: OrderPlan }
  | { readonly _tag: "Refused"; readonly problem: PlanProblem }

const refused = (problem: PlanProblem): PlanResult => ({ _tag: "Refused", problem })

/** The whole plan: the exchange request, or the first reason it cannot be sent. */
export const planOrder = (input: PlanInput): PlanResult => {
  const { order, rules, price } = input
  const leverage = order.leverage ?? input.settings.leverage
  const marginMode = order.marginMode ?? input.settings.marginMode
  const sides = exchangeSides(order, input.mode)
  if (!rules.tradable) return refused({ field: undefined, problem: `${order.symbol} is not open for API trading on the exchange` })
  const short = sides.positionSide === "SHORT" || (sides.positionSide === "BOTH" && order.action === "sell")
  const maxLeverage = short ? rules.maxShortLeverage : rules.maxLongLeverage
  if (!sides.closing && maxLeverage !== undefined && leverage > maxLeverage) {
    return refused({ field: "leverage", problem: `${leverage} is above the maximum ${maxLeverage} for ${order.symbol}` })
  }
  if (price === undefined) {
    return refused({ field: undefined, problem: `no price for ${order.symbol}: the exchange gave none and the signal has no price` })
  }
  const sized = quantityFor(order, leverage, price)
  if ("problem" in sized) return refused(sized.problem)
  const quantity = floorTo(sized.quantity, rules.quantityPrecision)
  if (!BigDecimal.isPositive(quantity) || BigDecimal.isLessThan(quantity, rules.minQuantity)) {
    return refused({
      field: "quantity",
      problem: `${plain(quantity)} (${plain(sized.quantity)} rounded down to ${rules.quantityPrecision} decimals) is below the minimum ${
        plain(rules.minQuantity)
      } for ${order.symbol}`
    })
  }
  const notional = BigDecimal.multiply(quantity, price)
  if (!sides.closing && BigDecimal.isLessThan(notional, rules.minNotional)) {
    return refused({
      field: undefined,
      problem: `order value ${plain(roundTo(notional, 8))} USDT is below the minimum ${plain(rules.minNotional)} USDT for ${order.symbol}`
    })
  }
  const stopLoss = sides.closing || order.stopLoss === null ? undefined : roundTo(order.stopLoss, rules.pricePrecision)
  const takeProfit = sides.closing || order.takeProfit === null ? undefined : roundTo(order.takeProfit, rules.pricePrecision)
  const [problem] = sides.closing ? [] : protectionProblems(order.action, { stopLoss, takeProfit }, price)
  if (problem !== undefined) return refused(problem)
  return {
    _tag: "Planned",
    plan: {
      request: {
        symbol: order.symbol,
        side: sides.side,
        positionSide: sides.positionSide,
        type: "MARKET",
        quantity,
        clientOrderId: input.clientOrderId,
        reduceOnly: sides.reduceOnly,
        stopLoss,
        takeProfit,
        priceHint: price
      },
      leverage,
      marginMode,
      closing: sides.closing,
      droppedProtection: sides.closing && (order.stopLoss !== null || order.takeProfit !== null)
    }
  }
}
