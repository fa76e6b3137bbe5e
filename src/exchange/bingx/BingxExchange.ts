/**
 * The live `Exchange` (TRADING_MODE=live) on BingX perpetual swap v2.
 *
 * - Position mode is asked once (`/openApi/swap/v1/positionSide/dual`) and cached.
 * - Margin type and leverage are cached per symbol (and side): a call that asks for what the cache
 *   already holds sends nothing; on a cache miss the current value is read first and written only
 *   when it differs. The user-data stream updates the cache on ACCOUNT_CONFIG_UPDATE.
 * - Every answer is decoded with the Schemas of `wire.ts` / `wireOrder.ts`: a missing or garbled
 *   field is an error naming the endpoint and the field, never a default. For a read that is an
 *   `ExchangeTransientError` (ask again later; never "not found"); for a placement an
 *   `ExchangeUnknownOutcome` (the order may exist: look it up by clientOrderId).
 * - Contract rules come from `/quote/contracts` (cached for an hour); an entry that cannot be read
 *   is asked for again on its own and, if still malformed, is that symbol's error only.
 * - `placeOrder` sends a MARKET order with the stable clientOrderId; `reduceOnly` only in one-way
 *   mode; stop-loss / take-profit as JSON params (STOP_MARKET / TAKE_PROFIT_MARKET on MARK_PRICE).
 *   A "clientOrderId cannot be repeated" answer (101481) means the order already exists: it is
 *   queried and returned, so a resend can never double an order.
 */
import { type BigDecimal, Clock, Context, Effect, Layer, Ref, Result } from "effect"
import type { AppConfig } from "../../config.ts"
import { plain } from "../../domain/decimal.ts"
import type { ExchangeMarginType, ExchangePositionSide, PositionMode } from "../../domain/vocabulary.ts"
import {
  type ContractRules,
  Exchange,
  ExchangeOrderNotFound,
  ExchangeRejectedError,
  type ExchangeShape,
  ExchangeTransientError,
  ExchangeUnknownOutcome,
  type OrderRef,
  type PlaceOrderRequest
} from "../Exchange.ts"
import { BingxClient, type BingxClientOptions, type BingxError, NOT_FOUND_CODES } from "./BingxClient.ts"
import { field } from "./json.ts"
import {
  type BingxMalformedAnswer,
  CONTRACTS_PATH,
  decodeBalances,
  decodeContracts,
  decodeLastPrice,
  decodeLeverage,
  decodeMarginType,
  decodeMarkPrice,
  decodePositionMode,
  decodePositions,
  decodeServerTime,
  LAST_PRICE_PATH,
  MARK_PRICE_PATH
} from "./wire.ts"
import { decodeOpenOrders, decodeOrder, decodePlacedOrder, OPEN_ORDERS_PATH, ORDER_PATH } from "./wireOrder.ts"

const CONTRACTS_TTL_MS = 60 * 60 * 1000

/** A read whose answer cannot be decoded: worth asking again later (see wire.ts). */
const readFailure = (e: BingxMalformedAnswer) =>
  new ExchangeTransientError({ message: e.message, code: undefined, retryAfterMs: undefined })

/** A placement whose success cannot be decoded: the order may exist (look it up by clientOrderId). */
const placementFailure = (e: BingxMalformedAnswer) =>
  new ExchangeUnknownOutcome({ message: `${e.message} (the order may have been placed)`, code: undefined })

const read = <A>(decode: (data: unknown) => Effect.Effect<A, BingxMalformedAnswer>) => (body: unknown) =>
  Effect.mapError(decode(field(body, "data")), readFailure)

/** 80016/109414/109421 become `ExchangeOrderNotFound`. */
const notFoundAs = (symbol: string, ref: OrderRef) =>
(e: ExchangeRejectedError): Effect.Effect<never, ExchangeRejectedError | ExchangeOrderNotFound> =>
  e.code !== undefined && NOT_FOUND_CODES.has(e.code)
    ? Effect.fail(new ExchangeOrderNotFound({ symbol, orderId: ref.orderId, clientOrderId: ref.clientOrderId }))
    : Effect.fail(e)

/** A decimal as a bare JSON number literal (exact text). */
const jsonNumber = (d: BigDecimal.BigDecimal) => plain(d)

export const protectiveJson = (kind: "STOP_MARKET" | "TAKE_PROFIT_MARKET", stopPrice: BigDecimal.BigDecimal) =>
  `{"type":"${kind}","stopPrice":${jsonNumber(stopPrice)},"workingType":"MARK_PRICE"}`

/** Live-layer internals the user-data stream shares (the same caches). */
export class BingxLive extends Context.Service<BingxLive, {
  readonly client: BingxClient["Service"]
  /** ACCOUNT_CONFIG_UPDATE: what the account now has for a symbol. */
  readonly noteConfig: (symbol: string, update: {
    readonly longLeverage?: number | undefined
    readonly shortLeverage?: number | undefined
    readonly marginType?: ExchangeMarginType | undefined
  }) => Effect.Effect<void>
}>()("tvtelegrambingx/BingxLive") {}

export const make = Effect.gen(function*() {
  const client = yield* BingxClient
  const positionModeCache = yield* Ref.make<PositionMode | undefined>(undefined)
  const marginCache = yield* Ref.make(new Map<string, ExchangeMarginType>())
  const leverageCache = yield* Ref.make(new Map<string, number>())
  const contractsCache = yield* Ref.make<
    { readonly at: number; readonly rules: Map<string, Result.Result<ContractRules, BingxMalformedAnswer>> } | undefined
  >(undefined)

  const serverTime: ExchangeShape["serverTime"] = client.request({
    method: "GET",
    path: "/openApi/swap/v2/server/time",
    signed: false
  }).pipe(
    Effect.flatMap(read(decodeServerTime)),
    Effect.map((d) => d.serverTime),
    Effect.withSpan("BingxExchange.serverTime")
  )

  const markPrice = Effect.fn("BingxExchange.markPrice")(function*(symbol: string) {
    const body = yield* client.request({ method: "GET", path: MARK_PRICE_PATH, params: { symbol }, signed: false })
    return (yield* read(decodeMarkPrice)(body)).markPrice
  })
  const lastPrice = Effect.fn("BingxExchange.lastPrice")(function*(symbol: string) {
    const body = yield* client.request({ method: "GET", path: LAST_PRICE_PATH, params: { symbol }, signed: false })
    return (yield* read(decodeLastPrice)(body)).price
  })

  const loadContracts = (symbol?: string) =>
    Effect.gen(function*() {
      const body = yield* client.request({
        method: "GET",
        path: CONTRACTS_PATH,
        params: symbol === undefined ? {} : { symbol },
        signed: false
      })
      return yield* read((d) => Effect.fromResult(decodeContracts(d)))(body)
    })

  const contract = Effect.fn("BingxExchange.contract")(function*(symbol: string) {
    const now = yield* Clock.currentTimeMillis
    let cache = yield* Ref.get(contractsCache)
    if (cache === undefined || now - cache.at > CONTRACTS_TTL_MS) {
      cache = { at: now, rules: yield* loadContracts() }
      yield* Ref.set(contractsCache, cache)
    }
    let rules = cache.rules.get(symbol)
    if (rules === undefined || Result.isFailure(rules)) {
      // Newly listed symbols, or an entry of the whole list that could not be read: ask for this one.
      const one = (yield* loadContracts(symbol)).get(symbol)
      if (one !== undefined) {
        rules = one
        if (Result.isSuccess(one)) cache.rules.set(symbol, one)
      }
    }
    if (rules === undefined) {
      return yield* new ExchangeRejectedError({
        message: `${symbol} is not a BingX perpetual contract (not in ${CONTRACTS_PATH})`,
        code: 109400
      })
    }
    if (Result.isFailure(rules)) return yield* readFailure(rules.failure)
    return rules.success
  })

  const positionMode: ExchangeShape["positionMode"] = Effect.gen(function*() {
    const cached = yield* Ref.get(positionModeCache)
    if (cached !== undefined) return cached
    const body = yield* client.request({ method: "GET", path: "/openApi/swap/v1/positionSide/dual", signed: true })
    const mode: PositionMode = yield* read(decodePositionMode)(body)
    yield* Ref.set(positionModeCache, mode)
    yield* Effect.logInfo(`BingX position mode: ${mode}`)
    return mode
  }).pipe(Effect.withSpan("BingxExchange.positionMode"))

  const setMarginType = Effect.fn("BingxExchange.setMarginType")(function*(symbol: string, marginType: ExchangeMarginType) {
    if ((yield* Ref.get(marginCache)).get(symbol) === marginType) return
    const body = yield* client.request({ method: "GET", path: "/openApi/swap/v2/trade/marginType", params: { symbol }, signed: true })
    const current = (yield* read(decodeMarginType)(body)).marginType.toUpperCase()
    if (current !== marginType) {
      yield* client.request({ method: "POST", path: "/openApi/swap/v2/trade/marginType", params: { symbol, marginType }, signed: true })
      yield* Effect.logInfo(`BingX margin type of ${symbol} set to ${marginType}`)
    }
    yield* Ref.update(marginCache, (m) => new Map(m).set(symbol, marginType))
  })

  const setLeverage = Effect.fn("BingxExchange.setLeverage")(function*(
    symbol: string,
    leverage: number,
    side: ExchangePositionSide
  ) {
    const key = `${symbol}:${side}`
    if ((yield* Ref.get(leverageCache)).get(key) === leverage) return
    const body = yield* client.request({ method: "GET", path: "/openApi/swap/v2/trade/leverage", params: { symbol }, signed: true })
    const levels = yield* read(decodeLeverage)(body)
    const current = side === "SHORT" ? levels.shortLeverage : levels.longLeverage
    if (current !== leverage) {
      yield* client.request({
        method: "POST",
        path: "/openApi/swap/v2/trade/leverage",
        params: { symbol, side, leverage },
        signed: true
      })
      yield* Effect.logInfo(`BingX leverage of ${symbol} (${side}) set to ${leverage}`)
    }
    yield* Ref.update(leverageCache, (m) => new Map(m).set(key, leverage))
  })

  const queryOrder = Effect.fn("BingxExchange.queryOrder")(function*(symbol: string, ref: OrderRef) {
    const params = ref.orderId !== undefined ? { symbol, orderId: ref.orderId } : { symbol, clientOrderId: ref.clientOrderId }
    const body = yield* client.request({ method: "GET", path: ORDER_PATH, params, signed: true }).pipe(
      Effect.catchTag("ExchangeRejectedError", notFoundAs(symbol, ref))
    )
    return yield* read(decodeOrder)(body)
  })

  const placeOrder = Effect.fn("BingxExchange.placeOrder")(function*(req: PlaceOrderRequest) {
    yield* Effect.annotateCurrentSpan({ "order.client_order_id": req.clientOrderId, "order.symbol": req.symbol })
    const params = {
      symbol: req.symbol,
      side: req.side,
      positionSide: req.positionSide,
      type: "MARKET",
      quantity: plain(req.quantity),
      clientOrderId: req.clientOrderId,
      reduceOnly: req.positionSide === "BOTH" && req.reduceOnly ? "true" : undefined,
      stopLoss: req.stopLoss === undefined ? undefined : protectiveJson("STOP_MARKET", req.stopLoss),
      takeProfit: req.takeProfit === undefined ? undefined : protectiveJson("TAKE_PROFIT_MARKET", req.takeProfit)
    }
    const result = yield* client.request({
      method: "POST",
      path: ORDER_PATH,
      params,
      signed: true,
      placesOrder: true
    }).pipe(Effect.result)
    if (result._tag === "Failure") {
      const e = result.failure
      if (e._tag === "ExchangeRejectedError" && e.code === 109400 && /one-way mode|hedge mode/i.test(e.message)) {
        // The account's position mode was changed behind our back: ask again next time.
        yield* Ref.set(positionModeCache, undefined)
        yield* Effect.logWarning(`BingX refused the position side (${e.message}); the position mode will be read again`)
      }
      if (e._tag === "ExchangeRejectedError" && e.code === 101481) {
        // Already placed under this clientOrderId (a resend after a lost answer): that is our order.
        yield* Effect.logWarning(`clientOrderId ${req.clientOrderId} already exists at BingX: using that order`)
        return yield* queryOrder(req.symbol, { clientOrderId: req.clientOrderId }).pipe(
          Effect.catchTag("ExchangeOrderNotFound", () => Effect.fail(e))
        )
      }
      return yield* Effect.fail(e)
    }
    return yield* decodePlacedOrder(field(result.success, "data"), req).pipe(Effect.mapError(placementFailure))
  })

  const cancelOrder = Effect.fn("BingxExchange.cancelOrder")(function*(symbol: string, ref: OrderRef) {
    const params = ref.orderId !== undefined ? { symbol, orderId: ref.orderId } : { symbol, clientOrderId: ref.clientOrderId }
    const body = yield* client.request({ method: "DELETE", path: ORDER_PATH, params, signed: true }).pipe(
      Effect.catchTag("ExchangeRejectedError", notFoundAs(symbol, ref))
    )
    return yield* read(decodeOrder)(body)
  })

  const openOrders = Effect.fn("BingxExchange.openOrders")(function*(symbol?: string) {
    const body = yield* client.request({
      method: "GET",
      path: OPEN_ORDERS_PATH,
      params: symbol === undefined ? {} : { symbol },
      signed: true
    })
    return yield* read(decodeOpenOrders)(body)
  })

  const positions = Effect.fn("BingxExchange.positions")(function*(symbol?: string) {
    const body = yield* client.request({
      method: "GET",
      path: "/openApi/swap/v2/user/positions",
      params: symbol === undefined ? {} : { symbol },
      signed: true
    })
    return yield* read(decodePositions)(body)
  })

  const balances: ExchangeShape["balances"] = client.request({
    method: "GET",
    path: "/openApi/swap/v2/user/balance",
    signed: true
  }).pipe(Effect.flatMap(read(decodeBalances)), Effect.withSpan("BingxExchange.balances"))

  const exchange: ExchangeShape = {
    name: "bingx",
    serverTime,
    markPrice,
    lastPrice,
    contract,
    positionMode,
    setMarginType,
    setLeverage,
    placeOrder,
    queryOrder,
    cancelOrder,
    openOrders,
    positions,
    balances
  }

  const live = BingxLive.of({
    client,
    noteConfig: (symbol, update) =>
      Effect.gen(function*() {
        if (update.marginType !== undefined) yield* Ref.update(marginCache, (m) => new Map(m).set(symbol, update.marginType!))
        const mode = yield* Ref.get(positionModeCache)
        yield* Ref.update(leverageCache, (m) => {
          const next = new Map(m)
          if (mode === "hedge") {
            if (update.longLeverage !== undefined) next.set(`${symbol}:LONG`, update.longLeverage)
            if (update.shortLeverage !== undefined) next.set(`${symbol}:SHORT`, update.shortLeverage)
          } else if (update.longLeverage !== undefined) {
            next.set(`${symbol}:BOTH`, update.longLeverage)
          }
          return next
        })
      })
  })
  return { exchange, live }
})

export type { BingxError }

/** Exchange + BingxLive, on BingxClient. */
export const layerNoDeps: Layer.Layer<Exchange | BingxLive, never, BingxClient> = Layer.effectContext(
  Effect.map(make, ({ exchange, live }) => Context.make(Exchange, Exchange.of(exchange)).pipe(Context.add(BingxLive, live)))
)

/**
 * The HTTP client of the live exchange: undici's dispatcher directly (keep-alive pool), not the
 * WHATWG `fetch` wrapper around it, which costs about 0.1 ms more CPU per call on the order path.
 * Loaded only when live trading is configured.
 */
const layerHttpClient = Layer.unwrap(
  Effect.map(Effect.promise(() => import("@effect/platform-node/NodeHttpClient")), (m) => m.layerUndici)
)

/** The live exchange with its REST client. Needs AppConfig. */
export const layer = (options: BingxClientOptions = {}): Layer.Layer<Exchange | BingxLive | BingxClient, never, AppConfig> =>
  layerNoDeps.pipe(
    Layer.provideMerge(BingxClient.layerNoDeps(options)),
    Layer.provide(layerHttpClient)
  )
