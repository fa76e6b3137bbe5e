/**
 * Shared helpers for the order-execution tests: rows inserted the way the webhook inserts them, and polling for asynchronous outcomes.
 */
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"

export interface SignalRow {
  readonly symbol?: string
  readonly action?: "buy" | "sell"
  readonly positionSide?: "long" | "short" | null
  readonly reduceOnly?: boolean
  readonly quantity?: string | null
  readonly marginUsdt?: string | null
  readonly price?: string | null
  readonly leverage?: number | null
  readonly marginMode?: "isolated" | "cross" | null
  readonly stopLoss?: string | null
  readonly takeProfit?: string | null
  readonly status?: string
  /** Seconds in the past for created_at (default 0). */
  readonly ageSeconds?: number
}

let idempotency = 0

/** Inserts a signal and its order as the webhook does (client_order_id NULL); returns the order id. */
export const insertOrder = (row: SignalRow = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const symbol = row.symbol ?? "BTC-USDT"
    const action = row.action ?? "buy"
    const quantity = row.quantity === undefined ? "0.01" : row.quantity
    const age = row.ageSeconds ?? 0
    const [signal] = yield* sql<{ id: string }>`
      INSERT INTO signals (idempotency_key, symbol, action, position_side, reduce_only, quantity, margin_usdt, price,
        leverage, margin_mode, stop_loss, take_profit, received_at, raw_payload)
      VALUES (${`test-${Date.now()}-${++idempotency}`}, ${symbol}, ${action}, ${row.positionSide ?? null},
        ${row.reduceOnly ?? false}, ${quantity}::numeric, ${row.marginUsdt ?? null}::numeric, ${row.price ?? null}::numeric,
        ${row.leverage ?? null}, ${row.marginMode ?? null}, ${row.stopLoss ?? null}::numeric, ${row.takeProfit ?? null}::numeric,
        now() - make_interval(secs => ${age}), '{}'::jsonb)
      RETURNING id::text AS id`
    const [order] = yield* sql<{ id: string }>`
      INSERT INTO orders (signal_id, symbol, action, position_side, reduce_only, status, quantity, margin_usdt, price,
        leverage, margin_mode, stop_loss, take_profit, created_at, updated_at)
      VALUES (${signal!.id}::bigint, ${symbol}, ${action}, ${row.positionSide ?? null}, ${row.reduceOnly ?? false},
        ${row.status ?? "pending"}, ${quantity}::numeric, ${row.marginUsdt ?? null}::numeric, ${row.price ?? null}::numeric,
        ${row.leverage ?? null}, ${row.marginMode ?? null}, ${row.stopLoss ?? null}::numeric, ${row.takeProfit ?? null}::numeric,
        now() - make_interval(secs => ${age}), now() - make_interval(secs => ${age}))
      RETURNING id::text AS id`
    return order!.id
  })

export interface OrderState {
  readonly id: string
  readonly status: string
  readonly reason: string | null
  readonly client_order_id: string | null
  readonly exchange_order_id: string | null
  readonly quantity: string | null
  readonly filled_quantity: string
  readonly average_price: string | null
  readonly leverage: number | null
  readonly margin_mode: string | null
}

export const orderState = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<OrderState>`
      SELECT id::text AS id, status, reason, client_order_id, exchange_order_id, quantity::text AS quantity,
        filled_quantity::text AS filled_quantity, average_price::text AS average_price, leverage, margin_mode
      FROM orders WHERE id = ${id}::bigint`
    return row!
  })

export const fillsOf = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ fill_key: string; quantity: string; price: string; fee: string }>`
      SELECT fill_key, quantity::text AS quantity, price::text AS price, fee::text AS fee
      FROM fills WHERE order_id = ${id}::bigint ORDER BY id`
  })

/** Polls `check` (every 20 ms, real time) until it returns true; fails after `timeout`. */
export const eventually = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  timeout: Duration.Input = "10 seconds",
  what = "condition"
) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep("20 millis")
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.die(new Error(`timed out waiting for ${what}`))
    })
  )

/** Waits until every order is in one of `statuses`. */
export const waitForStatus = (ids: ReadonlyArray<string>, statuses: ReadonlyArray<string>, timeout: Duration.Input = "10 seconds") =>
  eventually(
    Effect.map(Effect.forEach(ids, orderState), (rows) => rows.every((r) => statuses.includes(r.status))),
    timeout,
    `orders ${ids.join(",")} to be ${statuses.join("|")}`
  )
