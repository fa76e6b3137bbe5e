/**
 * The Order as the HTTP API and the bot see it (shared/api-contract: snake_case, ids and decimals as
 * strings, ISO-8601 UTC timestamps, null for absent values).
 */
import { parseUnsafe, plain } from "../domain/decimal.ts"
import type { Action, MarginMode, PositionSide, PriceSource } from "../domain/vocabulary.ts"
import type { FillRow, OrderRow } from "./OrderRepo.ts"

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
  readonly position_side: PositionSide | null
  readonly reduce_only: boolean
  readonly status: string
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

/** Exact decimal text without trailing zeros ("0.0100" → "0.01"). */
const decimal = (v: string | null): string | null => (v === null ? null : plain(parseUnsafe(v)))

const iso = (d: Date | string): string => new Date(d).toISOString()

export const fillView = (f: FillRow): FillView => ({
  id: f.id,
  quantity: decimal(f.quantity)!,
  price: decimal(f.price)!,
  fee: decimal(f.fee)!,
  fee_asset: f.fee_asset,
  price_source: f.price_source,
  filled_at: iso(f.filled_at)
})

export const orderView = (o: OrderRow, fills: ReadonlyArray<FillRow>): OrderView => ({
  id: o.id,
  signal_id: o.signal_id,
  symbol: o.symbol,
  action: o.action,
  position_side: o.position_side,
  reduce_only: o.reduce_only,
  status: o.status,
  quantity: decimal(o.quantity),
  margin_usdt: decimal(o.margin_usdt),
  filled_quantity: decimal(o.filled_quantity)!,
  price: decimal(o.price),
  average_price: decimal(o.average_price),
  leverage: o.leverage,
  margin_mode: o.margin_mode,
  stop_loss: decimal(o.stop_loss),
  take_profit: decimal(o.take_profit),
  client_order_id: o.client_order_id,
  exchange_order_id: o.exchange_order_id,
  reason: o.reason,
  created_at: iso(o.created_at),
  updated_at: iso(o.updated_at),
  fills: fills.filter((f) => f.order_id === o.id).map(fillView)
})
