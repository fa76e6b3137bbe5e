/**
 * BingX order answers (placement, query, cancel, open orders) as Schemas, decoded into
 * `ExchangeOrder` records. The field schemas and the error messages are those of `wire.ts`.
 *
 * Invariants:
 * - Every answer must carry the order id (`orderId`, also spelt `orderID`), symbol, side, position
 *   side, status and executed quantity; an unknown side or status is an error.
 * - A query / cancel / open-orders answer must also carry the ordered quantity (`origQty`), the
 *   average price (`avgPrice`, "" or 0 = none yet), the `commission` ("" only while nothing is
 *   executed) and a time (`updateTime`, else `time`).
 * - A placement answer documents no commission and no time: its `fee` and `updatedAt` are
 *   undefined unless it carries them (the caller asks the order for them); its quantity is the
 *   one sent unless it says otherwise. Its symbol, side and clientOrderId must be those of the
 *   request: an answer about another order is malformed. (Its position side is taken as answered:
 *   BingX is known to write LONG for positions of a one-way account.)
 * - `fee` = −commission, exactly (BingX: negative = paid; ours: positive = paid).
 */
import { BigDecimal, Effect, Result, Schema } from "effect"
import { ZERO } from "../../domain/decimal.ts"
import { ExchangePositionSide, ExchangeSide } from "../../domain/vocabulary.ts"
import type { ExchangeOrder, PlacedOrder, PlaceOrderRequest } from "../Exchange.ts"
import { type BingxMalformedAnswer, Decimal, DecimalOrEmpty, decodeData, Id, Int, malformed, Status, Text } from "./wire.ts"

export const ORDER_PATH = "/openApi/swap/v2/trade/order"
export const OPEN_ORDERS_PATH = "/openApi/swap/v2/trade/openOrders"

const orderFields = {
  orderId: Schema.optionalKey(Id),
  orderID: Schema.optionalKey(Id),
  /** "" or null: the order has none (placed without one, e.g. by hand). */
  clientOrderId: Schema.optionalKey(Schema.NullOr(Schema.String)),
  clientOrderID: Schema.optionalKey(Schema.NullOr(Schema.String)),
  symbol: Text,
  side: ExchangeSide,
  positionSide: ExchangePositionSide,
  status: Status,
  executedQty: Decimal,
  time: Schema.optionalKey(Int),
  updateTime: Schema.optionalKey(Int)
}

/** An order as a query, a cancel or the open-orders list answers it. */
export const Order = Schema.Struct({
  ...orderFields,
  origQty: Decimal,
  avgPrice: DecimalOrEmpty,
  commission: DecimalOrEmpty
})

/** An order as the placement answers it. */
export const PlacementOrder = Schema.Struct({
  ...orderFields,
  origQty: Schema.optionalKey(Decimal),
  quantity: Schema.optionalKey(Decimal),
  avgPrice: Schema.optionalKey(DecimalOrEmpty),
  commission: Schema.optionalKey(DecimalOrEmpty)
})

type Problem = { readonly field: string; readonly problem: string }

const orderIdOf = (o: typeof PlacementOrder.Type, at: string): string | Problem =>
  o.orderId ?? o.orderID ?? { field: `${at}.orderId`, problem: "is missing" }

const clientOrderIdOf = (o: typeof PlacementOrder.Type): string | undefined => {
  const id = o.clientOrderId ?? o.clientOrderID
  return id === undefined || id === null || id === "" ? undefined : id
}

const timeOf = (o: typeof PlacementOrder.Type): Date | undefined => {
  const t = o.updateTime !== undefined && o.updateTime > 0 ? o.updateTime : o.time !== undefined && o.time > 0 ? o.time : undefined
  return t === undefined ? undefined : new Date(t)
}

const averageOf = (avg: BigDecimal.BigDecimal | "" | undefined) =>
  avg === undefined || avg === "" || BigDecimal.isZero(avg) ? undefined : avg

/** −commission; "" is no fee only while nothing is executed. */
const feeOf = (
  commission: BigDecimal.BigDecimal | "",
  executed: BigDecimal.BigDecimal,
  at: string
): BigDecimal.BigDecimal | Problem => {
  if (commission === "") {
    return BigDecimal.isZero(executed)
      ? ZERO
      : { field: `${at}.commission`, problem: `is "" although the order executed ${BigDecimal.format(executed)}` }
  }
  return BigDecimal.negate(commission)
}

const isProblem = (v: unknown): v is Problem => typeof v === "object" && v !== null && "problem" in v

/** A read order (query, cancel, open orders) → `ExchangeOrder`, or the problem. */
const readOrder = (o: typeof Order.Type, at: string): ExchangeOrder | Problem => {
  const orderId = orderIdOf(o, at)
  if (isProblem(orderId)) return orderId
  const updatedAt = timeOf(o)
  if (updatedAt === undefined) {
    return { field: `${at}.updateTime`, problem: "is missing (and so is a positive time)" }
  }
  const fee = feeOf(o.commission, o.executedQty, at)
  if (isProblem(fee)) return fee
  return {
    orderId,
    clientOrderId: clientOrderIdOf(o),
    symbol: o.symbol,
    side: o.side,
    positionSide: o.positionSide,
    status: o.status,
    quantity: o.origQty,
    executedQuantity: o.executedQty,
    averagePrice: averageOf(o.avgPrice),
    fee,
    feeAsset: "USDT",
    priceSource: "exchange",
    updatedAt
  }
}

const orUnknown = (endpoint: string, v: ExchangeOrder | Problem): Result.Result<ExchangeOrder, BingxMalformedAnswer> =>
  isProblem(v) ? Result.fail(malformed(endpoint, v.field, v.problem)) : Result.succeed(v)

const decodeOrderData = decodeData(Schema.Struct({ order: Order }), ORDER_PATH)
const decodeOpenOrdersData = decodeData(Schema.Struct({ orders: Schema.Array(Order) }), OPEN_ORDERS_PATH)
const decodePlacedData = decodeData(Schema.Struct({ order: PlacementOrder }), ORDER_PATH)

/** `data.order` of a query or a cancel. */
export const decodeOrder = (data: unknown): Effect.Effect<ExchangeOrder, BingxMalformedAnswer> =>
  Effect.fromResult(Result.flatMap(decodeOrderData(data), (d) => orUnknown(ORDER_PATH, readOrder(d.order, "order"))))

/** `data.orders` of the open-orders list. */
export const decodeOpenOrders = (data: unknown): Effect.Effect<ReadonlyArray<ExchangeOrder>, BingxMalformedAnswer> =>
  Effect.fromResult(Result.flatMap(decodeOpenOrdersData(data), (d): Result.Result<ReadonlyArray<ExchangeOrder>, BingxMalformedAnswer> => {
    const out: Array<ExchangeOrder> = []
    for (const [i, o] of d.orders.entries()) {
      const order = orUnknown(OPEN_ORDERS_PATH, readOrder(o, `orders[${i}]`))
      if (Result.isFailure(order)) return Result.fail(order.failure)
      out.push(order.success)
    }
    return Result.succeed(out)
  }))

/** `data.order` of a placement, checked against the request it answers. */
export const decodePlacedOrder = (
  data: unknown,
  request: PlaceOrderRequest
): Effect.Effect<PlacedOrder, BingxMalformedAnswer> =>
  Effect.fromResult(Result.flatMap(decodePlacedData(data), ({ order: o }): Result.Result<PlacedOrder, BingxMalformedAnswer> => {
    const orderId = orderIdOf(o, "order")
    if (isProblem(orderId)) return Result.fail(malformed(ORDER_PATH, orderId.field, orderId.problem))
    const clientOrderId = clientOrderIdOf(o)
    const mismatch = (field: string, got: string, sent: string) =>
      Result.fail(malformed(ORDER_PATH, `order.${field}`, `is ${JSON.stringify(got)} but the order sent has ${JSON.stringify(sent)}`))
    if (o.symbol !== request.symbol) return mismatch("symbol", o.symbol, request.symbol)
    if (o.side !== request.side) return mismatch("side", o.side, request.side)
    if (clientOrderId !== undefined && clientOrderId.toLowerCase() !== request.clientOrderId.toLowerCase()) {
      return mismatch("clientOrderId", clientOrderId, request.clientOrderId)
    }
    const fee = o.commission === undefined ? undefined : feeOf(o.commission, o.executedQty, "order")
    if (isProblem(fee)) return Result.fail(malformed(ORDER_PATH, fee.field, fee.problem))
    return Result.succeed({
      orderId,
      clientOrderId: clientOrderId ?? request.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      positionSide: o.positionSide,
      status: o.status,
      quantity: o.origQty ?? o.quantity ?? request.quantity,
      executedQuantity: o.executedQty,
      averagePrice: averageOf(o.avgPrice),
      fee,
      feeAsset: "USDT",
      priceSource: "exchange",
      updatedAt: timeOf(o)
    })
  }))
