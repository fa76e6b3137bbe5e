/**
 * Order lifecycle (pure). Every transition in the database is one UPDATE guarded by the expected
 * previous status (see `OrderRepo`), and allowed only along these edges.
 *
 *   awaiting_approval → pending → submitted → (partially_filled →) filled
 *   ends: rejected, cancelled, expired, failed, skipped, filled
 */
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

export type OrderStatus = (typeof ORDER_STATUSES)[number]

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

export const isOrderStatus = (s: string): s is OrderStatus => (ORDER_STATUSES as ReadonlyArray<string>).includes(s)
