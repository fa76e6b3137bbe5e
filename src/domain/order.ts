/**
 * The order as the services see it (pure): its lifecycle and its record.
 *
 * Lifecycle: every transition in the database is one UPDATE guarded by the expected previous
 * status (see `OrderRepo`), and allowed only along these edges.
 *
 *   awaiting_approval → pending → submitted → (partially_filled →) filled
 *   ends: rejected, cancelled, expired, failed, skipped, filled
 *
 * Record: `Order` and `Fill` are domain records (camelCase, `BigDecimal` amounts, `Date` times,
 * vocabulary literals). The database edge decodes rows into them (`OrderRepo`), the HTTP edge
 * encodes them into the snake_case wire shape; nothing in between sees text decimals or rows.
 * `planned` is the exchange request fixed when the order became `submitted`: every (re-)send
 * sends exactly that request.
 */
import { Schema } from "effect"
import { OrderRequest } from "./orderPlan.ts"
import { Action, MarginMode, PriceSource, SignalPositionSide } from "./vocabulary.ts"

export const ORDER_STATUSES = [
  "awaiting_approval",
  "pending",
  "submitted",
  "partially_filled",
  "filled",
  "rejected",
  "cancelled",
  "expired",
  "failed",
  "skipped"
] as const

export const OrderStatus = Schema.Literals(ORDER_STATUSES)
export type OrderStatus = typeof OrderStatus.Type

export const FINAL_STATUSES: ReadonlySet<OrderStatus> = new Set<OrderStatus>([
  "filled",
  "rejected",
  "cancelled",
  "expired",
  "failed",
  "skipped"
])

export const isFinal = (status: OrderStatus): boolean => FINAL_STATUSES.has(status)

export const TRANSITIONS: Readonly<Record<OrderStatus, ReadonlyArray<OrderStatus>>> = {
  awaiting_approval: ["pending", "rejected", "expired", "cancelled"],
  pending: ["submitted", "rejected", "expired", "failed", "cancelled"],
  // submitted → rejected: the exchange refused it; → failed: gave up after an unknown outcome
  // was resolved as "not placed"; → pending is not allowed (a resend reuses the clientOrderId).
  submitted: ["partially_filled", "filled", "rejected", "cancelled", "expired", "failed"],
  partially_filled: ["partially_filled", "filled", "cancelled"],
  filled: [],
  rejected: [],
  cancelled: [],
  expired: [],
  failed: [],
  skipped: []
}

export const canTransition = (from: OrderStatus, to: OrderStatus): boolean => TRANSITIONS[from].includes(to)

export const isOrderStatus: (s: unknown) => s is OrderStatus = Schema.is(OrderStatus)

/** One execution of an order at the exchange (the delta of its cumulative executed quantity). */
export const Fill = Schema.Struct({
  id: Schema.String,
  orderId: Schema.String,
  /** Unique per exchange state (`<exchange>:<exchange order id>:<cumulative executed>`). */
  fillKey: Schema.String,
  symbol: Schema.String,
  action: Action,
  /** How the exchange booked it: long/short in hedge mode, null for a one-way (net) position. */
  positionSide: SignalPositionSide,
  quantity: Schema.BigDecimal,
  price: Schema.BigDecimal,
  fee: Schema.BigDecimal,
  feeAsset: Schema.String,
  /** `exchange` (a market price) or `alert` (a paper fill at the signal's price); null: not recorded (older fills). */
  priceSource: Schema.NullOr(PriceSource),
  filledAt: Schema.Date
})
export type Fill = typeof Fill.Type

/** An order: what the signal asked for, what was planned, and what the exchange made of it. */
export const Order = Schema.Struct({
  id: Schema.String,
  signalId: Schema.String,
  symbol: Schema.String,
  action: Action,
  positionSide: SignalPositionSide,
  reduceOnly: Schema.Boolean,
  status: OrderStatus,
  /** The quantity asked for (or sized at ingest); once submitted, the planned (rounded) quantity. */
  quantity: Schema.NullOr(Schema.BigDecimal),
  marginUsdt: Schema.NullOr(Schema.BigDecimal),
  filledQuantity: Schema.BigDecimal,
  /** The alert's price. */
  price: Schema.NullOr(Schema.BigDecimal),
  averagePrice: Schema.NullOr(Schema.BigDecimal),
  leverage: Schema.NullOr(Schema.Int),
  marginMode: Schema.NullOr(MarginMode),
  stopLoss: Schema.NullOr(Schema.BigDecimal),
  takeProfit: Schema.NullOr(Schema.BigDecimal),
  clientOrderId: Schema.NullOr(Schema.String),
  exchangeOrderId: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(Schema.String),
  attempts: Schema.Int,
  /** The exchange request planned at `pending → submitted` (null before, and for orders older than it). */
  planned: Schema.NullOr(OrderRequest),
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  /** When it last became `pending`; SIGNAL_MAX_AGE_SECONDS counts from here (else from createdAt). */
  pendingSince: Schema.NullOr(Schema.Date),
  submittedAt: Schema.NullOr(Schema.Date),
  completedAt: Schema.NullOr(Schema.Date)
})
export type Order = typeof Order.Type

/** An order with its fills (oldest first): what the API and the bot show. */
export interface OrderWithFills {
  readonly order: Order
  readonly fills: ReadonlyArray<Fill>
}
