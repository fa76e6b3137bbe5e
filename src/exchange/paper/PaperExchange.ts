/**
 * The paper exchange (TRADING_MODE=paper, the default): the `Exchange` interface over a simulated
 * account kept in the database (`paper_*` tables), so it survives restarts and the balance shown to
 * users is the paper ledger's.
 *
 * - MARKET orders fill at once, at the price `PaperMarket.forFill` decides: BingX's live public price
 *   (`price_source` exchange), else — only with PAPER_PRICE_FALLBACK=alert — the signal's price
 *   (`priceHint`, `price_source` alert, a warning per fill); otherwise the order is refused with
 *   `PriceUnavailable` (the actor records it as rejected with that reason). Every paper order row
 *   keeps its price source. A symbol the readable contract list does not have is refused (109400).
 * - A repeated clientOrderId answers the stored order before any price is read.
 * - Positions follow the exact ledger (`domain/ledger.ts`): one-way (net, with flips) or hedge
 *   (separate long/short legs), per PAPER_POSITION_MODE. Closing more than is open closes what is
 *   open; closing nothing is refused (101205), as BingX does.
 * - Taker fee PAPER_TAKER_FEE_RATE (default 0.0005 = 0.05 %, BingX's standard perpetual taker
 *   rate) on the notional of every fill, paid from the wallet; realised PnL goes to the wallet.
 * - Margin: after an opening fill the wallet must still cover the initial margin (cost / leverage)
 *   of every open position, else the order is refused (101204), before anything changes.
 * - Attached stop-loss / take-profit become triggers for the quantity the entry opened; every
 *   PAPER_PRICE_REFRESH_SECONDS the live price is read for symbols with active triggers and a
 *   crossed trigger closes that quantity (at most what is still open) at that price; the other
 *   trigger of the same entry is cancelled, and a position that goes flat cancels the rest. Each
 *   such fill is published as `ExchangeEvents.ProtectiveFill`.
 * - The account starts with PAPER_BALANCE_USDT (default 10000) the first time; later starts keep
 *   the stored account.
 * - Ids: paper order ids come from a sequence above 2^53 (strings everywhere).
 * The book's statements are in `PaperBook.ts`, the price and contract decisions in `PaperMarket.ts`,
 * arming and firing the triggers in `PaperTriggers.ts`.
 */
import { BigDecimal, Context, Effect, Layer, Schedule, Semaphore } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { AppConfig } from "../../config.ts"
import { divide, parseUnsafe, plain, ZERO } from "../../domain/decimal.ts"
import { applyToLeg, applyToNet, FLAT, FLAT_NET, isFlat, type Leg, type NetPosition, opens, unrealised } from "../../domain/ledger.ts"
import {
  type ExchangeMarginType,
  type ExchangePositionSide,
  PositionSide,
  type PriceSource
} from "../../domain/vocabulary.ts"
import {
  Exchange,
  type ExchangeBalance,
  type ExchangeOrder,
  ExchangeOrderNotFound,
  type ExchangePosition,
  type ExchangeRejectedError,
  type ExchangeShape,
  ExchangeTransientError,
  ExchangeUnknownOutcome,
  type OrderRef,
  type PlaceOrderRequest,
  PriceUnavailable
} from "../Exchange.ts"
import { ExchangeEvents } from "../ExchangeEvents.ts"
import { type LegRow, makePaperBook } from "./PaperBook.ts"
import { makePaperMarket, rejected } from "./PaperMarket.ts"
import { makePaperTriggers } from "./PaperTriggers.ts"
import { PublicMarket } from "./PublicMarket.ts"

export interface PaperExchangeShape {
  /** Fires the active SL/TP triggers of `symbol` crossed by `price` (the live price when omitted). */
  readonly checkTriggers: (symbol: string, price?: BigDecimal.BigDecimal) => Effect.Effect<number, SqlError>
  /** One price refresh over every symbol with active triggers. */
  readonly refresh: Effect.Effect<void>
}

export class PaperExchange extends Context.Service<PaperExchange, PaperExchangeShape>()("tvtelegrambingx/PaperExchange") {}

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const sql = yield* SqlClient.SqlClient
  const market = yield* PublicMarket
  const events = yield* ExchangeEvents
  const feeRate = parseUnsafe(config.paper.feeRate)
  const mode = config.paper.positionMode
  const lock = yield* Semaphore.make(1)
  const prices = yield* makePaperMarket(market, config)

  yield* sql`INSERT INTO paper_account (asset, wallet_balance, initial_balance)
    VALUES ('USDT', ${config.paper.balanceUsdt}::numeric, ${config.paper.balanceUsdt}::numeric)
    ON CONFLICT (asset) DO NOTHING`

  const dbTransient = (e: SqlError) =>
    new ExchangeTransientError({ message: `paper exchange database error: ${e.message}`, code: undefined, retryAfterMs: undefined })

  /** The live price when BingX answers, else the last one seen (live or filled at); with neither, why. */
  const markOf = (symbol: string) =>
    Effect.catch(prices.live(symbol), (e) => {
      const seen = prices.lastSeen(symbol)
      return seen !== undefined
        ? Effect.succeed(seen)
        : Effect.fail(new PriceUnavailable({ symbol, message: `no price for ${symbol}: the BingX public API (BINGX_BASE_URL=${market.baseUrl}) ${e.reason}` }))
    })

  const currentPrice = (symbol: string) => Effect.orElseSucceed(markOf(symbol), () => undefined)

  const book = makePaperBook(sql, config.trading.defaultLeverage)
  const { readLegs, leverageFor, writeLeg, wallet, usedMargin, nextOrderId, insertOrder, bookWallet, cancelTriggers, findOrder } = book
  const triggers = makePaperTriggers(sql, book, feeRate, mode)

  /** Everything of one MARKET order, in one transaction. */
  const fillMarket = (req: PlaceOrderRequest, price: BigDecimal.BigDecimal, priceSource: PriceSource) =>
    Effect.gen(function*() {
      const existing = yield* findOrder({ clientOrderId: req.clientOrderId })
      if (existing !== undefined) return existing
      if (mode === "one_way" && req.positionSide !== "BOTH") {
        return yield* Effect.fail(rejected(109400, "In the One-way mode, the 'PositionSide' field can only be set to BOTH"))
      }
      if (mode === "hedge" && req.positionSide === "BOTH") {
        return yield* Effect.fail(rejected(109400, "In the Hedge mode, the 'PositionSide' field can only be set to LONG or SHORT"))
      }
      if (!BigDecimal.isPositive(req.quantity)) return yield* Effect.fail(rejected(109400, "quantity must be positive"))
      const action = req.side === "BUY" ? "buy" as const : "sell" as const
      const { legs, leverage } = yield* readLegs(req.symbol)
      const orderLeverage = yield* leverageFor(req.symbol, req.positionSide)
      let quantity = req.quantity
      let realised = ZERO
      let opened = ZERO
      let openedSide: PositionSide | undefined
      const next: Record<PositionSide, Leg> = { ...legs }
      const nextLeverage = { ...leverage }

      if (req.positionSide === "BOTH") {
        const net: NetPosition = !isFlat(legs.long)
          ? { side: "long", leg: legs.long }
          : !isFlat(legs.short)
          ? { side: "short", leg: legs.short }
          : FLAT_NET
        if (req.reduceOnly) {
          if (net.side === undefined || opens(net.side, action)) {
            return yield* Effect.fail(rejected(101205, `no ${req.symbol} position to reduce`))
          }
          quantity = BigDecimal.min(quantity, net.leg.quantity)
        }
        const result = applyToNet(net, action, quantity, price)
        realised = result.realised
        opened = result.opened
        next.long = result.position.side === "long" ? result.position.leg : FLAT
        next.short = result.position.side === "short" ? result.position.leg : FLAT
        if (BigDecimal.isPositive(opened) && result.position.side !== undefined) {
          openedSide = result.position.side
          nextLeverage[openedSide] = orderLeverage
        }
      } else {
        const side: PositionSide = req.positionSide === "LONG" ? "long" : "short"
        if (!opens(side, action)) {
          if (isFlat(legs[side])) return yield* Effect.fail(rejected(101205, `no ${req.symbol} ${side} position to close`))
          quantity = BigDecimal.min(quantity, legs[side].quantity)
        }
        const result = applyToLeg(side, legs[side], action, quantity, price)
        realised = result.realised
        opened = result.opened
        next[side] = result.leg
        if (BigDecimal.isPositive(opened)) {
          openedSide = side
          nextLeverage[side] = orderLeverage
        }
      }

      const fee = BigDecimal.multiply(BigDecimal.multiply(quantity, price), feeRate)
      if (openedSide !== undefined) {
        const walletAfter = BigDecimal.subtract(BigDecimal.sum(yield* wallet, realised), fee)
        const needed = usedMargin(next, nextLeverage)
        if (BigDecimal.isLessThan(walletAfter, needed)) {
          return yield* Effect.fail(rejected(
            101204,
            `insufficient margin: the positions would need ${plain(divide(needed, BigDecimal.fromBigInt(1n), 8))} USDT, ` +
              `the wallet would hold ${plain(divide(walletAfter, BigDecimal.fromBigInt(1n), 8))} USDT`
          ))
        }
        // Attached SL/TP must sit on the right side of the fill price.
        const long = openedSide === "long"
        if (req.stopLoss !== undefined &&
          (long ? !BigDecimal.isLessThan(req.stopLoss, price) : !BigDecimal.isGreaterThan(req.stopLoss, price))) {
          return yield* Effect.fail(rejected(110411, `stop-loss ${plain(req.stopLoss)} is not ${long ? "below" : "above"} the price ${plain(price)}`))
        }
        if (req.takeProfit !== undefined &&
          (long ? !BigDecimal.isGreaterThan(req.takeProfit, price) : !BigDecimal.isLessThan(req.takeProfit, price))) {
          return yield* Effect.fail(rejected(110412, `take-profit ${plain(req.takeProfit)} is not ${long ? "above" : "below"} the price ${plain(price)}`))
        }
      }

      for (const side of PositionSide.literals) {
        if (next[side] !== legs[side] || nextLeverage[side] !== leverage[side]) {
          yield* writeLeg(req.symbol, side, next[side], nextLeverage[side])
          if (isFlat(next[side]) && !isFlat(legs[side])) yield* cancelTriggers(req.symbol, side)
        }
      }
      yield* bookWallet(realised, fee)
      const order = yield* insertOrder({
        orderId: yield* nextOrderId,
        clientOrderId: req.clientOrderId,
        symbol: req.symbol,
        side: req.side,
        positionSide: req.positionSide,
        kind: "market",
        reduceOnly: req.reduceOnly,
        quantity: req.quantity,
        executed: quantity,
        price,
        fee,
        realised,
        parent: null,
        priceSource
      })
      if (openedSide !== undefined) yield* triggers.arm(req, openedSide, opened)
      return order
    })

  const placeOrder = Effect.fn("PaperExchange.placeOrder")(function*(req: PlaceOrderRequest) {
    yield* Effect.annotateCurrentSpan({ "order.client_order_id": req.clientOrderId, "order.symbol": req.symbol })
    const unknownOutcome = (e: SqlError) =>
      new ExchangeUnknownOutcome({ message: `paper exchange database error: ${e.message}`, code: undefined })
    // A resend after an unknown outcome is answered from the book, whatever the market does now.
    const existing = yield* Effect.mapError(findOrder({ clientOrderId: req.clientOrderId }), unknownOutcome)
    if (existing !== undefined) return existing
    yield* prices.contract(req.symbol)
    const fill = yield* prices.forFill(req)
    yield* Effect.annotateCurrentSpan({ "paper.price_source": fill.source })
    const order = yield* lock.withPermits(1)(sql.withTransaction(fillMarket(req, fill.price, fill.source))).pipe(
      Effect.catchTag("SqlError", (e) => Effect.fail(unknownOutcome(e)))
    )
    yield* prices.filledAt(req.symbol, fill.price)
    if (fill.source === "alert") {
      yield* Effect.logWarning(
        `paper order ${req.clientOrderId} ${req.symbol} filled at the alert's price ${plain(fill.price)}, not a market price: ` +
          `${fill.unavailable}; PAPER_PRICE_FALLBACK=alert`
      )
    }
    return order
  })

  const checkTriggers = Effect.fn("PaperExchange.checkTriggers")(function*(symbol: string, given?: BigDecimal.BigDecimal) {
    // Triggers fire on market prices only (never on a price some fill was booked at).
    const price = given ?? (yield* Effect.orElseSucceed(prices.live(symbol), () => undefined))
    if (price === undefined) return 0
    yield* prices.filledAt(symbol, price)
    const published = yield* lock.withPermits(1)(sql.withTransaction(triggers.fire(symbol, price)))
    for (const event of published) {
      yield* Effect.logInfo(`paper ${event._tag === "ProtectiveFill" ? event.kind : ""} triggered on ${symbol} at ${plain(price)}`)
      yield* events.publish(event)
    }
    return published.length
  })

  const refresh = Effect.gen(function*() {
    const symbols = yield* sql<{ symbol: string }>`SELECT DISTINCT symbol FROM paper_triggers WHERE status = 'active'`
    for (const { symbol } of symbols) {
      const live = yield* Effect.option(prices.live(symbol))
      if (live._tag === "Some") yield* checkTriggers(symbol, live.value)
    }
  }).pipe(
    Effect.catchCause((cause) => Effect.logWarning("paper price refresh failed", cause)),
    Effect.withSpan("PaperExchange.refresh")
  )

  const mapSql = <A, E, R>(effect: Effect.Effect<A, E | SqlError, R>): Effect.Effect<A, Exclude<E, SqlError> | ExchangeTransientError, R> =>
    Effect.catchIf(effect, (e): e is SqlError => (e as { _tag?: string })._tag === "SqlError", (e) => Effect.fail(dbTransient(e))) as any

  const exchange: ExchangeShape = {
    name: "paper",
    serverTime: Effect.clockWith((clock) => clock.currentTimeMillis),
    // Mark price (PnL display): the live price, else the last one seen (offline paper trading).
    markPrice: (symbol) => markOf(symbol).pipe(Effect.withSpan("PaperExchange.markPrice")),
    // Last price (order sizing and checks): live only, so that without it the signal's price is used.
    lastPrice: (symbol) =>
      prices.live(symbol).pipe(
        Effect.mapError((e) =>
          new PriceUnavailable({ symbol, message: `no live price for ${symbol}: the BingX public API (BINGX_BASE_URL=${market.baseUrl}) ${e.reason}` })
        ),
        Effect.withSpan("PaperExchange.lastPrice")
      ),
    contract: prices.contract,
    positionMode: Effect.succeed(mode),
    setMarginType: (symbol: string, marginType: ExchangeMarginType) =>
      mapSql(Effect.asVoid(sql`INSERT INTO paper_settings (symbol, key, value) VALUES (${symbol}, 'margin_type', ${marginType})
        ON CONFLICT (symbol, key) DO UPDATE SET value = EXCLUDED.value`)),
    setLeverage: (symbol: string, leverage: number, side: ExchangePositionSide) =>
      mapSql(Effect.asVoid(sql`INSERT INTO paper_settings (symbol, key, value) VALUES (${symbol}, ${`leverage:${side}`}, ${String(leverage)})
        ON CONFLICT (symbol, key) DO UPDATE SET value = EXCLUDED.value`)),
    placeOrder,
    queryOrder: (symbol: string, ref: OrderRef) =>
      mapSql(Effect.flatMap(findOrder(ref), (o) =>
        o === undefined || o.symbol !== symbol
          ? Effect.fail(new ExchangeOrderNotFound({ symbol, orderId: ref.orderId, clientOrderId: ref.clientOrderId }))
          : Effect.succeed(o))),
    cancelOrder: (symbol: string, ref: OrderRef) =>
      mapSql(Effect.flatMap(findOrder(ref), (o): Effect.Effect<ExchangeOrder, ExchangeOrderNotFound | ExchangeRejectedError> =>
        o === undefined || o.symbol !== symbol
          ? Effect.fail(new ExchangeOrderNotFound({ symbol, orderId: ref.orderId, clientOrderId: ref.clientOrderId }))
          : Effect.fail(rejected(80018, `order ${o.orderId} is already filled`)))),
    openOrders: () => Effect.succeed([]),
    positions: (symbol?: string) =>
      mapSql(Effect.gen(function*() {
        const rows = yield* sql<LegRow & { symbol: string }>`SELECT symbol, side, quantity::text AS quantity, cost::text AS cost, leverage
          FROM paper_positions WHERE quantity > 0 ${symbol === undefined ? sql`` : sql`AND symbol = ${symbol}`}
          ORDER BY symbol, side`
        const out: Array<ExchangePosition> = []
        for (const r of rows) {
          const leg = { quantity: parseUnsafe(r.quantity), cost: parseUnsafe(r.cost) }
          const mark = yield* currentPrice(r.symbol)
          out.push({
            symbol: r.symbol,
            side: r.side,
            quantity: leg.quantity,
            entryPrice: divide(leg.cost, leg.quantity),
            markPrice: mark,
            unrealisedPnl: mark === undefined ? undefined : unrealised(r.side, leg, mark),
            leverage: Number(r.leverage)
          })
        }
        return out
      })),
    balances: mapSql(Effect.gen(function*() {
      const rows = yield* sql<LegRow & { symbol: string }>`SELECT symbol, side, quantity::text AS quantity, cost::text AS cost, leverage
        FROM paper_positions WHERE quantity > 0`
      let upnl = ZERO
      let used = ZERO
      for (const r of rows) {
        const leg = { quantity: parseUnsafe(r.quantity), cost: parseUnsafe(r.cost) }
        used = BigDecimal.sum(used, divide(leg.cost, BigDecimal.fromBigInt(BigInt(Math.max(1, Number(r.leverage))))))
        const mark = prices.lastSeen(r.symbol)
        if (mark !== undefined) upnl = BigDecimal.sum(upnl, unrealised(r.side, leg, mark))
      }
      const balance = yield* wallet
      const equity = BigDecimal.sum(balance, upnl)
      const balances: ReadonlyArray<ExchangeBalance> = [{
        asset: "USDT",
        balance,
        equity,
        available: BigDecimal.max(ZERO, BigDecimal.subtract(equity, used)),
        unrealisedPnl: upnl
      }]
      return balances
    }))
  }

  return { exchange, paper: PaperExchange.of({ checkTriggers, refresh }), startupNotice: prices.startupNotice }
})

/** Exchange + PaperExchange, with the price refresh running. Needs AppConfig, SqlClient, PublicMarket, ExchangeEvents. */
export const layerNoDeps = Layer.effectContext(Effect.gen(function*() {
  const { exchange, paper, startupNotice } = yield* make
  const config = yield* AppConfig
  yield* paper.refresh.pipe(
    Effect.repeat(Schedule.spaced(`${config.paper.priceRefreshSeconds} seconds`)),
    Effect.forkScoped
  )
  yield* Effect.logInfo(`paper exchange: ${config.paper.positionMode} mode, taker fee ${config.paper.feeRate}`)
  // One line on what happens to prices: a warning when the public API does not answer or alert prices may be used.
  const market = yield* PublicMarket
  yield* market.probe.pipe(
    Effect.match({ onFailure: (e) => e, onSuccess: () => undefined }),
    Effect.flatMap((problem) => {
      const notice = startupNotice(problem)
      return notice.warn ? Effect.logWarning(notice.text) : Effect.logInfo(notice.text)
    }),
    Effect.forkScoped
  )
  return Context.make(Exchange, Exchange.of(exchange)).pipe(Context.add(PaperExchange, paper))
}))

/** The paper exchange with its public market client. Needs AppConfig, SqlClient, ExchangeEvents. */
export const layer = layerNoDeps.pipe(Layer.provide(PublicMarket.layer))
