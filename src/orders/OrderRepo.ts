/**
 * Orders and fills in Postgres.
 *
 * Every status change is ONE `UPDATE … WHERE id = $id AND status = $expected` (`transition`): when
 * someone else moved the order first, nothing changes and the caller sees `undefined`. Each
 * transition that happens is counted in `tvtelegrambingx_order_transitions_total{symbol,status}`.
 * A fill is written in the same transaction as the order's new filled quantity (and guarded by the
 * previous filled quantity), with a unique `fill_key`, so replaying the same exchange state never
 * records a fill twice.
 */
import { Context, Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { canTransition, isFinal, type OrderStatus } from "../domain/order.ts"
import type { Action, MarginMode, PositionSide, PriceSource } from "../domain/vocabulary.ts"
import { orderTransitions, taggedBy } from "../telemetry/metrics.ts"

export interface OrderRow {
  readonly id: string
  readonly signal_id: string
  readonly symbol: string
  readonly action: Action
  readonly position_side: PositionSide | null
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
  readonly attempts: number
  readonly created_at: Date
  readonly updated_at: Date
  readonly pending_since: Date | null
  readonly submitted_at: Date | null
  readonly completed_at: Date | null
}

export interface FillRow {
  readonly id: string
  readonly order_id: string
  readonly fill_key: string
  readonly symbol: string
  readonly action: Action
  readonly position_side: PositionSide | null
  readonly quantity: string
  readonly price: string
  readonly fee: string
  readonly fee_asset: string
  /** `exchange` or `alert` (a paper fill at the signal's price); null for fills recorded before sources were kept. */
  readonly price_source: PriceSource | null
  readonly filled_at: Date
}

/** Columns a transition may set (absent = unchanged). Decimals as text. */
export interface OrderPatch {
  readonly reason?: string | undefined
  readonly clientOrderId?: string | undefined
  readonly exchangeOrderId?: string | undefined
  readonly quantity?: string | undefined
  readonly leverage?: number | undefined
  readonly marginMode?: MarginMode | undefined
  readonly incrementAttempts?: boolean | undefined
}

export interface NewFill {
  /** How the exchange booked it: long/short in hedge mode, null for a one-way (net) position. */
  readonly positionSide: PositionSide | null
  readonly fillKey: string
  readonly quantity: string
  readonly price: string
  readonly fee: string
  readonly feeAsset: string
  /** Where `price` came from; undefined only for a paper order stored before price sources were kept. */
  readonly priceSource: PriceSource | undefined
  readonly filledAt: Date
}

export interface ListFilter {
  readonly status?: OrderStatus | undefined
  readonly symbol?: string | undefined
  readonly limit: number
}

const COLUMNS = `id::text AS id, signal_id::text AS signal_id, symbol, action, position_side, reduce_only, status,
  quantity::text AS quantity, margin_usdt::text AS margin_usdt, filled_quantity::text AS filled_quantity,
  price::text AS price, average_price::text AS average_price, leverage, margin_mode, stop_loss::text AS stop_loss,
  take_profit::text AS take_profit, client_order_id, exchange_order_id, reason, attempts, created_at, updated_at,
  pending_since, submitted_at, completed_at`

const FILL_COLUMNS = `id::text AS id, order_id::text AS order_id, fill_key, symbol, action, position_side,
  quantity::text AS quantity, price::text AS price, fee::text AS fee, fee_asset, price_source, filled_at`

/** A fill row read back through `row_to_json` (timestamps arrive as text). */
const fillFromJson = (f: FillRow): FillRow => ({ ...f, filled_at: new Date(f.filled_at) })

const normalise = (r: OrderRow): OrderRow => ({
  ...r,
  leverage: r.leverage === null ? null : Number(r.leverage),
  attempts: Number(r.attempts)
})

const transitionsBy = taggedBy(orderTransitions)

export const countTransition = (symbol: string, status: OrderStatus) => Metric.update(transitionsBy({ symbol, status }), 1)

export class OrderRepo extends Context.Service<OrderRepo, {
  readonly get: (id: string) => Effect.Effect<OrderRow | undefined, SqlError>
  readonly byClientOrderId: (clientOrderId: string) => Effect.Effect<OrderRow | undefined, SqlError>
  readonly byExchangeOrderId: (exchangeOrderId: string) => Effect.Effect<OrderRow | undefined, SqlError>
  readonly list: (filter: ListFilter) => Effect.Effect<ReadonlyArray<OrderRow>, SqlError>
  /** The orders a signal created, oldest first. */
  readonly bySignal: (signalId: string) => Effect.Effect<ReadonlyArray<OrderRow>, SqlError>
  readonly fillsOf: (orderIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<FillRow>, SqlError>
  /** One guarded UPDATE; `undefined` when the order was not in `from` any more. */
  readonly transition: (
    id: string,
    from: OrderStatus,
    to: OrderStatus,
    patch?: OrderPatch,
    /** Also require COALESCE(pending_since, created_at) >= this (age guard for pending → submitted). */
    notOlderThan?: Date
  ) => Effect.Effect<OrderRow | undefined, SqlError>
  /** Stores the exchange's order id without changing the status. */
  readonly setExchangeOrderId: (id: string, status: OrderStatus, exchangeOrderId: string) => Effect.Effect<void, SqlError>
  /**
   * Records a fill and the order's new cumulative state in one transaction, guarded by the status
   * and the previous filled quantity. Returns the updated order and the new fill (undefined when
   * the fill_key was already recorded).
   */
  readonly recordFill: (args: {
    readonly order: OrderRow
    readonly to: OrderStatus
    readonly filledQuantity: string
    readonly averagePrice: string | null
    readonly exchangeOrderId: string | undefined
    readonly reason?: string | undefined
    readonly fill: NewFill | undefined
  }) => Effect.Effect<{ readonly order: OrderRow; readonly fill: FillRow | undefined } | undefined, SqlError>
  /** Orders in `statuses`, oldest first. */
  readonly inStatus: (statuses: ReadonlyArray<OrderStatus>, limit: number) => Effect.Effect<ReadonlyArray<OrderRow>, SqlError>
  /** Ids of orders in `status` whose age reference (pending_since/created_at) is older than `cutoff`. */
  readonly olderThan: (status: OrderStatus, cutoff: Date, column: "pending" | "created") => Effect.Effect<ReadonlyArray<OrderRow>, SqlError>
  /** An order that happened at the exchange without us placing it (attached SL/TP), already filled. */
  readonly insertFilledChild: (args: {
    readonly parent: OrderRow
    readonly action: Action
    readonly exchangeOrderId: string
    readonly quantity: string
    readonly price: string
    readonly reason: string
    readonly fill: NewFill
  }) => Effect.Effect<{ readonly order: OrderRow; readonly fill: FillRow } | undefined, SqlError>
  /** The most recent filled order on `symbol` that carried a stop-loss or take-profit. */
  readonly latestProtectedEntry: (symbol: string) => Effect.Effect<OrderRow | undefined, SqlError>
}>()("tvtelegrambingx/OrderRepo") {
  static readonly make = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.unsafe(COLUMNS)
    const fillColumns = sql.unsafe(FILL_COLUMNS)

    const one = (rows: ReadonlyArray<OrderRow>) => (rows[0] === undefined ? undefined : normalise(rows[0]))

    const get = (id: string) =>
      Effect.map(sql<OrderRow>`SELECT ${columns} FROM orders WHERE id = ${id}::bigint`, one).pipe(
        Effect.withSpan("OrderRepo.get")
      )

    const byClientOrderId = (clientOrderId: string) =>
      Effect.map(sql<OrderRow>`SELECT ${columns} FROM orders WHERE client_order_id = ${clientOrderId}`, one)

    const byExchangeOrderId = (exchangeOrderId: string) =>
      Effect.map(sql<OrderRow>`SELECT ${columns} FROM orders WHERE exchange_order_id = ${exchangeOrderId}`, one)

    const list = (filter: ListFilter) =>
      Effect.map(
        sql<OrderRow>`SELECT ${columns} FROM orders
          WHERE (${filter.status ?? null}::text IS NULL OR status = ${filter.status ?? null})
            AND (${filter.symbol ?? null}::text IS NULL OR symbol = ${filter.symbol ?? null})
          ORDER BY created_at DESC, id DESC
          LIMIT ${filter.limit}`,
        (rows) => rows.map(normalise)
      ).pipe(Effect.withSpan("OrderRepo.list"))

    const bySignal = (signalId: string) =>
      Effect.map(
        sql<OrderRow>`SELECT ${columns} FROM orders WHERE signal_id = ${signalId}::bigint ORDER BY id`,
        (rows) => rows.map(normalise)
      ).pipe(Effect.withSpan("OrderRepo.bySignal"))

    const fillsOf = (orderIds: ReadonlyArray<string>) =>
      orderIds.length === 0
        ? Effect.succeed([])
        : sql<FillRow>`SELECT ${fillColumns} FROM fills WHERE order_id = ANY(${`{${orderIds.join(",")}}`}::bigint[]) ORDER BY id`

    const transition = (
      id: string,
      from: OrderStatus,
      to: OrderStatus,
      patch: OrderPatch = {},
      notOlderThan?: Date
    ) =>
      Effect.gen(function*() {
        if (!canTransition(from, to)) return yield* Effect.die(new Error(`order transition ${from} → ${to} is not allowed`))
        const rows = yield* sql<OrderRow>`
          UPDATE orders SET
            status = ${to},
            reason = COALESCE(${patch.reason ?? null}::text, reason),
            client_order_id = COALESCE(${patch.clientOrderId ?? null}::text, client_order_id),
            exchange_order_id = COALESCE(${patch.exchangeOrderId ?? null}::text, exchange_order_id),
            quantity = COALESCE(${patch.quantity ?? null}::numeric, quantity),
            leverage = COALESCE(${patch.leverage ?? null}::integer, leverage),
            margin_mode = COALESCE(${patch.marginMode ?? null}::text, margin_mode),
            attempts = attempts + ${patch.incrementAttempts === true ? 1 : 0},
            pending_since = CASE WHEN ${to === "pending"} THEN now() ELSE pending_since END,
            submitted_at = CASE WHEN ${to === "submitted"} THEN now() ELSE submitted_at END,
            completed_at = CASE WHEN ${isFinal(to)} THEN now() ELSE completed_at END,
            updated_at = now()
          WHERE id = ${id}::bigint AND status = ${from}
            AND (${notOlderThan ?? null}::timestamptz IS NULL OR COALESCE(pending_since, created_at) >= ${notOlderThan ?? null}::timestamptz)
          RETURNING ${columns}`
        const row = one(rows)
        if (row !== undefined) yield* countTransition(row.symbol, to)
        return row
      }).pipe(Effect.withSpan("OrderRepo.transition", { attributes: { "order.id": id, from, to } }))

    const setExchangeOrderId = (id: string, status: OrderStatus, exchangeOrderId: string) =>
      Effect.asVoid(sql`UPDATE orders SET exchange_order_id = ${exchangeOrderId}, updated_at = now()
        WHERE id = ${id}::bigint AND status = ${status} AND exchange_order_id IS NULL`)

    const insertFill = (order: OrderRow, fill: NewFill) =>
      Effect.map(
        sql<FillRow>`INSERT INTO fills (order_id, fill_key, symbol, action, position_side, quantity, price, fee, fee_asset, price_source, filled_at)
          VALUES (${order.id}::bigint, ${fill.fillKey}, ${order.symbol}, ${order.action}, ${fill.positionSide},
            ${fill.quantity}::numeric, ${fill.price}::numeric, ${fill.fee}::numeric, ${fill.feeAsset}, ${fill.priceSource ?? null}, ${fill.filledAt})
          ON CONFLICT (fill_key) DO NOTHING
          RETURNING ${fillColumns}`,
        (rows) => rows[0]
      )

    // One statement (atomic on its own, one round trip): the guarded UPDATE, and the fill inserted
    // from the updated row — only when the update happened, skipped on a known fill_key.
    const recordFill: OrderRepo["Service"]["recordFill"] = (args) =>
      Effect.gen(function*() {
        const { order, to, fill } = args
        if (order.status !== to && !canTransition(order.status, to)) {
          return yield* Effect.die(new Error(`order transition ${order.status} → ${to} is not allowed`))
        }
        const update = sql`
          UPDATE orders SET
            status = ${to},
            filled_quantity = ${args.filledQuantity}::numeric,
            average_price = COALESCE(${args.averagePrice}::numeric, average_price),
            exchange_order_id = COALESCE(exchange_order_id, ${args.exchangeOrderId ?? null}::text),
            reason = COALESCE(${args.reason ?? null}::text, reason),
            completed_at = CASE WHEN ${isFinal(to)} THEN now() ELSE completed_at END,
            updated_at = now()
          WHERE id = ${order.id}::bigint AND status = ${order.status} AND filled_quantity = ${order.filled_quantity}::numeric`
        if (fill === undefined) {
          const updated = one(yield* sql<OrderRow>`${update} RETURNING ${columns}`)
          return updated === undefined ? undefined : { order: updated, fill: undefined }
        }
        const rows = yield* sql<OrderRow & { readonly fill: FillRow | null }>`
          WITH u AS (${update} RETURNING *),
          f AS (
            INSERT INTO fills (order_id, fill_key, symbol, action, position_side, quantity, price, fee, fee_asset, price_source, filled_at)
            SELECT u.id, ${fill.fillKey}, u.symbol, u.action, ${fill.positionSide}, ${fill.quantity}::numeric,
              ${fill.price}::numeric, ${fill.fee}::numeric, ${fill.feeAsset}, ${fill.priceSource ?? null}::text, ${fill.filledAt}
            FROM u
            ON CONFLICT (fill_key) DO NOTHING
            RETURNING ${fillColumns}
          )
          SELECT ${columns}, (SELECT row_to_json(f) FROM f) AS fill FROM u`
        const row = rows[0]
        if (row === undefined) return undefined
        const { fill: inserted, ...updated } = row
        return { order: normalise(updated), fill: inserted === null ? undefined : fillFromJson(inserted) }
      }).pipe(
        Effect.tap((r) => (r !== undefined && r.order.status !== args.order.status ? countTransition(r.order.symbol, args.to) : Effect.void)),
        Effect.withSpan("OrderRepo.recordFill", { attributes: { "order.id": args.order.id, to: args.to } })
      )

    const inStatus = (statuses: ReadonlyArray<OrderStatus>, limit: number) =>
      Effect.map(
        sql<OrderRow>`SELECT ${columns} FROM orders WHERE status = ANY(${`{${statuses.join(",")}}`}::text[])
          ORDER BY id LIMIT ${limit}`,
        (rows) => rows.map(normalise)
      )

    const olderThan = (status: OrderStatus, cutoff: Date, column: "pending" | "created") =>
      Effect.map(
        column === "pending"
          ? sql<OrderRow>`SELECT ${columns} FROM orders WHERE status = ${status}
              AND COALESCE(pending_since, created_at) < ${cutoff} ORDER BY id`
          : sql<OrderRow>`SELECT ${columns} FROM orders WHERE status = ${status} AND created_at < ${cutoff} ORDER BY id`,
        (rows) => rows.map(normalise)
      )

    const insertFilledChild: OrderRepo["Service"]["insertFilledChild"] = (args) =>
      sql.withTransaction(Effect.gen(function*() {
        const p = args.parent
        const rows = yield* sql<OrderRow>`
          INSERT INTO orders (signal_id, user_id, bot_session_id, symbol, action, position_side, reduce_only, status,
            quantity, filled_quantity, average_price, leverage, margin_mode, exchange_order_id, reason, submitted_at, completed_at)
          SELECT signal_id, user_id, bot_session_id, symbol, ${args.action}, position_side, true, 'filled',
            ${args.quantity}::numeric, ${args.quantity}::numeric, ${args.price}::numeric, leverage, margin_mode,
            ${args.exchangeOrderId}, ${args.reason}, now(), now()
          FROM orders WHERE id = ${p.id}::bigint
          ON CONFLICT (exchange_order_id) DO NOTHING
          RETURNING ${columns}`
        const order = one(rows)
        if (order === undefined) return undefined
        const fill = yield* insertFill(order, args.fill)
        if (fill === undefined) return undefined
        return { order, fill }
      })).pipe(
        Effect.tap((r) => (r !== undefined ? countTransition(r.order.symbol, "filled") : Effect.void)),
        Effect.withSpan("OrderRepo.insertFilledChild")
      )

    const latestProtectedEntry = (symbol: string) =>
      Effect.map(
        sql<OrderRow>`SELECT ${columns} FROM orders WHERE symbol = ${symbol} AND status IN ('filled', 'partially_filled')
          AND (stop_loss IS NOT NULL OR take_profit IS NOT NULL) AND reduce_only = false
          ORDER BY id DESC LIMIT 1`,
        one
      )

    return OrderRepo.of({
      get,
      byClientOrderId,
      byExchangeOrderId,
      list,
      bySignal,
      fillsOf,
      transition,
      setExchangeOrderId,
      recordFill,
      inStatus,
      olderThan,
      insertFilledChild,
      latestProtectedEntry
    })
  })

  /** Needs SqlClient. */
  static readonly layer = Layer.effect(OrderRepo, OrderRepo.make)
}
