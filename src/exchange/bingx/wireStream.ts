/**
 * BingX user-data stream events as Schemas (the field schemas and messages of `wire.ts`):
 * ORDER_TRADE_UPDATE, ACCOUNT_UPDATE and ACCOUNT_CONFIG_UPDATE.
 *
 * Invariants:
 * - An event missing (or garbling) a field we rely on is a `BingxMalformedAnswer` naming the
 *   event and the field ("BingX ORDER_TRADE_UPDATE event: o.X is \"DONE\": …"); the stream logs it
 *   and drops the event. Nothing is defaulted: no side, status, symbol, id or time is made up.
 * - An order event needs its symbol, id, side, type, status and position side; a filled
 *   STOP / TAKE_PROFIT order (a protective fill) also its filled quantity (`z`), average price
 *   (`ap`), fee (`n`, negative = paid → `fee` positive = paid, exactly), fee asset (`N`) and a time
 *   (`T`, else the event time `E`).
 */
import { BigDecimal, Effect, Result, Schema } from "effect"
import { ExchangeMarginType, ExchangePositionSide, ExchangeSide, MarginMode } from "../../domain/vocabulary.ts"
import type { ExchangeEvent } from "../ExchangeEvents.ts"
import { type BingxMalformedAnswer, Decimal, decodeData, Id, Int, malformed, PositiveDecimal, Status, Text } from "./wire.ts"

const ORDER_EVENT = "ORDER_TRADE_UPDATE event"
const ACCOUNT_EVENT = "ACCOUNT_UPDATE event"
const CONFIG_EVENT = "ACCOUNT_CONFIG_UPDATE event"

export const OrderTradeUpdate = Schema.Struct({
  E: Schema.optionalKey(Int),
  o: Schema.Struct({
    s: Text,
    i: Id,
    c: Schema.optionalKey(Schema.NullOr(Schema.String)),
    S: ExchangeSide,
    o: Text,
    X: Status,
    ps: ExchangePositionSide
  })
})

/** What a protective fill adds to an order event. */
export const ProtectiveFillFields = Schema.Struct({
  o: Schema.Struct({
    z: PositiveDecimal,
    ap: PositiveDecimal,
    n: Decimal,
    N: Text,
    T: Schema.optionalKey(Int)
  })
})

const decodeOrderEvent = decodeData(OrderTradeUpdate, ORDER_EVENT)
const decodeFillFields = decodeData(ProtectiveFillFields, ORDER_EVENT)

const protectiveKind = (orderType: string): "stop_loss" | "take_profit" | undefined => {
  const t = orderType.toUpperCase()
  return t.startsWith("STOP") ? "stop_loss" : t.startsWith("TAKE_PROFIT") ? "take_profit" : undefined
}

/** An ORDER_TRADE_UPDATE → the event to publish. */
export const decodeOrderTradeUpdate = (message: unknown): Effect.Effect<ExchangeEvent, BingxMalformedAnswer> =>
  Effect.fromResult(Result.flatMap(decodeOrderEvent(message), ({ E, o }): Result.Result<ExchangeEvent, BingxMalformedAnswer> => {
    const kind = protectiveKind(o.o)
    if (kind === undefined || o.X !== "filled") {
      const clientOrderId = o.c === undefined || o.c === null || o.c === "" ? undefined : o.c
      return Result.succeed({ _tag: "OrderChanged", symbol: o.s, orderId: o.i, clientOrderId, status: o.X })
    }
    return Result.flatMap(decodeFillFields(message), ({ o: f }): Result.Result<ExchangeEvent, BingxMalformedAnswer> => {
      const time = f.T !== undefined && f.T > 0 ? f.T : E !== undefined && E > 0 ? E : undefined
      if (time === undefined) return Result.fail(malformed(ORDER_EVENT, "o.T", "is missing or 0 (and so is E)"))
      return Result.succeed({
        _tag: "ProtectiveFill",
        kind,
        symbol: o.s,
        exchangeOrderId: o.i,
        parentClientOrderId: undefined,
        side: o.S,
        positionSide: o.ps,
        quantity: f.z,
        price: f.ap,
        fee: BigDecimal.negate(f.n),
        feeAsset: f.N,
        filledAt: new Date(time)
      })
    })
  }))

export const AccountUpdate = Schema.Struct({
  a: Schema.Struct({
    m: Text,
    B: Schema.Array(Schema.Struct({ a: Text, wb: Decimal, cw: Decimal })),
    P: Schema.optionalKey(Schema.Array(Schema.Struct({
      s: Text,
      pa: Decimal,
      ep: Decimal,
      up: Decimal,
      ps: ExchangePositionSide
    })))
  })
})

const decodeAccountEvent = decodeData(AccountUpdate, ACCOUNT_EVENT)

/** An ACCOUNT_UPDATE, as one log line ("ORDER: USDT 5277.59; BTC-USDT LONG 0.01 @ 65000"). */
export const decodeAccountUpdate = (message: unknown): Effect.Effect<string, BingxMalformedAnswer> =>
  Effect.fromResult(Result.map(decodeAccountEvent(message), ({ a }) => {
    const balances = a.B.map((b) => `${b.a} ${BigDecimal.format(b.wb)}`)
    const positions = (a.P ?? []).map((p) => `${p.s} ${p.ps} ${BigDecimal.format(p.pa)} @ ${BigDecimal.format(p.ep)}`)
    return `${a.m}: ${[...balances, ...positions].join("; ") || "no change"}`
  }))

export const AccountConfigUpdate = Schema.Struct({
  ac: Schema.Struct({
    s: Text,
    l: Schema.optionalKey(Int),
    S: Schema.optionalKey(Int),
    /** BingX writes "isolated" / "cross"; the REST spelling is accepted too. */
    mt: Schema.optionalKey(Schema.Union([MarginMode, ExchangeMarginType]))
  })
})

const decodeConfigEvent = decodeData(AccountConfigUpdate, CONFIG_EVENT)

/** An ACCOUNT_CONFIG_UPDATE → what the account now has for a symbol. */
export const decodeAccountConfigUpdate = (message: unknown): Effect.Effect<{
  readonly symbol: string
  readonly longLeverage: number | undefined
  readonly shortLeverage: number | undefined
  readonly marginType: ExchangeMarginType | undefined
}, BingxMalformedAnswer> =>
  Effect.fromResult(Result.map(decodeConfigEvent(message), ({ ac }) => ({
    symbol: ac.s,
    longLeverage: ac.l,
    shortLeverage: ac.S,
    marginType: ac.mt === undefined ? undefined : ac.mt === "cross" || ac.mt === "CROSSED" ? "CROSSED" as const : "ISOLATED" as const
  })))
