/**
 * Order lifecycle (pure). Every transition in the database is one UPDATE guarded by the expected
 * previous status (see `OrderRepo`), and allowed only along these edges.
 *
 *   awaiting_approval → pending → submitted → (partially_filled →) filled
 *   ends: rejected, cancelled, expired, failed, skipped, filled
 *
 * `OrderStatus` is a Schema as well as a type, so the HTTP and database edges decode with it.
 */
import { Schema } from "effect"

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
