/**
 * The HTTP shapes of signals and orders (api-contract.md): snake_case, ids and decimals as
 * strings, ISO-8601 UTC timestamps, null for absent values.
 */
import type { OrderView, SignalView, SignalWithOrders } from "./SignalRepo.ts"

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

export const signalJson = (s: SignalView) => ({
  id: s.id,
  symbol: s.symbol,
  action: s.action,
  position_side: s.positionSide,
  reduce_only: s.reduceOnly,
  quantity: s.quantity,
  margin_usdt: s.marginUsdt,
  price: s.price,
  leverage: s.leverage,
  margin_mode: s.marginMode,
  stop_loss: s.stopLoss,
  take_profit: s.takeProfit,
  timestamp: iso(s.timestamp),
  received_at: s.receivedAt.toISOString(),
  order_id: s.orderId,
  order_status: s.orderStatus
})

export const orderJson = (o: OrderView) => ({
  id: o.id,
  signal_id: o.signalId,
  symbol: o.symbol,
  action: o.action,
  position_side: o.positionSide,
  reduce_only: o.reduceOnly,
  status: o.status,
  quantity: o.quantity,
  margin_usdt: o.marginUsdt,
  filled_quantity: o.filledQuantity,
  price: o.price,
  average_price: o.averagePrice,
  leverage: o.leverage,
  margin_mode: o.marginMode,
  stop_loss: o.stopLoss,
  take_profit: o.takeProfit,
  client_order_id: o.clientOrderId,
  exchange_order_id: o.exchangeOrderId,
  reason: o.reason,
  created_at: o.createdAt.toISOString(),
  updated_at: o.updatedAt.toISOString(),
  fills: o.fills.map((f) => ({
    id: f.id,
    quantity: f.quantity,
    price: f.price,
    fee: f.fee,
    fee_asset: f.feeAsset,
    filled_at: f.filledAt.toISOString()
  }))
})

export const signalWithOrdersJson = (s: SignalWithOrders) => ({ ...signalJson(s), orders: s.orders.map(orderJson) })
