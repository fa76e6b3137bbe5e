/**
 * The paper account's book in the database (`paper_*` tables): positions per symbol and side, the
 * USDT wallet, the orders it "executed" (found again by clientOrderId after a crash), triggers and
 * per-symbol settings. Rows are read as text and turned into exact decimals here; every write is a
 * plain statement meant to run inside the caller's transaction (the paper exchange holds its lock).
 */
import { BigDecimal, Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { divide, parseUnsafe, plain } from "../../domain/decimal.ts"
import { FLAT, isFlat, type Leg } from "../../domain/ledger.ts"
import type { ExchangePositionSide, ExchangeSide, PositionSide, PriceSource } from "../../domain/vocabulary.ts"
import type { ExchangeOrder } from "../Exchange.ts"

export interface OrderRow {
  readonly order_id: string
  readonly client_order_id: string | null
  readonly symbol: string
  readonly side: ExchangeSide
  readonly position_side: ExchangePositionSide
  readonly quantity: string
  readonly executed_quantity: string
  readonly average_price: string | null
  readonly fee: string
  readonly status: string
  readonly price_source: PriceSource | null
  readonly created_at: Date
}

export interface LegRow {
  readonly side: PositionSide
  readonly quantity: string
  readonly cost: string
  readonly leverage: number
}

export interface TriggerRow {
  readonly id: string
  readonly position_side: PositionSide
  readonly kind: "stop_loss" | "take_profit"
  readonly trigger_price: string
  readonly quantity: string
  readonly parent_client_order_id: string | null
}

const toOrder = (r: OrderRow): ExchangeOrder => ({
  orderId: r.order_id,
  clientOrderId: r.client_order_id ?? undefined,
  symbol: r.symbol,
  side: r.side,
  positionSide: r.position_side,
  status: r.status === "filled" ? "filled" : r.status === "cancelled" ? "cancelled" : "new",
  quantity: parseUnsafe(r.quantity),
  executedQuantity: parseUnsafe(r.executed_quantity),
  averagePrice: r.average_price === null ? undefined : parseUnsafe(r.average_price),
  fee: parseUnsafe(r.fee),
  feeAsset: "USDT",
  priceSource: r.price_source ?? undefined,
  updatedAt: new Date(r.created_at)
})

const ORDER_COLUMNS = `order_id, client_order_id, symbol, side, position_side, quantity::text AS quantity,
  executed_quantity::text AS executed_quantity, average_price::text AS average_price, fee::text AS fee, status,
  price_source, created_at`

/** The book's statements over `sql`; leverage without a stored setting is `defaultLeverage`. */
export const makePaperBook = (sql: SqlClient.SqlClient, defaultLeverage: number) => {
  const orderColumns = sql.unsafe(ORDER_COLUMNS)

const readLegs = (symbol: string) =>
  Effect.map(
    sql<LegRow>`SELECT side, quantity::text AS quantity, cost::text AS cost, leverage FROM paper_positions WHERE symbol = ${symbol}`,
    (rows) => {
      const legs: Record<PositionSide, Leg> = { long: FLAT, short: FLAT }
      const leverage: Record<PositionSide, number> = { long: 1, short: 1 }
      for (const r of rows) {
        legs[r.side] = { quantity: parseUnsafe(r.quantity), cost: parseUnsafe(r.cost) }
        leverage[r.side] = Number(r.leverage)
      }
      return { legs, leverage }
    }
  )

const setting = (symbol: string, key: string) =>
  Effect.map(
    sql<{ value: string }>`SELECT value FROM paper_settings WHERE symbol = ${symbol} AND key = ${key}`,
    (rows) => rows[0]?.value
  )

const leverageFor = (symbol: string, positionSide: ExchangePositionSide) =>
  Effect.map(setting(symbol, `leverage:${positionSide}`), (v) => (v === undefined ? defaultLeverage : Number(v)))

const writeLeg = (symbol: string, side: PositionSide, leg: Leg, leverage: number) =>
  sql`INSERT INTO paper_positions (symbol, side, quantity, cost, leverage, opened_at, updated_at)
    VALUES (${symbol}, ${side}, ${plain(leg.quantity)}::numeric, ${plain(leg.cost)}::numeric, ${leverage},
            ${isFlat(leg) ? null : new Date()}, now())
    ON CONFLICT (symbol, side) DO UPDATE SET
      quantity = EXCLUDED.quantity, cost = EXCLUDED.cost, leverage = EXCLUDED.leverage,
      opened_at = CASE WHEN EXCLUDED.quantity = 0 THEN NULL ELSE COALESCE(paper_positions.opened_at, EXCLUDED.opened_at) END,
      updated_at = now()`

const wallet = Effect.map(
  sql<{ wallet_balance: string }>`SELECT wallet_balance::text AS wallet_balance FROM paper_account WHERE asset = 'USDT'`,
  (rows) => parseUnsafe(rows[0]?.wallet_balance ?? "0")
)

const usedMargin = (legs: Record<PositionSide, Leg>, leverage: Record<PositionSide, number>) =>
  BigDecimal.sum(
    divide(legs.long.cost, BigDecimal.fromBigInt(BigInt(Math.max(1, leverage.long)))),
    divide(legs.short.cost, BigDecimal.fromBigInt(BigInt(Math.max(1, leverage.short))))
  )

const nextOrderId = Effect.map(
  sql<{ id: string }>`SELECT nextval('paper_order_id_seq')::text AS id`,
  (rows) => rows[0]!.id
)

const insertOrder = (o: {
  readonly orderId: string
  readonly clientOrderId: string | null
  readonly symbol: string
  readonly side: ExchangeSide
  readonly positionSide: ExchangePositionSide
  readonly kind: "market" | "stop_loss" | "take_profit"
  readonly reduceOnly: boolean
  readonly quantity: BigDecimal.BigDecimal
  readonly executed: BigDecimal.BigDecimal
  readonly price: BigDecimal.BigDecimal
  readonly fee: BigDecimal.BigDecimal
  readonly realised: BigDecimal.BigDecimal
  readonly parent: string | null
  readonly priceSource: PriceSource
}) =>
  Effect.map(
    sql<OrderRow>`INSERT INTO paper_orders (order_id, client_order_id, symbol, side, position_side, kind, reduce_only,
        quantity, executed_quantity, average_price, fee, realised_pnl, status, parent_client_order_id, price_source)
      VALUES (${o.orderId}, ${o.clientOrderId}, ${o.symbol}, ${o.side}, ${o.positionSide}, ${o.kind}, ${o.reduceOnly},
        ${plain(o.quantity)}::numeric, ${plain(o.executed)}::numeric, ${plain(o.price)}::numeric, ${plain(o.fee)}::numeric,
        ${plain(o.realised)}::numeric, 'filled', ${o.parent}, ${o.priceSource})
      RETURNING ${orderColumns}`,
    (rows) => toOrder(rows[0]!)
  )

const bookWallet = (realised: BigDecimal.BigDecimal, fee: BigDecimal.BigDecimal) =>
  sql`UPDATE paper_account SET
      wallet_balance = wallet_balance + ${plain(realised)}::numeric - ${plain(fee)}::numeric,
      realised_pnl = realised_pnl + ${plain(realised)}::numeric,
      fees = fees + ${plain(fee)}::numeric,
      updated_at = now()
    WHERE asset = 'USDT'`

const cancelTriggers = (symbol: string, side: PositionSide) =>
  sql`UPDATE paper_triggers SET status = 'cancelled', closed_at = now()
    WHERE symbol = ${symbol} AND position_side = ${side} AND status = 'active'`

const findOrder = (ref: { readonly orderId?: string | undefined; readonly clientOrderId?: string | undefined }) =>
  Effect.map(
    ref.orderId !== undefined
      ? sql<OrderRow>`SELECT ${orderColumns} FROM paper_orders WHERE order_id = ${ref.orderId}`
      : sql<OrderRow>`SELECT ${orderColumns} FROM paper_orders WHERE client_order_id = ${ref.clientOrderId ?? ""}`,
    (rows) => (rows[0] === undefined ? undefined : toOrder(rows[0]))
  )

  return { readLegs, leverageFor, writeLeg, wallet, usedMargin, nextOrderId, insertOrder, bookWallet, cancelTriggers, findOrder }
}
