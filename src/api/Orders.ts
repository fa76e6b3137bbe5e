/**
 * The `orders` group: `GET /orders?status=&symbol=&limit=` (newest first, with fills),
 * `GET /orders/{id}`, `POST /orders/{id}/approve` and `/reject` (manual confirmation: 409 when
 * the order is already decided or its approval timed out, 404 when unknown). The wire form of an
 * order is declared here, once.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { ORDER_STATUSES, OrderStatus } from "../domain/order.ts"
import { Action, MarginMode, PriceSource, SignalPositionSide } from "../domain/vocabulary.ts"
import { Conflict, NotFound } from "./errors.ts"
import { Operator } from "./middleware.ts"
import { Limit, MAX_LIST_LIMIT, QueryParam } from "./wire.ts"

/** Decimal text as the order service writes it (plain, no trailing zeros). */
const DecimalText = Schema.String

export const Fill = Schema.Struct({
  id: Schema.String,
  quantity: DecimalText,
  price: DecimalText,
  fee: DecimalText,
  fee_asset: Schema.String,
  /** `exchange`, or `alert` for a paper fill at the signal's price; null for fills recorded before sources were kept. */
  price_source: Schema.NullOr(PriceSource),
  filled_at: Schema.String
})
export type Fill = typeof Fill.Type

export const Order = Schema.Struct({
  id: Schema.String,
  signal_id: Schema.String,
  symbol: Schema.String,
  action: Action,
  position_side: SignalPositionSide,
  reduce_only: Schema.Boolean,
  status: OrderStatus,
  quantity: Schema.NullOr(DecimalText),
  margin_usdt: Schema.NullOr(DecimalText),
  filled_quantity: DecimalText,
  price: Schema.NullOr(DecimalText),
  average_price: Schema.NullOr(DecimalText),
  leverage: Schema.NullOr(Schema.Int),
  margin_mode: Schema.NullOr(MarginMode),
  stop_loss: Schema.NullOr(DecimalText),
  take_profit: Schema.NullOr(DecimalText),
  client_order_id: Schema.NullOr(Schema.String),
  exchange_order_id: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  fills: Schema.Array(Fill)
})
export type Order = typeof Order.Type

export const OrderList = Schema.Struct({ orders: Schema.Array(Order) })

export const DEFAULT_ORDER_LIMIT = 50

const statusOf = (text: string) =>
  (ORDER_STATUSES as ReadonlyArray<string>).includes(text)
    ? { ok: true as const, value: text as OrderStatus }
    : { ok: false as const, problem: `must be one of ${ORDER_STATUSES.join(", ")}` }

const BINGX_SYMBOL = /^[A-Z0-9]{1,20}-[A-Z0-9]{1,10}$/
const symbolOf = (text: string) => {
  const s = text.trim().toUpperCase()
  return BINGX_SYMBOL.test(s)
    ? { ok: true as const, value: s }
    : { ok: false as const, problem: "must be a BingX symbol like BTC-USDT" }
}

export const OrderListQuery = {
  status: Schema.optional(QueryParam(OrderStatus, statusOf, (s) => s, `one of ${ORDER_STATUSES.join(", ")}`)),
  symbol: Schema.optional(QueryParam(Schema.String, symbolOf, (s) => s, "a BingX symbol like BTC-USDT")),
  limit: Schema.optional(Limit(MAX_LIST_LIMIT))
}

const byId = { id: Schema.String }

export class OrdersApi extends HttpApiGroup.make("orders")
  .add(
    HttpApiEndpoint.get("list", "/orders", { query: OrderListQuery, success: OrderList }),
    HttpApiEndpoint.get("get", "/orders/:id", { params: byId, success: Order, error: NotFound }),
    HttpApiEndpoint.post("approve", "/orders/:id/approve", { params: byId, success: Order, error: [NotFound, Conflict] }),
    HttpApiEndpoint.post("reject", "/orders/:id/reject", { params: byId, success: Order, error: [NotFound, Conflict] })
  )
  .middleware(Operator)
  .annotateMerge(OpenApi.annotations({ title: "Orders", description: "Orders, their fills, manual confirmation" }))
{}
