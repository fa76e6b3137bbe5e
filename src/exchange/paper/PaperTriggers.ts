/**
 * The paper account's stop-loss / take-profit triggers: armed by an opening fill, fired by a
 * market price. Every statement runs inside the caller's transaction, under the paper exchange's
 * lock.
 *
 * Invariants: a trigger covers the quantity its entry opened and closes at most what is still open,
 * at the price that crossed it, paying the taker fee; a stop-loss fires at or beyond its price
 * against the position (long: price ≤ trigger), a take-profit at or beyond it in its favour. When
 * one trigger of an entry fires, the other of the pair is cancelled in the same pass (and fires no
 * more); a side that goes flat cancels all its triggers. Each fill is booked as a reduce-only order
 * with its entry as parent and is answered as one `ProtectiveFill` event for the caller to publish.
 */
import { BigDecimal, Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { parseUnsafe, plain } from "../../domain/decimal.ts"
import { applyToLeg, isFlat } from "../../domain/ledger.ts"
import type { ExchangePositionSide, PositionMode, PositionSide } from "../../domain/vocabulary.ts"
import type { PlaceOrderRequest } from "../Exchange.ts"
import type { ExchangeEvent } from "../ExchangeEvents.ts"
import type { makePaperBook, TriggerRow } from "./PaperBook.ts"

/** Whether `price` crosses trigger `t`. */
const fires = (t: TriggerRow, price: BigDecimal.BigDecimal) => {
  const trigger = parseUnsafe(t.trigger_price)
  const long = t.position_side === "long"
  return t.kind === "stop_loss"
    ? (long ? BigDecimal.isLessThanOrEqualTo(price, trigger) : BigDecimal.isGreaterThanOrEqualTo(price, trigger))
    : (long ? BigDecimal.isGreaterThanOrEqualTo(price, trigger) : BigDecimal.isLessThanOrEqualTo(price, trigger))
}

export const makePaperTriggers = (
  sql: SqlClient.SqlClient,
  book: ReturnType<typeof makePaperBook>,
  feeRate: BigDecimal.BigDecimal,
  mode: PositionMode
) => {
  const { readLegs, writeLeg, nextOrderId, insertOrder, bookWallet, cancelTriggers } = book

  /** Arms the attached SL/TP of an opening fill for the quantity it opened on `side`. */
  const arm = (
    req: Pick<PlaceOrderRequest, "symbol" | "clientOrderId" | "stopLoss" | "takeProfit">,
    side: PositionSide,
    opened: BigDecimal.BigDecimal
  ) =>
    Effect.gen(function*() {
      for (const [kind, trigger] of [["stop_loss", req.stopLoss], ["take_profit", req.takeProfit]] as const) {
        if (trigger === undefined) continue
        yield* sql`INSERT INTO paper_triggers (symbol, position_side, kind, trigger_price, quantity, parent_client_order_id)
          VALUES (${req.symbol}, ${side}, ${kind}, ${plain(trigger)}::numeric, ${plain(opened)}::numeric, ${req.clientOrderId})`
      }
    })

  /** Fires the active triggers of `symbol` that `price` crosses; answers one event per fill, in order. */
  const fire = (symbol: string, price: BigDecimal.BigDecimal) =>
    Effect.gen(function*() {
      const out: Array<ExchangeEvent> = []
      const active = yield* sql<TriggerRow>`SELECT id::text AS id, position_side, kind, trigger_price::text AS trigger_price,
          quantity::text AS quantity, parent_client_order_id
        FROM paper_triggers WHERE symbol = ${symbol} AND status = 'active' ORDER BY id`
      /** Entry orders whose SL/TP pair already fired in this pass (the other one is cancelled). */
      const done = new Set<string>()
      for (const t of active) {
        const pair = t.parent_client_order_id ?? `trigger:${t.id}`
        if (done.has(pair) || !fires(t, price)) continue
        const { legs, leverage } = yield* readLegs(symbol)
        const leg = legs[t.position_side]
        if (isFlat(leg)) {
          yield* cancelTriggers(symbol, t.position_side)
          continue
        }
        // Closes what the entry opened (never more than is still open).
        const quantity = BigDecimal.min(parseUnsafe(t.quantity), leg.quantity)
        const action = t.position_side === "long" ? "sell" as const : "buy" as const
        const result = applyToLeg(t.position_side, leg, action, quantity, price)
        const fee = BigDecimal.multiply(BigDecimal.multiply(quantity, price), feeRate)
        yield* writeLeg(symbol, t.position_side, result.leg, leverage[t.position_side])
        yield* bookWallet(result.realised, fee)
        const positionSide: ExchangePositionSide = mode === "one_way" ? "BOTH" : t.position_side === "long" ? "LONG" : "SHORT"
        const order = yield* insertOrder({
          orderId: yield* nextOrderId,
          clientOrderId: null,
          symbol,
          side: action === "sell" ? "SELL" : "BUY",
          positionSide,
          kind: t.kind,
          reduceOnly: true,
          quantity,
          executed: quantity,
          price,
          fee,
          realised: result.realised,
          parent: t.parent_client_order_id,
          priceSource: "exchange"
    })
    yield* sql`UPDATE paper_triggers SET status = 'triggered', closed_at = now() WHERE id = ${t.id}::bigint`
    // The other half of this entry's SL/TP pair is cancelled; a flat position cancels everything on its side.
    if (t.parent_client_order_id !== null) {
      yield* sql`UPDATE paper_triggers SET status = 'cancelled', closed_at = now()
        WHERE parent_client_order_id = ${t.parent_client_order_id} AND status = 'active'`
    }
    if (isFlat(result.leg)) yield* cancelTriggers(symbol, t.position_side)
    done.add(pair)
    out.push({
      _tag: "ProtectiveFill",
      kind: t.kind,
      symbol,
      exchangeOrderId: order.orderId,
      parentClientOrderId: t.parent_client_order_id ?? undefined,
      side: order.side,
      positionSide,
      quantity,
      price,
      fee,
      feeAsset: "USDT",
      filledAt: order.updatedAt
    })
  }
  return out
    })

  return { arm, fire }
}
