/**
 * The Order as the HTTP API and the bot see it: snake_case, ids and decimals as strings (plain,
 * no trailing zeros), ISO-8601 UTC timestamps, null for absent values. Produced from the domain
 * record at the HTTP edge only.
 */
import type { BigDecimal } from "effect"
import { plain, plainOrNull } from "../domain/decimal.ts"
import type { Fill, Order, OrderStatus, OrderWithFills } from "../domain/order.ts"
import type { Action, MarginMode, PriceSource, SignalPositionSide } from "../domain/vocabulary.ts"

export interface FillView {
  readonly id: string
  readonly quantity: string
  readonly price: string
  readonly fee: string
  readonly fee_asset: string
  /** `exchange` (a market price) or `alert` (a paper fill at the signal's price); null: not recorded (older fills). */
  readonly price_source: PriceSource | null
  readonly filled_at: string
}

export interface OrderView {
  readonly id: string
  readonly signal_id: string
  readonly symbol: string
  readonly action: Action
  readonly position_side: SignalPositionSide
  readonly reduce_only: boolean
  readonly status: OrderStatus
  readonly quantity: string | null
  readonly margin_usdt: string | null
  readonly filled_quantity: string
  readonly price: string | null
  readonly average_price: string | null
  readonly leverage: number | null
  readonly margin_mode: MarginMode | null
  readonly stop_loss: string | null
  readonly take_profit: string | null
  readonly client_order_id: string | null
  readonly exchange_order_id: string | null
  readonly reason: string | null
  readonly created_at: string
  readonly updated_at: string
  readonly fills: ReadonlyArray<FillView>
}

const decimal = (v: BigDecimal.BigDecimal | null): string | null => plainOrNull(v)

export const fillView = (f: Fill): FillView => ({
  id: f.id,
  quantity: plain(f.quantity),
  price: plain(f.price),
  fee: plain(f.fee),
  fee_asset: f.feeAsset,
  price_source: f.priceSource,
  filled_at: f.filledAt.toISOString()
})

/** The wire shape of an order; `fills` may hold other orders' fills (only this order's are kept). */
export const orderView = (o: Order, fills: ReadonlyArray<Fill>): OrderView => ({
  id: o.id,
  signal_id: o.signalId,
  symbol: o.symbol,
  action: o.action,
  position_side: o.positionSide,
  reduce_only: o.reduceOnly,
  status: o.status,
  quantity: decimal(o.quantity),
  margin_usdt: decimal(o.marginUsdt),
  filled_quantity: plain(o.filledQuantity),
  price: decimal(o.price),
  average_price: decimal(o.averagePrice),
  leverage: o.leverage,
  margin_mode: o.marginMode,
  stop_loss: decimal(o.stopLoss),
  take_profit: decimal(o.takeProfit),
  client_order_id: o.clientOrderId,
  exchange_order_id: o.exchangeOrderId,
  reason: o.reason,
  created_at: o.createdAt.toISOString(),
  updated_at: o.updatedAt.toISOString(),
  fills: fills.filter((f) => f.orderId === o.id).map(fillView)
})

/** The wire shape of an order with its fills (what the order services return). */
export const orderJson = (o: OrderWithFills): OrderView => orderView(o.order, o.fills)
