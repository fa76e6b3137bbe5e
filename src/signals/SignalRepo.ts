/**
 * Signals and their orders in Postgres.
 *
 * `insert` stores a whole alert (one signal row per action, each with its order) in ONE statement:
 * `WITH input AS (VALUES …), s AS (INSERT INTO signals … ON CONFLICT (idempotency_key) DO NOTHING RETURNING …),
 * o AS (INSERT INTO orders … SELECT … FROM s …) SELECT …` — atomic without an explicit transaction,
 * one round trip, and race-free: the unique index decides which request creates a row; a duplicate
 * simply returns no row for its key.
 *
 * Reads decode every row with Schema into the domain record (`SignalRecord`: camelCase,
 * BigDecimal, Date); a row that does not decode is a defect (the schema is ours). Ids are selected
 * as text and numerics as exact text (sql-pg returns bigint as BigInt), so no digit is lost.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { Integer, Numeric, Timestamptz } from "../db/columns.ts"
import { OrderStatus } from "../domain/order.ts"
import { SignalRecord } from "../domain/signalRecord.ts"
import type { Action, MarginMode, PositionSide } from "../domain/vocabulary.ts"

export interface NewSignalRow {
  readonly idempotencyKey: string
  readonly symbol: string
  readonly action: Action
  readonly positionSide: PositionSide | null
  readonly reduceOnly: boolean
  /** Decimal strings. */
  readonly quantity: string | null
  readonly marginUsdt: string | null
  readonly price: string | null
  readonly leverage: number | null
  readonly marginMode: MarginMode | null
  readonly stopLoss: string | null
  readonly takeProfit: string | null
  /** The alert's own time (ISO), if any. */
  readonly signalTime: string | null
  readonly order: {
    readonly status: OrderStatus
    readonly reason: string | null
    readonly leverage: number | null
    readonly stopLoss: string | null
    readonly takeProfit: string | null
  }
}

export interface InsertShared {
  readonly userId: string
  readonly botSessionId: string
  readonly receivedAt: Date
  /** JSON text of the redacted body (`signals.raw_payload`). */
  readonly rawPayload: string
}

export interface InsertedRow {
  readonly idempotencyKey: string
  readonly id: string
  readonly orderId: string
  readonly orderStatus: OrderStatus
}

/** A stored signal (the domain record). */
export type SignalView = SignalRecord

export interface ListQuery {
  readonly limit: number
  readonly symbol?: string | undefined
  readonly since?: Date | undefined
}

export class SignalRepo extends Context.Service<SignalRepo, {
  /** Inserts the rows that are new (by idempotency key) with their orders; returns only those. */
  readonly insert: (rows: ReadonlyArray<NewSignalRow>, shared: InsertShared) => Effect.Effect<ReadonlyArray<InsertedRow>, SqlError>
  /** The stored signals with these keys (each with its first order). */
  readonly findByKeys: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<SignalView>, SqlError>
  /** Newest first. */
  readonly list: (query: ListQuery) => Effect.Effect<ReadonlyArray<SignalView>, SqlError>
  readonly get: (id: string) => Effect.Effect<Option.Option<SignalView>, SqlError>
}>()("tvtelegrambingx/SignalRepo") {
  static readonly make = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const SIGNAL_COLUMNS = sql.literal(`
      s.id::text AS id, s.idempotency_key, s.symbol, s.action, s.position_side, s.reduce_only,
      s.quantity::text AS quantity, s.margin_usdt::text AS margin_usdt, s.price::text AS price, s.leverage,
      s.margin_mode, s.stop_loss::text AS stop_loss, s.take_profit::text AS take_profit,
      s.signal_time, s.received_at, o.id::text AS order_id, o.status AS order_status`)
    const FIRST_ORDER = sql.literal(
      `LEFT JOIN LATERAL (SELECT id, status FROM orders WHERE signal_id = s.id ORDER BY id LIMIT 1) o ON true`
    )

    const insert = (rows: ReadonlyArray<NewSignalRow>, shared: InsertShared) => {
      // The rows as a VALUES list of typed parameters: the planner then knows how many there are
      // (a set-returning function such as jsonb_to_recordset is estimated at 100 rows, which made
      // the duplicate check hash the whole signals table on every insert while it was small).
      // Text values need no NUL guard: the id is refused with control characters (decodeSignals)
      // and the rest is normalised or ours.
      const input = sql.csv(rows.map((r, idx) =>
        sql`(${idx}::integer, ${r.idempotencyKey}::text, ${r.symbol}::text, ${r.action}::text,
          ${r.positionSide}::text, ${r.reduceOnly}::boolean, ${r.quantity}::numeric, ${r.marginUsdt}::numeric,
          ${r.price}::numeric, ${r.leverage}::integer, ${r.marginMode}::text, ${r.stopLoss}::numeric,
          ${r.takeProfit}::numeric, ${r.signalTime}::timestamptz, ${r.order.status}::text,
          ${r.order.reason}::text, ${r.order.leverage}::integer,
          ${r.order.stopLoss}::numeric, ${r.order.takeProfit}::numeric)`
      ))
      const receivedAt = shared.receivedAt.toISOString()
      return sql<{ idempotency_key: string; id: string; order_id: string; order_status: OrderStatus }>`
        WITH input (idx, idempotency_key, symbol, action, position_side, reduce_only, quantity, margin_usdt, price,
            leverage, margin_mode, stop_loss, take_profit, signal_time, order_status, order_reason, order_leverage,
            order_stop_loss, order_take_profit) AS (
          VALUES ${input}
        ), s AS (
          INSERT INTO signals (idempotency_key, user_id, bot_session_id, source, symbol, action, position_side,
            reduce_only, quantity, margin_usdt, price, leverage, margin_mode, stop_loss, take_profit, signal_time,
            received_at, raw_payload)
          SELECT idempotency_key, ${shared.userId}::bigint, ${shared.botSessionId}::bigint, 'tradingview', symbol,
            action, position_side, reduce_only, quantity, margin_usdt, price, leverage, margin_mode, stop_loss,
            take_profit, signal_time, ${receivedAt}::timestamptz, ${shared.rawPayload}::jsonb
          FROM input
          -- Plain repeats skip the insert (no id is drawn); concurrent ones meet the unique index.
          WHERE NOT EXISTS (SELECT 1 FROM signals e WHERE e.idempotency_key = input.idempotency_key)
          ORDER BY idx
          ON CONFLICT (idempotency_key) DO NOTHING
          RETURNING id, idempotency_key
        ), o AS (
          INSERT INTO orders (signal_id, user_id, bot_session_id, symbol, action, position_side, reduce_only, status,
            quantity, margin_usdt, price, leverage, margin_mode, stop_loss, take_profit, reason, created_at,
            updated_at, completed_at)
          SELECT s.id, ${shared.userId}::bigint, ${shared.botSessionId}::bigint, i.symbol, i.action, i.position_side,
            i.reduce_only, i.order_status, i.quantity, i.margin_usdt, i.price, i.order_leverage, i.margin_mode,
            i.order_stop_loss, i.order_take_profit, i.order_reason, ${receivedAt}::timestamptz,
            ${receivedAt}::timestamptz,
            CASE WHEN i.order_status IN ('expired', 'skipped') THEN ${receivedAt}::timestamptz END
          FROM s JOIN input i ON i.idempotency_key = s.idempotency_key
          ORDER BY i.idx
          RETURNING id, signal_id, status
        )
        SELECT s.idempotency_key, s.id::text AS id, o.id::text AS order_id, o.status AS order_status
        FROM s JOIN o ON o.signal_id = s.id`.pipe(
        Effect.map((result) =>
          result.map((r) => ({
            idempotencyKey: r.idempotency_key,
            id: r.id,
            orderId: r.order_id,
            orderStatus: r.order_status
          }))
        ),
        Effect.withSpan("SignalRepo.insert", { attributes: { rows: rows.length } })
      )
    }

    const findByKeys = (keys: ReadonlyArray<string>) =>
      records(sql`SELECT ${SIGNAL_COLUMNS} FROM signals s ${FIRST_ORDER}
        WHERE ${sql.in("s.idempotency_key", keys)} ORDER BY s.id`).pipe(Effect.withSpan("SignalRepo.findByKeys"))

    const list = (query: ListQuery) =>
      records(sql`SELECT ${SIGNAL_COLUMNS} FROM signals s ${FIRST_ORDER}
        WHERE ${query.symbol === undefined ? sql`true` : sql`s.symbol = ${query.symbol}`}
          AND ${query.since === undefined ? sql`true` : sql`s.received_at >= ${query.since.toISOString()}::timestamptz`}
        ORDER BY s.received_at DESC, s.id DESC
        LIMIT ${query.limit}`).pipe(Effect.withSpan("SignalRepo.list"))

    const get = (id: string) =>
      records(sql`SELECT ${SIGNAL_COLUMNS} FROM signals s ${FIRST_ORDER} WHERE s.id = ${id}::bigint`).pipe(
        Effect.map((rows) => Option.fromNullishOr(rows[0])),
        Effect.withSpan("SignalRepo.get")
      )

    return SignalRepo.of({ insert, findByKeys, list, get })
  })

  /** Needs SqlClient. */
  static readonly layer = Layer.effect(SignalRepo, SignalRepo.make)
}

/** A row of SIGNAL_COLUMNS. */
const SignalRow = Schema.Struct({
  ...SignalRecord.fields,
  quantity: Schema.NullOr(Numeric),
  marginUsdt: Schema.NullOr(Numeric),
  price: Schema.NullOr(Numeric),
  leverage: Schema.NullOr(Integer),
  stopLoss: Schema.NullOr(Numeric),
  takeProfit: Schema.NullOr(Numeric),
  timestamp: Schema.NullOr(Timestamptz),
  receivedAt: Timestamptz,
  orderStatus: Schema.NullOr(OrderStatus)
}).pipe(Schema.encodeKeys({
  idempotencyKey: "idempotency_key",
  positionSide: "position_side",
  reduceOnly: "reduce_only",
  marginUsdt: "margin_usdt",
  marginMode: "margin_mode",
  stopLoss: "stop_loss",
  takeProfit: "take_profit",
  timestamp: "signal_time",
  receivedAt: "received_at",
  orderId: "order_id",
  orderStatus: "order_status"
}))

const decodeRows = Schema.decodeUnknownEffect(Schema.Array(SignalRow))

/** Decoded rows; a row that does not match the schema is a defect, not the caller's error. */
const records = <E, R>(rows: Effect.Effect<ReadonlyArray<unknown>, E, R>): Effect.Effect<ReadonlyArray<SignalRecord>, E, R> =>
  Effect.flatMap(rows, (r) => Effect.orDie(decodeRows(r)))
