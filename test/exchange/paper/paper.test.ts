import { expect, layer } from "@effect/vitest"
import { BigDecimal, Effect, Layer, PubSub, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { Exchange, type PlaceOrderRequest } from "../../../src/exchange/Exchange.ts"
import { ExchangeEvents } from "../../../src/exchange/ExchangeEvents.ts"
import * as Paper from "../../../src/exchange/paper/PaperExchange.ts"
import { type FakeBingx, makeFakeBingx } from "../../fakes/bingx.ts"
import { AppConfig } from "../../../src/config.ts"
import { layerTestDatabase, resetTables } from "../../support/database.ts"

const D = BigDecimal.fromStringUnsafe
const eq = (a: BigDecimal.BigDecimal | undefined, b: string) => {
  expect(a).toBeDefined()
  expect(BigDecimal.format(a!)).toBe(BigDecimal.format(D(b)))
}

/** An unreachable BingX (nothing listens on port 1). */
const OFFLINE = "http://127.0.0.1:1"

/** The paper exchange with its own configuration, on the shared test database. */
const paperLayer = (env: Record<string, string>) =>
  Paper.layer.pipe(Layer.provideMerge(ExchangeEvents.layer), Layer.provideMerge(AppConfig.layerFrom(env)))

const run = <A, E>(
  env: (fake: FakeBingx) => Record<string, string>,
  f: (fake: FakeBingx) => Effect.Effect<A, E, Exchange | Paper.PaperExchange | ExchangeEvents | SqlClient.SqlClient | Scope.Scope>
) =>
  Effect.gen(function*() {
    yield* resetTables
    const fake = yield* makeFakeBingx()
    return yield* f(fake).pipe(Effect.provide(paperLayer(env(fake))))
  }).pipe(Effect.scoped)

const buy = (clientOrderId: string, quantity: string, extra: Partial<PlaceOrderRequest> = {}): PlaceOrderRequest => ({
  symbol: "BTC-USDT",
  side: "BUY",
  positionSide: "BOTH",
  type: "MARKET",
  quantity: D(quantity),
  clientOrderId,
  reduceOnly: false,
  ...extra
})

layer(layerTestDatabase, { excludeTestServices: true, timeout: 120_000 })("paper exchange", (it) => {
  it.effect("fills at the live public price, charges the taker fee, keeps the position and balance; a repeated clientOrderId is the same order", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url }), (fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        expect(exchange.name).toBe("paper")
        const order = yield* exchange.placeOrder(buy("tvb-p-1", "0.1", { priceHint: D("1") }))
        expect(order.status).toBe("filled")
        expect(BigInt(order.orderId) > 2n ** 53n).toBe(true)
        eq(order.averagePrice, "65000.5")
        eq(order.executedQuantity, "0.1")
        eq(order.fee, "3.250025") // 0.1 × 65000.5 × 0.0005
        expect(order.priceSource).toBe("exchange")
        expect(fake.requests("/openApi/swap/v2/quote/price").length).toBeGreaterThan(0)

        const again = yield* exchange.placeOrder(buy("tvb-p-1", "0.1"))
        expect(again.orderId).toBe(order.orderId)
        const [position] = yield* exchange.positions()
        expect(position).toMatchObject({ symbol: "BTC-USDT", side: "long", leverage: 5 })
        eq(position!.quantity, "0.1")
        eq(position!.entryPrice, "65000.5")
        const [balance] = yield* exchange.balances
        eq(balance!.balance, "9996.749975")
        eq((yield* exchange.queryOrder("BTC-USDT", { clientOrderId: "tvb-p-1" })).averagePrice, "65000.5")
        expect((yield* Effect.flip(exchange.queryOrder("BTC-USDT", { clientOrderId: "nope" })))._tag).toBe("ExchangeOrderNotFound")
      })))

  it.effect("PAPER_PRICE_FALLBACK=alert, without a live price: fills at the signal's price; with no price at all it refuses", () =>
    run(() => ({ BINGX_BASE_URL: OFFLINE, PAPER_TAKER_FEE_RATE: "0.001", PAPER_PRICE_FALLBACK: "alert" }), () =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const order = yield* exchange.placeOrder(buy("tvb-p-2", "2", { symbol: "ETH-USDT", priceHint: D("3000") }))
        eq(order.averagePrice, "3000")
        eq(order.fee, "6")
        expect(order.priceSource).toBe("alert")
        const error = yield* Effect.flip(exchange.placeOrder(buy("tvb-p-3", "1", { symbol: "SOL-USDT" })))
        expect(error._tag).toBe("PriceUnavailable")
        expect(error.message).toContain("SOL-USDT")
        // Offline, the last fill price is what positions are marked at.
        const [position] = yield* exchange.positions("ETH-USDT")
        eq(position!.markPrice, "3000")
        eq(position!.unrealisedPnl, "0")
        expect((yield* Effect.flip(exchange.markPrice("SOL-USDT")))._tag).toBe("PriceUnavailable")
        // The last price is live only: an order is never sized at a stale price.
        eq(yield* exchange.markPrice("ETH-USDT"), "3000")
        expect((yield* Effect.flip(exchange.lastPrice("ETH-USDT")))._tag).toBe("PriceUnavailable")
      })))

  it.effect("closing realises PnL exactly, caps a reduce-only order at the open quantity, refuses to reduce nothing", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url }), (fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        yield* exchange.placeOrder(buy("tvb-c-1", "0.1"))
        fake.prices.set("BTC-USDT", "66000.5")
        const close = yield* exchange.placeOrder(buy("tvb-c-2", "0.3", { side: "SELL", reduceOnly: true }))
        eq(close.executedQuantity, "0.1")
        eq(close.fee, "3.300025")
        expect(yield* exchange.positions()).toEqual([])
        const [balance] = yield* exchange.balances
        // 10000 − 3.250025 (open fee) + 100 (realised) − 3.300025 (close fee)
        eq(balance!.balance, "10093.44995")
        const error = yield* Effect.flip(exchange.placeOrder(buy("tvb-c-3", "0.1", { side: "SELL", reduceOnly: true })))
        expect(error).toMatchObject({ _tag: "ExchangeRejectedError", code: 101205 })
        // One-way: a sell beyond the position flips it short.
        yield* exchange.placeOrder(buy("tvb-c-4", "0.1"))
        yield* exchange.placeOrder(buy("tvb-c-5", "0.25", { side: "SELL" }))
        const [short] = yield* exchange.positions()
        expect(short!.side).toBe("short")
        eq(short!.quantity, "0.15")
      })))

  it.effect("refuses an order the wallet cannot margin, before anything changes", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url, PAPER_BALANCE_USDT: "100", DEFAULT_LEVERAGE: "5" }), () =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const error = yield* Effect.flip(exchange.placeOrder(buy("tvb-m-1", "1")))
        expect(error).toMatchObject({ _tag: "ExchangeRejectedError", code: 101204 })
        expect(error.message).toContain("insufficient margin")
        expect(yield* exchange.positions()).toEqual([])
        eq((yield* exchange.balances)[0]!.balance, "100")
        // Higher leverage makes it fit: 0.01 × 65000.5 / 20 = 32.5
        yield* exchange.setLeverage("BTC-USDT", 20, "BOTH")
        const ok = yield* exchange.placeOrder(buy("tvb-m-2", "0.01"))
        expect(ok.status).toBe("filled")
        expect((yield* exchange.positions())[0]!.leverage).toBe(20)
      })))

  it.effect("hedge mode keeps long and short legs apart and closes with the opposite side", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url, PAPER_POSITION_MODE: "hedge" }), () =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        expect(yield* exchange.positionMode).toBe("hedge")
        expect((yield* Effect.flip(exchange.placeOrder(buy("tvb-h-0", "0.1"))))).toMatchObject({ code: 109400 })
        yield* exchange.placeOrder(buy("tvb-h-1", "0.1", { positionSide: "LONG" }))
        yield* exchange.placeOrder(buy("tvb-h-2", "0.2", { side: "SELL", positionSide: "SHORT" }))
        const legs = yield* exchange.positions()
        expect(legs.map((p) => [p.side, BigDecimal.format(p.quantity)])).toEqual([["long", "0.1"], ["short", "0.2"]])
        yield* exchange.placeOrder(buy("tvb-h-3", "0.1", { side: "SELL", positionSide: "LONG" }))
        expect((yield* exchange.positions()).map((p) => p.side)).toEqual(["short"])
      })))

  it.effect("attached stop-loss / take-profit: checked on the right side, triggered by the price refresh, published", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url }), (fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const paper = yield* Paper.PaperExchange
        const events = yield* ExchangeEvents
        const subscription = yield* events.subscribe
        const wrong = yield* Effect.flip(exchange.placeOrder(buy("tvb-t-0", "0.1", { stopLoss: D("66000") })))
        expect(wrong).toMatchObject({ _tag: "ExchangeRejectedError", code: 110411 })
        yield* exchange.placeOrder(buy("tvb-t-1", "0.1", { stopLoss: D("60000"), takeProfit: D("70000") }))
        expect(yield* paper.checkTriggers("BTC-USDT", D("69999"))).toBe(0)
        fake.prices.set("BTC-USDT", "59000")
        yield* paper.refresh
        expect(yield* exchange.positions()).toEqual([])
        const event = yield* PubSub.take(subscription)
        expect(event).toMatchObject({ _tag: "ProtectiveFill", kind: "stop_loss", symbol: "BTC-USDT", side: "SELL", parentClientOrderId: "tvb-t-1" })
        if (event._tag === "ProtectiveFill") {
          eq(event.price, "59000")
          eq(event.quantity, "0.1")
        }
        // The take-profit of the closed position is cancelled, not fired later.
        expect(yield* paper.checkTriggers("BTC-USDT", D("71000"))).toBe(0)
        const sql = yield* SqlClient.SqlClient
        const triggers = yield* sql<{ kind: string; status: string }>`SELECT kind, status FROM paper_triggers ORDER BY id`
        expect(triggers).toEqual([{ kind: "stop_loss", status: "triggered" }, { kind: "take_profit", status: "cancelled" }])
        // Wallet: − open fee 3.250025 − loss 600.05 − close fee 2.95
        eq((yield* exchange.balances)[0]!.balance, "9393.749975")
      })))
})
