/**
 * The `signals` group: `GET /signals?limit=&symbol=&since=` (newest first) and `GET /signals/{id}`
 * (with its orders). The wire form of a signal is declared here, once: the domain record
 * (`SignalRecord`) encoded to snake_case with ids and decimals as strings, times as ISO-8601, null
 * for absent values.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { OrderStatus } from "../domain/order.ts"
import { parseTimestamp } from "../domain/alertValues.ts"
import { normaliseSymbol } from "../domain/symbols.ts"
import { Action, MarginMode, SignalPositionSide } from "../domain/vocabulary.ts"
import { NotFound } from "./errors.ts"
import { Operator } from "./middleware.ts"
import { Order } from "./Orders.ts"
import { Decimal, Id, Limit, MAX_LIST_LIMIT, QueryParam, Timestamp } from "./wire.ts"

const fields = {
  id: Id,
  symbol: Schema.String,
  action: Action,
  positionSide: SignalPositionSide,
  reduceOnly: Schema.Boolean,
  quantity: Schema.NullOr(Decimal),
  marginUsdt: Schema.NullOr(Decimal),
  price: Schema.NullOr(Decimal),
  leverage: Schema.NullOr(Schema.Int),
  marginMode: Schema.NullOr(MarginMode),
  stopLoss: Schema.NullOr(Decimal),
  takeProfit: Schema.NullOr(Decimal),
  timestamp: Schema.NullOr(Timestamp),
  receivedAt: Timestamp,
  orderId: Schema.NullOr(Id),
  orderStatus: Schema.NullOr(OrderStatus)
}

const wireNames = {
  positionSide: "position_side",
  reduceOnly: "reduce_only",
  marginUsdt: "margin_usdt",
  marginMode: "margin_mode",
  stopLoss: "stop_loss",
  takeProfit: "take_profit",
  receivedAt: "received_at",
  orderId: "order_id",
  orderStatus: "order_status"
} as const

/** A signal on the wire (the domain record without its idempotency key). */
export const Signal = Schema.Struct(fields).pipe(Schema.encodeKeys(wireNames))
export type Signal = typeof Signal.Type

export const SignalList = Schema.Struct({ signals: Schema.Array(Signal) })

/** `GET /signals/{id}`: the signal and the orders it created. */
export const SignalWithOrders = Schema.Struct({ ...fields, orders: Schema.Array(Order) }).pipe(Schema.encodeKeys(wireNames))

export const DEFAULT_SIGNAL_LIMIT = 50

export const SignalListQuery = {
  limit: Schema.optional(Limit(MAX_LIST_LIMIT)),
  symbol: Schema.optional(QueryParam(Schema.String, normaliseSymbol, (s) => s, "a symbol such as BTC-USDT or BTCUSDT")),
  since: Schema.optional(QueryParam(
    Schema.Number,
    parseTimestamp,
    (ms) => new Date(ms).toISOString(),
    "signals received at or after this time (ISO-8601 or epoch seconds)"
  ))
}

export class SignalsApi extends HttpApiGroup.make("signals")
  .add(
    HttpApiEndpoint.get("list", "/signals", { query: SignalListQuery, success: SignalList }),
    HttpApiEndpoint.get("get", "/signals/:id", {
      params: { id: Schema.String },
      success: SignalWithOrders,
      error: NotFound
    })
  )
  .middleware(Operator)
  .annotateMerge(OpenApi.annotations({ title: "Signals", description: "Stored TradingView signals" }))
{}
