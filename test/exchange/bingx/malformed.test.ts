import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Layer, References } from "effect"
import { FetchHttpClient } from "effect/http"
import { AppConfig } from "../../../src/config.ts"
import { Exchange, type PlaceOrderRequest } from "../../../src/exchange/Exchange.ts"
import { PublicMarket } from "../../../src/exchange/paper/PublicMarket.ts"
import { type FakeBingx, type FakeBingxOptions, makeFakeBingx } from "../../fakes/bingx.ts"
import { liveExchange } from "../../support/bingx.ts"

const D = BigDecimal.fromStringUnsafe
const ORDER = "/openApi/swap/v2/trade/order"

const withLive = <A, E>(f: (fake: FakeBingx) => Effect.Effect<A, E, Exchange>, options: FakeBingxOptions = {}) =>
  Effect.gen(function*() {
    const fake = yield* makeFakeBingx(options)
    return yield* f(fake).pipe(Effect.provide(liveExchange(fake, { BINGX_MAX_RETRIES: "0" })))
  }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Error"))

/** A copy of the answer body with `path` (inside `data`) removed, or set to `value`. */
const edit = (path: ReadonlyArray<string | number>, change: { readonly value: unknown } | undefined) => (body: any) => {
  const copy = structuredClone(body)
  let node = copy
  for (const key of ["data", ...path.slice(0, -1)]) node = node[key]
  const last = path[path.length - 1]!
  if (change === undefined) delete node[last]
  else node[last] = change.value
  return copy
}
const drop = (...path: ReadonlyArray<string | number>) => edit(path, undefined)
const set = (path: ReadonlyArray<string | number>, value: unknown) => edit(path, { value })
const replaceData = (data: unknown) => (body: any) => ({ ...body, data })

const buy = (clientOrderId: string): PlaceOrderRequest => ({
  symbol: "BTC-USDT",
  side: "BUY",
  positionSide: "BOTH",
  type: "MARKET",
  quantity: D("0.001"),
  clientOrderId,
  reduceOnly: false
})

describe("malformed BingX answers are typed errors naming the field, never defaults", () => {
  it.live("placement: a malformed success is an unknown outcome, and the order it placed is found by clientOrderId", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const cases: ReadonlyArray<readonly [string, (body: any) => unknown, string]> = [
          ["p-1", drop("order", "orderId"), "order.orderId is missing"],
          ["p-2", set(["order", "side"], "HOLD"), "order.side is \"HOLD\": expected \"BUY\" | \"SELL\""],
          ["p-3", set(["order", "status"], "DONE"), "order.status is \"DONE\""],
          ["p-4", drop("order", "status"), "order.status is missing"],
          ["p-5", drop("order", "executedQty"), "order.executedQty is missing"],
          ["p-6", set(["order", "positionSide"], "UP"), "order.positionSide is \"UP\""],
          ["p-7", replaceData({}), "order is missing"],
          ["p-8", set(["order", "side"], "SELL"), "order.side is \"SELL\" but the order sent has \"BUY\""],
          ["p-9", set(["order", "orderId"], ""), "order.orderId is \"\": expected an id of digits"]
        ]
        for (const [cid, rewrite, problem] of cases) {
          fake.inject(ORDER, { kind: "rewrite", rewrite }, { method: "POST" })
          const error = yield* Effect.flip(exchange.placeOrder(buy(cid)))
          expect(error._tag, cid).toBe("ExchangeUnknownOutcome")
          expect(error.message, cid).toContain(`BingX ${ORDER} answer: ${problem}`)
          // It was placed: the caller's lookup by clientOrderId finds it.
          const found = yield* exchange.queryOrder("BTC-USDT", { clientOrderId: cid })
          expect(found.clientOrderId).toBe(cid)
          expect(found.status).toBe("filled")
        }
        expect(fake.placed()).toHaveLength(cases.length)
      })))

  it.live("query: each missing or garbled field is a transient error naming it — never 'not found', BUY, new, \"\" or now", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const placed = yield* exchange.placeOrder(buy("q-1"))
        const cases: ReadonlyArray<readonly [(body: any) => unknown, string]> = [
          [drop("order", "orderId"), "order.orderId is missing"],
          [set(["order", "side"], "HOLD"), "order.side is \"HOLD\""],
          [set(["order", "status"], "DONE"), "order.status is \"DONE\""],
          [drop("order", "origQty"), "order.origQty is missing"],
          [set(["order", "executedQty"], "lots"), "order.executedQty is \"lots\": expected a decimal number"],
          [drop("order", "commission"), "order.commission is missing"],
          [set(["order", "commission"], ""), "order.commission is \"\" although the order executed 0.001"],
          [(body) => drop("order", "time")(drop("order", "updateTime")(body)), "order.updateTime is missing"],
          [drop("order", "symbol"), "order.symbol is missing"],
          [replaceData({}), "order is missing"],
          [replaceData(null), "data is null"]
        ]
        for (const [rewrite, problem] of cases) {
          fake.inject(ORDER, { kind: "rewrite", rewrite }, { method: "GET" })
          const error = yield* Effect.flip(exchange.queryOrder("BTC-USDT", { orderId: placed.orderId }))
          expect(error._tag, problem).toBe("ExchangeTransientError")
          expect(error.message).toContain(`BingX ${ORDER} answer: ${problem}`)
        }
        // The same answer, well-formed: the fee is −commission, exactly.
        const order = yield* exchange.queryOrder("BTC-USDT", { orderId: placed.orderId })
        expect(BigDecimal.format(order.fee)).toBe("0.03250025") // 0.001 × 65000.5 × 0.0005
        fake.inject(ORDER, { kind: "rewrite", rewrite: set(["order", "commission"], "0.12") }, { method: "GET" })
        const rebated = yield* exchange.queryOrder("BTC-USDT", { orderId: placed.orderId })
        expect(BigDecimal.format(rebated.fee)).toBe("-0.12")
      })))

  it.live("open orders: a malformed entry names its index and field; a missing list is an error, not []", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        yield* exchange.placeOrder(buy("o-1"))
        yield* exchange.placeOrder(buy("o-2"))
        const path = "/openApi/swap/v2/trade/openOrders"
        expect(yield* exchange.openOrders("BTC-USDT")).toHaveLength(2)
        const cases: ReadonlyArray<readonly [(body: any) => unknown, string]> = [
          [set(["orders", 1, "status"], "SLEEPING"), "orders[1].status is \"SLEEPING\""],
          [set(["orders", 0, "side"], "buy"), "orders[0].side is \"buy\""],
          [drop("orders", 1, "orderId"), "orders[1].orderId is missing"],
          [drop("orders"), "orders is missing"]
        ]
        for (const [rewrite, problem] of cases) {
          fake.inject(path, { kind: "rewrite", rewrite })
          const error = yield* Effect.flip(exchange.openOrders("BTC-USDT"))
          expect(error._tag).toBe("ExchangeTransientError")
          expect(error.message).toContain(`BingX ${path} answer: ${problem}`)
        }
        // A cancel answers the same order record.
        const [first] = yield* exchange.openOrders("BTC-USDT")
        fake.inject(ORDER, { kind: "rewrite", rewrite: set(["order", "side"], "HOLD") }, { method: "DELETE" })
        const cancel = yield* Effect.flip(exchange.cancelOrder("BTC-USDT", { orderId: first!.orderId }))
        expect(cancel._tag).toBe("ExchangeTransientError")
        expect(cancel.message).toContain(`BingX ${ORDER} answer: order.side is "HOLD"`)
      }), { fillMode: "new" }))

  it.live("positions and balance: missing or garbled fields are errors; a BOTH row takes its side from the sign", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        yield* exchange.placeOrder(buy("b-1"))
        const positions = "/openApi/swap/v2/user/positions"
        const balance = "/openApi/swap/v2/user/balance"
        const cases: ReadonlyArray<readonly [string, (body: any) => unknown, string, Effect.Effect<unknown, { readonly _tag: string; readonly message: string }>]> = [
          [positions, set([0, "positionSide"], "UP"), "[0].positionSide is \"UP\"", exchange.positions()],
          [positions, drop(0, "avgPrice"), "[0].avgPrice is missing", exchange.positions()],
          [positions, drop(0, "symbol"), "[0].symbol is missing", exchange.positions()],
          [positions, set([0, "positionAmt"], "much"), "[0].positionAmt is \"much\"", exchange.positions()],
          [positions, replaceData(null), "data is null", exchange.positions()],
          [balance, drop("balance", "equity"), "balance.equity is missing", exchange.balances],
          [balance, drop("balance", "asset"), "balance.asset is missing", exchange.balances],
          [balance, set(["balance", "availableMargin"], ""), "balance.availableMargin is \"\"", exchange.balances],
          [balance, replaceData({}), "balance is missing", exchange.balances]
        ]
        for (const [path, rewrite, problem, call] of cases) {
          fake.inject(path, { kind: "rewrite", rewrite })
          const error = yield* Effect.flip(call)
          expect(error._tag, problem).toBe("ExchangeTransientError")
          expect(error.message).toContain(`BingX ${path} answer: ${problem}`)
        }
        fake.inject(positions, { kind: "rewrite", rewrite: (body: any) => set([0, "positionAmt"], "-0.001")(set([0, "positionSide"], "BOTH")(body)) })
        const [short] = yield* exchange.positions()
        expect(short).toMatchObject({ symbol: "BTC-USDT", side: "short" })
        expect(BigDecimal.format(short!.quantity)).toBe("0.001")
        const [usdt] = yield* exchange.balances
        expect(usdt!.asset).toBe("USDT")
      })))

  it.live("position mode and prices: a missing or garbled value is an error, not one-way", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const mode = "/openApi/swap/v1/positionSide/dual"
        fake.inject(mode, { kind: "rewrite", rewrite: drop("dualSidePosition") })
        const missing = yield* Effect.flip(exchange.positionMode)
        expect(missing).toMatchObject({ _tag: "ExchangeTransientError" })
        expect(missing.message).toContain(`BingX ${mode} answer: dualSidePosition is missing`)
        fake.inject(mode, { kind: "rewrite", rewrite: set(["dualSidePosition"], "maybe") })
        expect((yield* Effect.flip(exchange.positionMode)).message).toContain("dualSidePosition is \"maybe\"")
        expect(yield* exchange.positionMode).toBe("hedge") // nothing wrong was cached
        const price = "/openApi/swap/v2/quote/price"
        fake.inject(price, { kind: "rewrite", rewrite: set(["price"], "0") })
        expect((yield* Effect.flip(exchange.lastPrice("BTC-USDT"))).message).toContain(
          `BingX ${price} answer: price is "0": expected a decimal number above zero`
        )
      }), { positionMode: "hedge" }))

  it.live("contracts: one parser for live and paper — the same rules, the same refusals, no defaults", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeBingx()
      const path = "/openApi/swap/v2/quote/contracts"
      /** The contract as a new paper public market (empty contracts cache) reads it. */
      const paper = (symbol: string) =>
        PublicMarket.make.pipe(
          Effect.flatMap((m) => m.contract(symbol)),
          Effect.provide(Layer.mergeAll(AppConfig.layerFrom({ BINGX_BASE_URL: fake.url }), FetchHttpClient.layer))
        )
      /** The contract as a new live exchange (empty contracts cache) reads it. */
      const live = (symbol: string) =>
        Exchange.pipe(Effect.flatMap((e) => e.contract(symbol)), Effect.provide(liveExchange(fake, { BINGX_MAX_RETRIES: "0" })))
      const liveRules = yield* live("ETH-USDT")
      expect(yield* paper("ETH-USDT")).toEqual(liveRules)
      expect(liveRules).toMatchObject({ quantityPrecision: 2, pricePrecision: 2, maxLongLeverage: 100, tradable: true })

      const cases: ReadonlyArray<readonly [(body: any) => unknown, string]> = [
        [drop(0, "quantityPrecision"), "[0].quantityPrecision is missing"],
        [drop(0, "status"), "[0].status is missing"],
        [set([0, "tradeMinUSDT"], "two"), "[0].tradeMinUSDT is \"two\": expected a decimal number"],
        [drop(0, "apiStateOpen"), "[0].apiStateOpen is missing"]
      ]
      for (const [rewrite, problem] of cases) {
        // The live exchange asks for the whole list (BTC-USDT is its first entry), then for the
        // symbol alone; the paper market reads the whole list.
        fake.inject(path, { kind: "rewrite", rewrite }, { times: 2 })
        const error = yield* Effect.flip(live("BTC-USDT"))
        expect(error._tag, problem).toBe("ExchangeTransientError")
        expect(error.message).toContain(`BingX ${path} answer: ${problem}`)
        fake.inject(path, { kind: "rewrite", rewrite })
        const unavailable = yield* Effect.flip(paper("BTC-USDT"))
        expect(unavailable._tag, problem).toBe("PublicMarketUnavailable")
        expect(unavailable._tag === "PublicMarketUnavailable" ? unavailable.reason : "").toContain(`BingX ${path} answer: ${problem}`)
        // Another contract of the same list is not held back by the malformed one.
        fake.inject(path, { kind: "rewrite", rewrite })
        expect((yield* live("SOL-USDT")).quantityPrecision).toBe(1)
      }
      // Not listed at all: a refusal, as before.
      expect((yield* Effect.flip(live("NOPE-USDT")))._tag).toBe("ExchangeRejectedError")
    }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Error")))
})
