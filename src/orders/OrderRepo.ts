/**
 * Orders and fills in Postgres: the database edge of the `Order` and `Fill` records.
 *
 * Rows are decoded with Schema into domain records (camelCase, `BigDecimal`, `Date`, vocabulary
 * literals) as they are read; a row that does not decode is a defect, never a silent default.
 * Values are encoded (decimals as plain text, the planned request as JSON) only when written.
 *
 * Every status change is ONE `UPDATE … WHERE id = $id AND status = $expected` (`transition`): when
 * someone else moved the order first, nothing changes and the caller sees `undefined`. Each
 * transition that happens is counted in `tvtelegrambingx_order_transitions_total{symbol,status}`.
 * A fill is written in the same transaction as the order's new filled quantity (and guarded by the
 * previous filled quantity), with a unique `fill_key`, so replaying the same exchange state never
 * records a fill twice.
 */
import { type BigDecimal, Context, Effect, Layer, Metric, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { Numeric, Timestamptz } from "../db/columns.ts"
import { plain, plainOrNull } from "../domain/decimal.ts"
import { canTransition, Fill, isFinal, Order, type OrderStatus } from "../domain/order.ts"
import { OrderRequest } from "../domain/orderPlan.ts"
import type { Action, MarginMode, PriceSource, SignalPositionSide } from "../domain/vocabulary.ts"
import { orderTransitions, taggedBy } from "../telemetry/metrics.ts"

/** Columns a transition may set (absent = unchanged). */
export interface OrderPatch {
  readonly reason?: string | undefined
  readonly clientOrderId?: string | undefined
  readonly exchangeOrderId?: string | undefined
  readonly quantity?: BigDecimal.BigDecimal | undefined
  readonly leverage?: number | undefined
  readonly marginMode?: MarginMode | undefined
  /** The exchange request, fixed with `pending → submitted`. */
  readonly planned?: OrderRequest | undefined
  readonly incrementAttempts?: boolean | undefined
}

export interface NewFill {
  /** How the exchange booked it: long/short in hedge mode, null for a one-way (net) position. */
  readonly positionSide: SignalPositionSide
  readonly fillKey: string
  readonly quantity: BigDecimal.BigDecimal
  readonly price: BigDecimal.BigDecimal
  readonly fee: BigDecimal.BigDecimal
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
  take_profit::text AS take_profit, client_order_id, exchange_order_id, reason, attempts, planned, created_at, updated_at,
  pending_since, submitted_at, completed_at`

const FILL_COLUMNS = `id::text AS id, order_id::text AS order_id, fill_key, symbol, action, position_side,
  quantity::text AS quantity, price::text AS price, fee::text AS fee, fee_asset, price_source, filled_at`

/** The planned request as stored in `jsonb`. */
const PlannedJson = Schema.toCodecJson(OrderRequest)

/** An `orders` row (as `COLUMNS` selects it) → `Order`. */
const OrderFromRow = Schema.Struct({
  ...Order.fields,
  quantity: Schema.NullOr(Numeric),
  marginUsdt: Schema.NullOr(Numeric),
  filledQuantity: Numeric,
  price: Schema.NullOr(Numeric),
  averagePrice: Schema.NullOr(Numeric),
  stopLoss: Schema.NullOr(Numeric),
  takeProfit: Schema.NullOr(Numeric),
  planned: Schema.NullOr(PlannedJson),
  createdAt: Timestamptz,
  updatedAt: Timestamptz,
  pendingSince: Schema.NullOr(Timestamptz),
  submittedAt: Schema.NullOr(Timestamptz),
  completedAt: Schema.NullOr(Timestamptz)
}).pipe(
  Schema.encodeKeys({
    signalId: "signal_id",
    positionSide: "position_side",
    reduceOnly: "reduce_only",
    marginUsdt: "margin_usdt",
    filledQuantity: "filled_quantity",
    averagePrice: "average_price",
    marginMode: "margin_mode",
    stopLoss: "stop_loss",
    takeProfit: "take_profit",
    clientOrderId: "client_order_id",
    exchangeOrderId: "exchange_order_id",
    createdAt: "created_at",
    updatedAt: "updated_at",
    pendingSince: "pending_since",
    submittedAt: "submitted_at",
    completedAt: "completed_at"
  }),
  Schema.decodeTo(Order)
)

/** A `fills` row (as `FILL_COLUMNS` selects it) → `Fill`. */
const FillFromRow = Schema.Struct({
  ...Fill.fields,
  quantity: Numeric,
  price: Numeric,
  fee: Numeric,
  filledAt: Timestamptz
}).pipe(
  Schema.encodeKeys({
    orderId: "order_id",
    fillKey: "fill_key",
    positionSide: "position_side",
    feeAsset: "fee_asset",
    priceSource: "price_source",
    filledAt: "filled_at"
  }),
  Schema.decodeTo(Fill)
)

/** A row that does not decode means the schema and the code disagree: a defect, with the row's problem. */
const decoder = <A>(schema: Schema.Codec<A, unknown>, what: string) => {
  const decode = Schema.decodeUnknownEffect(schema)
  return (row: unknown): Effect.Effect<A> =>
    decode(row).pipe(Effect.mapError((e) => new Error(`a ${what} row does not decode: ${e.message}`)), Effect.orDie)
}
const decodeOrder = decoder(OrderFromRow, "orders")
const decodeFill = decoder(FillFromRow, "fills")
const decodeOrders = (rows: ReadonlyArray<unknown>) => Effect.forEach(rows, decodeOrder)
const decodeFirst = (rows: ReadonlyArray<unknown>) => (rows[0] === undefined ? Effect.succeed(undefined) : decodeOrder(rows[0]))

const encodePlanned = (request: OrderRequest | undefined): string | null =>
  request === undefined ? null : JSON.stringify(Schema.encodeSync(PlannedJson)(request))

const transitionsBy = taggedBy(orderTransitions)

export const countTransition = (symbol: string, status: OrderStatus) => Metric.update(transitionsBy({ symbol, status }), 1)

export class OrderRepo extends Context.Service<OrderRepo, {
  readonly get: (id: string) => Effect.Effect<Order | undefined, SqlError>
  readonly byClientOrderId: (clientOrderId: string) => Effect.Effect<Order | undefined, SqlError>
  readonly byExchangeOrderId: (exchangeOrderId: string) => Effect.Effect<Order | undefined, SqlError>
  readonly list: (filter: ListFilter) => Effect.Effect<ReadonlyArray<Order>, SqlError>
  /** The orders a signal created, oldest first. */
  readonly bySignal: (signalId: string) => Effect.Effect<ReadonlyArray<Order>, SqlError>
  readonly fillsOf: (orderIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Fill>, SqlError>
  /** One guarded UPDATE; `undefined` when the order was not in `from` any more. */
  readonly transition: (
    id: string,
    from: OrderStatus,
    to: OrderStatus,
    patch?: OrderPatch,
    /** Also require COALESCE(pending_since, created_at) >= this (age guard for pending → submitted). */
    notOlderThan?: Date
  ) => Effect.Effect<Order | undefined, SqlError>
  /** Stores the exchange's order id without changing the status. */
  readonly setExchangeOrderId: (id: string, status: OrderStatus, exchangeOrderId: string) => Effect.Effect<void, SqlError>
  /**
   * Records a fill and the order's new cumulative state in one transaction, guarded by the status
   * and the previous filled quantity. Returns the updated order and the new fill (undefined when
   * the fill_key was already recorded).
   */
  readonly recordFill: (args: {
    readonly order: Order
    readonly to: OrderStatus
    readonly filledQuantity: BigDecimal.BigDecimal
    readonly averagePrice: BigDecimal.BigDecimal | null
    readonly exchangeOrderId: string | undefined
    readonly reason?: string | undefined
    readonly fill: NewFill | undefined
  }) => Effect.Effect<{ readonly order: Order; readonly fill: Fill | undefined } | undefined, SqlError>
  /** Orders in `statuses`, oldest first. */
  readonly inStatus: (statuses: ReadonlyArray<OrderStatus>, limit: number) => Effect.Effect<ReadonlyArray<Order>, SqlError>
  /** Orders in `status` whose age reference (pending_since/created_at) is older than `cutoff`. */
  readonly olderThan: (status: OrderStatus, cutoff: Date, column: "pending" | "created") => Effect.Effect<ReadonlyArray<Order>, SqlError>
  /** An order that happened at the exchange without us placing it (attached SL/TP), already filled. */
  readonly insertFilledChild: (args: {
    readonly parent: Order
    readonly action: Action
    readonly exchangeOrderId: string
    readonly quantity: BigDecimal.BigDecimal
    readonly price: BigDecimal.BigDecimal
    readonly reason: string
    readonly fill: NewFill
  }) => Effect.Effect<{ readonly order: Order; readonly fill: Fill } | undefined, SqlError>
  /** The most recent filled order on `symbol` that carried a stop-loss or take-profit. */
  readonly latestProtectedEntry: (symbol: string) => Effect.Effect<Order | undefined, SqlError>
}>()("tvtelegrambingx/OrderRepo") {
  static readonly make = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.unsafe(COLUMNS)
    const fillColumns = sql.unsafe(FILL_COLUMNS)

    const get = (id: string) =>
      Effect.flatMap(sql`SELECT ${columns} FROM orders WHERE id = ${id}::bigint`, decodeFirst).pipe(
        Effect.withSpan("OrderRepo.get")
      )

    const byClientOrderId = (clientOrderId: string) =>
      Effect.flatMap(sql`SELECT ${columns} FROM orders WHERE client_order_id = ${clientOrderId}`, decodeFirst)

    const byExchangeOrderId = (exchangeOrderId: string) =>
      Effect.flatMap(sql`SELECT ${columns} FROM orders WHERE exchange_order_id = ${exchangeOrderId}`, decodeFirst)

    const list = (filter: ListFilter) =>
      Effect.flatMap(
        sql`SELECT ${columns} FROM orders
          WHERE (${filter.status ?? null}::text IS NULL OR status = ${filter.status ?? null})
            AND (${filter.symbol ?? null}::text IS NULL OR symbol = ${filter.symbol ?? null})
          ORDER BY created_at DESC, id DESC
          LIMIT ${filter.limit}`,
        decodeOrders
      ).pipe(Effect.withSpan("OrderRepo.list"))

    const bySignal = (signalId: string) =>
      Effect.flatMap(sql`SELECT ${columns} FROM orders WHERE signal_id = ${signalId}::bigint ORDER BY id`, decodeOrders).pipe(
        Effect.withSpan("OrderRepo.bySignal")
      )

    const fillsOf = (orderIds: ReadonlyArray<string>) =>
      orderIds.length === 0
        ? Effect.succeed([])
        : Effect.flatMap(
          sql`SELECT ${fillColumns} FROM fills WHERE order_id = ANY(${`{${orderIds.join(",")}}`}::bigint[]) ORDER BY id`,
          (rows) => Effect.forEach(rows, decodeFill)
        )

    const transition = (
      id: string,
      from: OrderStatus,
      to: OrderStatus,
      patch: OrderPatch = {},
      notOlderThan?: Date
    ) =>
      Effect.gen(function*() {
        if (!canTransition(from, to)) return yield* Effect.die(new Error(`order transition ${from} → ${to} is not allowed`))
        const rows = yield* sql`
          UPDATE orders SET
            status = ${to},
            reason = COALESCE(${patch.reason ?? null}::text, reason),
            client_order_id = COALESCE(${patch.clientOrderId ?? null}::text, client_order_id),
            exchange_order_id = COALESCE(${patch.exchangeOrderId ?? null}::text, exchange_order_id),
            quantity = COALESCE(${plainOrNull(patch.quantity)}::numeric, quantity),
            leverage = COALESCE(${patch.leverage ?? null}::integer, leverage),
            margin_mode = COALESCE(${patch.marginMode ?? null}::text, margin_mode),
            planned = COALESCE(${encodePlanned(patch.planned)}::jsonb, planned),
            attempts = attempts + ${patch.incrementAttempts === true ? 1 : 0},
            pending_since = CASE WHEN ${to === "pending"} THEN now() ELSE pending_since END,
            submitted_at = CASE WHEN ${to === "submitted"} THEN now() ELSE submitted_at END,
            completed_at = CASE WHEN ${isFinal(to)} THEN now() ELSE completed_at END,
            updated_at = now()
          WHERE id = ${id}::bigint AND status = ${from}
            AND (${notOlderThan ?? null}::timestamptz IS NULL OR COALESCE(pending_since, created_at) >= ${notOlderThan ?? null}::timestamptz)
          RETURNING ${columns}`
        const order = yield* decodeFirst(rows)
        if (order !== undefined) yield* countTransition(order.symbol, to)
        return order
      }).pipe(Effect.withSpan("OrderRepo.transition", { attributes: { "order.id": id, from, to } }))

    const setExchangeOrderId = (id: string, status: OrderStatus, exchangeOrderId: string) =>
      Effect.asVoid(sql`UPDATE orders SET exchange_order_id = ${exchangeOrderId}, updated_at = now()
        WHERE id = ${id}::bigint AND status = ${status} AND exchange_order_id IS NULL`)

    const insertFill = (order: Order, fill: NewFill) =>
      Effect.flatMap(
        sql`INSERT INTO fills (order_id, fill_key, symbol, action, position_side, quantity, price, fee, fee_asset, price_source, filled_at)
          VALUES (${order.id}::bigint, ${fill.fillKey}, ${order.symbol}, ${order.action}, ${fill.positionSide},
            ${plain(fill.quantity)}::numeric, ${plain(fill.price)}::numeric, ${plain(fill.fee)}::numeric, ${fill.feeAsset},
            ${fill.priceSource ?? null}::text, ${fill.filledAt})
          ON CONFLICT (fill_key) DO NOTHING
          RETURNING ${fillColumns}`,
        (rows) => (rows[0] === undefined ? Effect.succeed(undefined) : decodeFill(rows[0]))
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
            filled_quantity = ${plain(args.filledQuantity)}::numeric,
            average_price = COALESCE(${plainOrNull(args.averagePrice)}::numeric, average_price),
            exchange_order_id = COALESCE(exchange_order_id, ${args.exchangeOrderId ?? null}::text),
            reason = COALESCE(${args.reason ?? null}::text, reason),
            completed_at = CASE WHEN ${isFinal(to)} THEN now() ELSE completed_at END,
            updated_at = now()
          WHERE id = ${order.id}::bigint AND status = ${order.status} AND filled_quantity = ${plain(order.filledQuantity)}::numeric`
        if (fill === undefined) {
          const updated = yield* decodeFirst(yield* sql`${update} RETURNING ${columns}`)
          return updated === undefined ? undefined : { order: updated, fill: undefined }
        }
        const rows = yield* sql<{ readonly fill: unknown }>`
          WITH u AS (${update} RETURNING *),
          f AS (
            INSERT INTO fills (order_id, fill_key, symbol, action, position_side, quantity, price, fee, fee_asset, price_source, filled_at)
            SELECT u.id, ${fill.fillKey}, u.symbol, u.action, ${fill.positionSide}, ${plain(fill.quantity)}::numeric,
              ${plain(fill.price)}::numeric, ${plain(fill.fee)}::numeric, ${fill.feeAsset}, ${fill.priceSource ?? null}::text, ${fill.filledAt}
            FROM u
            ON CONFLICT (fill_key) DO NOTHING
            RETURNING ${fillColumns}
          )
          SELECT ${columns}, (SELECT row_to_json(f) FROM f) AS fill FROM u`
        const row = rows[0]
        if (row === undefined) return undefined
        const { fill: inserted, ...updated } = row
        return {
          order: yield* decodeOrder(updated),
          fill: inserted === null ? undefined : yield* decodeFill(inserted)
        }
      }).pipe(
        Effect.tap((r) => (r !== undefined && r.order.status !== args.order.status ? countTransition(r.order.symbol, args.to) : Effect.void)),
        Effect.withSpan("OrderRepo.recordFill", { attributes: { "order.id": args.order.id, to: args.to } })
      )

    const inStatus = (statuses: ReadonlyArray<OrderStatus>, limit: number) =>
      Effect.flatMap(
        sql`SELECT ${columns} FROM orders WHERE status = ANY(${`{${statuses.join(",")}}`}::text[])
          ORDER BY id LIMIT ${limit}`,
        decodeOrders
      )

    const olderThan = (status: OrderStatus, cutoff: Date, column: "pending" | "created") =>
      Effect.flatMap(
        column === "pending"
          ? sql`SELECT ${columns} FROM orders WHERE status = ${status}
              AND COALESCE(pending_since, created_at) < ${cutoff} ORDER BY id`
          : sql`SELECT ${columns} FROM orders WHERE status = ${status} AND created_at < ${cutoff} ORDER BY id`,
        decodeOrders
      )

    const insertFilledChild: OrderRepo["Service"]["insertFilledChild"] = (args) =>
      sql.withTransaction(Effect.gen(function*() {
        const p = args.parent
        const rows = yield* sql`
          INSERT INTO orders (signal_id, user_id, bot_session_id, symbol, action, position_side, reduce_only, status,
            quantity, filled_quantity, average_price, leverage, margin_mode, exchange_order_id, reason, submitted_at, completed_at)
          SELECT signal_id, user_id, bot_session_id, symbol, ${args.action}, position_side, true, 'filled',
            ${plain(args.quantity)}::numeric, ${plain(args.quantity)}::numeric, ${plain(args.price)}::numeric, leverage, margin_mode,
            ${args.exchangeOrderId}, ${args.reason}, now(), now()
          FROM orders WHERE id = ${p.id}::bigint
          ON CONFLICT (exchange_order_id) DO NOTHING
          RETURNING ${columns}`
        const order = yield* decodeFirst(rows)
        if (order === undefined) return undefined
        const fill = yield* insertFill(order, args.fill)
        if (fill === undefined) return undefined
        return { order, fill }
      })).pipe(
        Effect.tap((r) => (r !== undefined ? countTransition(r.order.symbol, "filled") : Effect.void)),
        Effect.withSpan("OrderRepo.insertFilledChild")
      )

    const latestProtectedEntry = (symbol: string) =>
      Effect.flatMap(
        sql`SELECT ${columns} FROM orders WHERE symbol = ${symbol} AND status IN ('filled', 'partially_filled')
          AND (stop_loss IS NOT NULL OR take_profit IS NOT NULL) AND reduce_only = false
          ORDER BY id DESC LIMIT 1`,
        decodeFirst
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
