/**
 * The vocabulary every layer speaks: each literal union of the trading domain is declared here,
 * once, as a Schema (so the HTTP, database and exchange edges decode with it) and as the type
 * derived from that Schema. No other file spells these unions out; they import them from here.
 *
 * Invariants: this module is pure (no I/O) and imports nothing from `http/`, `db/` or a service.
 */
import { Schema } from "effect"

/** The order side of a signal: what the order does at the exchange. */
export const Action = Schema.Literals(["buy", "sell"])
export type Action = typeof Action.Type

/** A position's side (hedge legs, the book, the exchange's positions). */
export const PositionSide = Schema.Literals(["long", "short"])
export type PositionSide = typeof PositionSide.Type

/** The side a signal is about: a position side, or null when it does not name one (one-way). */
export const SignalPositionSide = Schema.NullOr(PositionSide)
export type SignalPositionSide = typeof SignalPositionSide.Type

/** What TradingView's `{{strategy.market_position}}` says after (or before) an order. */
export const MarketPosition = Schema.Literals(["long", "short", "flat"])
export type MarketPosition = typeof MarketPosition.Type

/** Margin mode as users and the API spell it. */
export const MarginMode = Schema.Literals(["isolated", "cross"])
export type MarginMode = typeof MarginMode.Type

/** Where a ledger slot lives: one net slot in one-way mode, a leg per side in hedge mode. */
export const BookSlot = Schema.Literals(["net", "long", "short"])
export type BookSlot = typeof BookSlot.Type

/** The account's position mode at the exchange. */
export const PositionMode = Schema.Literals(["one_way", "hedge"])
export type PositionMode = typeof PositionMode.Type

/** BingX's order side. */
export const ExchangeSide = Schema.Literals(["BUY", "SELL"])
export type ExchangeSide = typeof ExchangeSide.Type

/** BingX's position side: BOTH in one-way mode, LONG/SHORT in hedge mode. */
export const ExchangePositionSide = Schema.Literals(["BOTH", "LONG", "SHORT"])
export type ExchangePositionSide = typeof ExchangePositionSide.Type

/** BingX's margin type. */
export const ExchangeMarginType = Schema.Literals(["ISOLATED", "CROSSED"])
export type ExchangeMarginType = typeof ExchangeMarginType.Type

/** Our margin mode as BingX spells it. */
export const exchangeMarginType = (mode: MarginMode): ExchangeMarginType => (mode === "cross" ? "CROSSED" : "ISOLATED")

/** An exchange order's state, in our words. */
export const ExchangeOrderStatus = Schema.Literals(["new", "partially_filled", "filled", "cancelled", "failed", "expired"])
export type ExchangeOrderStatus = typeof ExchangeOrderStatus.Type

/** Which exchange implementation runs. */
export const ExchangeName = Schema.Literals(["bingx", "paper"])
export type ExchangeName = typeof ExchangeName.Type

/** `TRADING_MODE`. */
export const TradingMode = Schema.Literals(["paper", "live"])
export type TradingMode = typeof TradingMode.Type

/** One problem with one input field, as every 422 answer lists them: `{"field", "problem"}`. */
export const FieldProblem = Schema.Struct({ field: Schema.String, problem: Schema.String })
export type FieldProblem = typeof FieldProblem.Type

/** Where a fill's price came from: the exchange's market, or the alert (paper mode without a market price). */
export const PriceSource = Schema.Literals(["exchange", "alert"])
export type PriceSource = typeof PriceSource.Type

/** `PAPER_PRICE_FALLBACK`: what a paper order does when the exchange's public price cannot be had. */
export const PaperPriceFallback = Schema.Literals(["alert", "refuse"])
export type PaperPriceFallback = typeof PaperPriceFallback.Type
