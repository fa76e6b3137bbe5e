/**
 * A stored signal as the program handles it: camelCase, decimals as BigDecimal, times as Date,
 * ids as strings (`isId`). The repository decodes rows into it, the HTTP edge encodes it to
 * snake_case JSON (src/api/Signals.ts); nothing else converts it.
 */
import { Schema } from "effect"
import { OrderStatus } from "./order.ts"
import { Action, MarginMode, SignalPositionSide } from "./vocabulary.ts"

const OptionalDecimal = Schema.NullOr(Schema.BigDecimal)

export const SignalRecord = Schema.Struct({
  id: Schema.String,
  idempotencyKey: Schema.String,
  symbol: Schema.String,
  action: Action,
  positionSide: SignalPositionSide,
  reduceOnly: Schema.Boolean,
  quantity: OptionalDecimal,
  marginUsdt: OptionalDecimal,
  price: OptionalDecimal,
  leverage: Schema.NullOr(Schema.Int),
  marginMode: Schema.NullOr(MarginMode),
  stopLoss: OptionalDecimal,
  takeProfit: OptionalDecimal,
  /** The alert's own time, if it had one. */
  timestamp: Schema.NullOr(Schema.Date),
  receivedAt: Schema.Date,
  /** The signal's first order. */
  orderId: Schema.NullOr(Schema.String),
  orderStatus: Schema.NullOr(OrderStatus)
})
export type SignalRecord = typeof SignalRecord.Type
