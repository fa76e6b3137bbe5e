/**
 * The HTTP shape of a signal (api-contract.md): snake_case, ids and decimals as strings, ISO-8601
 * UTC timestamps, null for absent values. Orders have theirs in src/orders/OrderView.ts.
 */
import type { SignalView } from "./SignalRepo.ts"

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
