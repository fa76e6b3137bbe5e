/**
 * The BingX answers this service relies on, declared once as Schemas. Each decodes the `data` of
 * one endpoint's answer — as the lossless JSON reader left it: every number token is its exact
 * text — into the records of `Exchange.ts` (BigDecimal, Date, the vocabulary's literals).
 *
 * Invariants:
 * - A field we rely on that is missing, empty or garbled is a `BingxMalformedAnswer` naming the
 *   endpoint and the field ("BingX /openApi/swap/v2/trade/order answer: order.orderId is
 *   missing"). Nothing is defaulted: an unknown side or status is an error (never BUY or new), a
 *   missing id is never "", a missing time is never "now".
 * - Ids stay exact digit strings; decimals go through the domain's one decimal rule, never a float.
 * - BingX's `commission` (negative = paid) becomes `fee` (positive = paid) by exact negation.
 * - One contract-rules parser, shared by the live exchange and the paper exchange's public market.
 * - What a caller makes of a malformed answer: for a placement it is an `ExchangeUnknownOutcome`
 *   (the order may exist: the caller looks it up by clientOrderId); for a read it is an
 *   `ExchangeTransientError`. Reads are idempotent and worth asking again; every consumer already
 *   asks again later on a transient error and never takes it for "not found"; and the breaker
 *   counts it, so an exchange that keeps answering in a shape we cannot read pauses trading
 *   instead of being traded blind. A new error kind would have to be taught to each consumer
 *   (the order actor, the breaker, PnL), and one that was not would fall through.
 */
import { BigDecimal, Data, Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { parse, plain } from "../../domain/decimal.ts"
import { ExchangeOrderStatus, ExchangePositionSide, ExchangeSide, type PositionMode } from "../../domain/vocabulary.ts"
import type { ContractRules, ExchangeBalance, ExchangePosition } from "../Exchange.ts"

/** A BingX answer (or stream event) that lacks or garbles a field we rely on. */
export class BingxMalformedAnswer extends Data.TaggedError("BingxMalformedAnswer")<{
  /** The endpoint's path, or the stream event's name ("ORDER_TRADE_UPDATE event"). */
  readonly endpoint: string
  /** The field's path inside the answer's `data` ("order.orderId", "[2].positionSide"). */
  readonly field: string
  readonly message: string
}> {}

// ------------------------------------------------------------------------------------------------
// Field schemas (the JSON reader gives numbers as their exact text)
// ------------------------------------------------------------------------------------------------

const fromText = <T>(to: Schema.Codec<T, T>, expected: string, read: (s: string) => T | undefined, write: (t: T) => string) =>
  Schema.String.pipe(Schema.decodeTo(
    to,
    SchemaTransformation.transformEffect<T, string>({
      decode: (s) => {
        const value = read(s)
        return value === undefined ? Effect.fail(new SchemaIssue.InvalidValue({ expected }, s)) : Effect.succeed(value)
      },
      encode: (t) => Effect.succeed(write(t))
    })
  ))

const DIGITS = /^\d+$/

/** Decimal text → BigDecimal ("" and anything not a number are refused). */
export const Decimal = fromText(Schema.BigDecimal, "a decimal number", parse, plain)

/** A decimal that must be above zero (prices). */
export const PositiveDecimal = fromText(
  Schema.BigDecimal,
  "a decimal number above zero",
  (s) => {
    const d = parse(s)
    return d !== undefined && BigDecimal.isPositive(d) ? d : undefined
  },
  plain
)

/** A decimal, or "" where BingX leaves a value empty (no average price yet). */
export const DecimalOrEmpty = Schema.Union([Schema.Literal(""), Decimal])

/** A whole number (precisions, leverages, epoch milliseconds). */
export const Int = fromText(
  Schema.Number,
  "a whole number",
  (s) => (DIGITS.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined),
  String
)

/** An exchange id: digits, kept as the exact text (BingX ids exceed 2^53). */
export const Id = fromText(Schema.String, "an id of digits", (s) => (DIGITS.test(s) ? s : undefined), (s) => s)

/** A non-empty text (symbols, assets). */
export const Text = fromText(Schema.String, "a non-empty text", (s) => (s.trim() === "" ? undefined : s), (s) => s)

/** `true`/`false`, as JSON booleans or as the strings BingX often sends. */
export const Flag = Schema.Union([Schema.Boolean, Schema.Literals(["true", "false"])]).pipe(
  Schema.decodeTo(Schema.Boolean, SchemaTransformation.transform({ decode: (v) => v === true || v === "true", encode: (b) => b }))
)

/** BingX order statuses, in our words (PENDING and WORKING are orders not yet executed). */
const STATUSES: Readonly<Record<string, ExchangeOrderStatus>> = {
  NEW: "new",
  PENDING: "new",
  WORKING: "new",
  PARTIALLY_FILLED: "partially_filled",
  FILLED: "filled",
  CANCELED: "cancelled",
  CANCELLED: "cancelled",
  FAILED: "failed",
  EXPIRED: "expired"
}

const WIRE_STATUS = {
  new: "NEW",
  partially_filled: "PARTIALLY_FILLED",
  filled: "FILLED",
  cancelled: "CANCELLED",
  failed: "FAILED",
  expired: "EXPIRED"
} as const satisfies Record<ExchangeOrderStatus, string>

export const Status = Schema.Literals(
  ["NEW", "PENDING", "WORKING", "PARTIALLY_FILLED", "FILLED", "CANCELED", "CANCELLED", "FAILED", "EXPIRED"]
).pipe(Schema.decodeTo(
  ExchangeOrderStatus,
  SchemaTransformation.transform({
    decode: (s) => STATUSES[s]!,
    encode: (s) => WIRE_STATUS[s]
  })
))

// ------------------------------------------------------------------------------------------------
// Decoding and messages
// ------------------------------------------------------------------------------------------------

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** "order.orderId", "[2].side", "data" for the root. */
export const fieldPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "data"
    : path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("")

const at = (value: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>(
    (v, k) => (typeof v === "object" && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    value
  )

const show = (v: unknown): string => (v === undefined ? "undefined" : JSON.stringify(v))

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1)

/** A problem found after decoding (a field that must be there in this answer, a mismatch). */
export const malformed = (endpoint: string, field: string, problem: string) =>
  new BingxMalformedAnswer({
    endpoint,
    field,
    message: `BingX ${endpoint}${endpoint.startsWith("/") ? " answer" : ""}: ${field} ${problem}`
  })

/** Decodes `data` with `schema`; a failure names the endpoint, the field and what is wrong with it. */
export const decodeData = <S extends Schema.Decoder<unknown>>(schema: S, endpoint: string) => {
  const decode = Schema.decodeUnknownResult(schema as Schema.Decoder<S["Type"]>)
  return (data: unknown, prefix: ReadonlyArray<PropertyKey> = []): Result.Result<S["Type"], BingxMalformedAnswer> =>
    Result.mapError(decode(data), (error) => {
      const first = formatter(error.issue).issues[0]
      const path = (first?.path ?? []).map((k) => (typeof k === "object" ? k.key : k))
      const value = at(data, path)
      const field = fieldPath([...prefix, ...path])
      const problem = first === undefined
        ? "cannot be read"
        : value === undefined
        ? "is missing"
        : `is ${show(value)}: ${lowerFirst(first.message)}`
      return malformed(endpoint, field, problem)
    })
}

/** `decodeData` as an Effect. */
export const decodeDataEffect = <S extends Schema.Decoder<unknown>>(schema: S, endpoint: string) => {
  const decode = decodeData(schema, endpoint)
  return (data: unknown): Effect.Effect<S["Type"], BingxMalformedAnswer> => Effect.fromResult(decode(data))
}

// ------------------------------------------------------------------------------------------------
// Contracts (live and paper)
// ------------------------------------------------------------------------------------------------

export const CONTRACTS_PATH = "/openApi/swap/v2/quote/contracts"

export const Contract = Schema.Struct({
  symbol: Text,
  quantityPrecision: Int,
  pricePrecision: Int,
  tradeMinQuantity: Decimal,
  tradeMinUSDT: Decimal,
  /** Not in BingX's documented contract list (some answers carry it). */
  maxLongLeverage: Schema.optionalKey(Int),
  maxShortLeverage: Schema.optionalKey(Int),
  /** 1 online; 25 opening forbidden; 5 pre-online; 0 offline. */
  status: Int,
  apiStateOpen: Flag,
  apiStateClose: Flag
})

const toContractRules = (c: typeof Contract.Type): ContractRules => ({
  symbol: c.symbol,
  quantityPrecision: c.quantityPrecision,
  pricePrecision: c.pricePrecision,
  minQuantity: c.tradeMinQuantity,
  minNotional: c.tradeMinUSDT,
  maxLongLeverage: c.maxLongLeverage,
  maxShortLeverage: c.maxShortLeverage,
  tradable: c.status === 1 && c.apiStateOpen && c.apiStateClose
})

const decodeContract = decodeData(Contract, CONTRACTS_PATH)
const decodeContractList = decodeData(Schema.Array(Schema.Unknown), CONTRACTS_PATH)

/**
 * The contracts of a `/quote/contracts` answer, by symbol: each one's rules, or why they cannot be
 * read. An entry whose symbol cannot be read is attributed to no symbol (asking for that symbol
 * alone then names its problem).
 */
export const decodeContracts = (
  data: unknown
): Result.Result<Map<string, Result.Result<ContractRules, BingxMalformedAnswer>>, BingxMalformedAnswer> =>
  Result.map(decodeContractList(data), (list) => {
    const out = new Map<string, Result.Result<ContractRules, BingxMalformedAnswer>>()
    list.forEach((entry, i) => {
      const decoded = decodeContract(entry, [i])
      if (Result.isSuccess(decoded)) out.set(decoded.success.symbol, Result.succeed(toContractRules(decoded.success)))
      else {
        const symbol = at(entry, ["symbol"])
        if (typeof symbol === "string" && symbol !== "" && !out.has(symbol)) out.set(symbol, Result.fail(decoded.failure))
      }
    })
    return out
  })

/** The rules of `symbol` in a `/quote/contracts?symbol=` answer; undefined when it lists no such symbol. */
export const contractOf = (
  data: unknown,
  symbol: string
): Result.Result<ContractRules | undefined, BingxMalformedAnswer> =>
  Result.flatMap(decodeContracts(data), (all) => {
    const found = all.get(symbol)
    return found === undefined ? Result.succeed(undefined) : found
  })

// ------------------------------------------------------------------------------------------------
// Prices, server time, account settings
// ------------------------------------------------------------------------------------------------

export const LAST_PRICE_PATH = "/openApi/swap/v2/quote/price"
export const MARK_PRICE_PATH = "/openApi/swap/v2/quote/premiumIndex"

const LastPrice = Schema.Struct({ price: PositiveDecimal })
export const decodeLastPrice = decodeDataEffect(LastPrice, LAST_PRICE_PATH)
export const decodeLastPriceResult = decodeData(LastPrice, LAST_PRICE_PATH)
export const decodeMarkPrice = decodeDataEffect(Schema.Struct({ markPrice: PositiveDecimal }), MARK_PRICE_PATH)
export const decodeServerTime = decodeDataEffect(Schema.Struct({ serverTime: Int }), "/openApi/swap/v2/server/time")

export const decodePositionMode = (data: unknown): Effect.Effect<PositionMode, BingxMalformedAnswer> =>
  Effect.map(
    decodeDataEffect(Schema.Struct({ dualSidePosition: Flag }), "/openApi/swap/v1/positionSide/dual")(data),
    (d): PositionMode => (d.dualSidePosition ? "hedge" : "one_way")
  )

export const decodeMarginType = decodeDataEffect(Schema.Struct({ marginType: Text }), "/openApi/swap/v2/trade/marginType")
export const decodeLeverage = decodeDataEffect(
  Schema.Struct({ longLeverage: Int, shortLeverage: Int }),
  "/openApi/swap/v2/trade/leverage"
)

// ------------------------------------------------------------------------------------------------
// Positions and balances
// ------------------------------------------------------------------------------------------------

export const POSITIONS_PATH = "/openApi/swap/v2/user/positions"
export const BALANCE_PATH = "/openApi/swap/v2/user/balance"

export const Position = Schema.Struct({
  symbol: Text,
  positionSide: ExchangePositionSide,
  positionAmt: Decimal,
  avgPrice: Decimal,
  markPrice: Schema.optionalKey(Decimal),
  unrealizedProfit: Schema.optionalKey(Decimal),
  leverage: Schema.optionalKey(Int)
})

const decodePositionList = decodeDataEffect(Schema.Array(Position), POSITIONS_PATH)

/** Open positions (flat rows are left out); a BOTH row's side is the sign of its amount. */
export const decodePositions = (data: unknown): Effect.Effect<ReadonlyArray<ExchangePosition>, BingxMalformedAnswer> =>
  Effect.map(decodePositionList(data), (rows) =>
    rows.filter((p) => !BigDecimal.isZero(p.positionAmt)).map((p): ExchangePosition => ({
      symbol: p.symbol,
      side: p.positionSide === "LONG"
        ? "long"
        : p.positionSide === "SHORT"
        ? "short"
        : BigDecimal.isNegative(p.positionAmt)
        ? "short"
        : "long",
      quantity: BigDecimal.abs(p.positionAmt),
      entryPrice: p.avgPrice,
      markPrice: p.markPrice,
      unrealisedPnl: p.unrealizedProfit,
      leverage: p.leverage
    })))

export const Balance = Schema.Struct({
  asset: Text,
  balance: Decimal,
  equity: Decimal,
  availableMargin: Decimal,
  unrealizedProfit: Decimal
})

const decodeBalanceObject = decodeData(Schema.Struct({ balance: Balance }), BALANCE_PATH)
const decodeBalanceArray = decodeData(Schema.Array(Balance), BALANCE_PATH)

/** `data.balance` (v2: one object) or `data` as an array (v3). */
export const decodeBalances = (data: unknown): Effect.Effect<ReadonlyArray<ExchangeBalance>, BingxMalformedAnswer> =>
  Effect.fromResult(Result.map(
    Array.isArray(data) ? decodeBalanceArray(data) : Result.map(decodeBalanceObject(data), (d) => [d.balance]),
    (rows) =>
      rows.map((b): ExchangeBalance => ({
        asset: b.asset,
        balance: b.balance,
        equity: b.equity,
        available: b.availableMargin,
        unrealisedPnl: b.unrealizedProfit
      }))
  ))
