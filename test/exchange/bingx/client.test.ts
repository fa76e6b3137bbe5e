import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect } from "effect"
import { BingxClient, classifyCode, unblockDelayMs } from "../../../src/exchange/bingx/BingxClient.ts"
import { Exchange } from "../../../src/exchange/Exchange.ts"
import { FAKE_API_KEY, FakeBingx, makeFakeBingx } from "../../fakes/bingx.ts"
import { liveExchange } from "../../support/bingx.ts"

const D = BigDecimal.fromStringUnsafe

/** Runs `f` with a started fake and the live exchange layer on it. */
const withLive = <A, E>(
  f: (fake: FakeBingx) => Effect.Effect<A, E, Exchange | BingxClient>,
  options: { readonly fake?: ConstructorParameters<typeof FakeBingx>[0]; readonly env?: Record<string, string> } = {}
) =>
  Effect.gen(function*() {
    const fake = yield* makeFakeBingx(options.fake)
    return yield* f(fake).pipe(Effect.provide(liveExchange(fake, options.env)))
  }).pipe(Effect.scoped)

describe("BingX client", () => {
  it.live("signs private calls: sorted params, timestamp + recvWindow, signature last, API key and sub-account headers", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        yield* exchange.positions("BTC-USDT")
        const [req] = fake.requests("/openApi/swap/v2/user/positions")
        expect(req!.signatureValid).toBe(true)
        expect(req!.headers["x-bx-apikey"]).toBe(FAKE_API_KEY)
        expect(req!.headers["x-bx-subaccount-id"]).toBe("sub-7")
        expect(req!.keys).toEqual(["recvWindow", "symbol", "timestamp", "signature"])
        expect(req!.params["recvWindow"]).toBe("5000")
        expect(Math.abs(Number(req!.params["timestamp"]) - fake.now())).toBeLessThan(2_000)
        // Trace context is not sent to the exchange.
        expect(req!.headers["traceparent"]).toBeUndefined()
      }), { env: { BINGX_SUBACCOUNT_ID: "sub-7" } }))

  it.live("a wrong secret is answered 100001 and not retried", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const error = yield* Effect.flip(exchange.positions())
        expect(error._tag).toBe("ExchangeRejectedError")
        expect((error as { code?: number }).code).toBe(100001)
        expect(fake.requests("/openApi/swap/v2/user/positions")).toHaveLength(1)
        expect(fake.requests("/openApi/swap/v2/user/positions")[0]!.signatureValid).toBe(false)
      }), { env: { BINGX_API_SECRET: "not-the-secret" } }))

  it.live("code != 0 on HTTP 200 is a typed error; a string code \"0\" is success", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        expect(yield* exchange.positionMode).toBe("one_way") // that endpoint answers "code":"0"
        fake.inject("/openApi/swap/v2/trade/order", { kind: "code", code: 109400, msg: "symbol not exist", codeAsString: true })
        const error = yield* Effect.flip(exchange.queryOrder("BTC-USDT", { orderId: "1" }))
        expect(error).toMatchObject({ _tag: "ExchangeRejectedError", code: 109400 })
        expect(error.message).toContain("symbol not exist")
      })))

  it.live("transient answers are retried with backoff (5xx, 80012, timeouts of reads), then succeed", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        fake.inject("/openApi/swap/v2/user/positions", { kind: "http", status: 503 }, { times: 2 })
        yield* exchange.positions()
        expect(fake.requests("/openApi/swap/v2/user/positions")).toHaveLength(3)

        fake.inject("/openApi/swap/v2/user/balance", { kind: "code", code: 80012, msg: "service unavailable" })
        fake.inject("/openApi/swap/v2/user/balance", { kind: "hang" })
        const balances = yield* exchange.balances
        expect(fake.requests("/openApi/swap/v2/user/balance")).toHaveLength(3)
        expect(balances[0]!.asset).toBe("USDT")
        expect(BigDecimal.equals(balances[0]!.balance, D("10000"))).toBe(true)
      })))

  it.live("permanent errors are not retried; retries stop after BINGX_MAX_RETRIES", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        fake.inject("/openApi/swap/v2/user/positions", { kind: "code", code: 100004, msg: "permission denied" })
        const permanent = yield* Effect.flip(exchange.positions())
        expect(permanent._tag).toBe("ExchangeRejectedError")
        expect(fake.requests("/openApi/swap/v2/user/positions")).toHaveLength(1)

        fake.inject("/openApi/swap/v2/user/balance", { kind: "code", code: 100500, msg: "internal error" }, { times: 10 })
        const transient = yield* Effect.flip(exchange.balances)
        expect(transient).toMatchObject({ _tag: "ExchangeTransientError", code: 100500 })
        expect(fake.requests("/openApi/swap/v2/user/balance")).toHaveLength(3) // 1 + BINGX_MAX_RETRIES=2
      }), { env: { BINGX_MAX_RETRIES: "2" } }))

  it.live("100410 waits for its unblock time, then retries", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const unblockAt = fake.now() + 300
        fake.inject("/openApi/swap/v2/user/positions", {
          kind: "code",
          code: 100410,
          msg: `The endpoint trigger frequency limit rule is currently in the disabled period and will be unblocked after ${unblockAt}`
        })
        yield* exchange.positions()
        const [first, second] = fake.requests("/openApi/swap/v2/user/positions")
        expect(second!.at - first!.at).toBeGreaterThanOrEqual(250)
      })))

  it.live("100421 re-syncs the server time and repeats the call once", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const client = yield* BingxClient
        expect(Math.abs(yield* client.timeOffset)).toBeLessThan(1_000)
        fake.clockOffsetMs = 90_000 // the exchange clock jumps ahead
        yield* exchange.positions()
        const positions = fake.requests("/openApi/swap/v2/user/positions")
        expect(positions.map((r) => r.answer?.code)).toEqual([100421, 0])
        expect(fake.requests("/openApi/swap/v2/server/time").length).toBe(2) // start + resync
        expect(yield* client.timeOffset).toBeGreaterThan(85_000)
      })))

  it.live("a placed order's outcome is unknown on timeout / 5xx / 101500 and is never resent by the client", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const request = {
          symbol: "BTC-USDT",
          side: "BUY",
          positionSide: "BOTH",
          type: "MARKET",
          quantity: D("0.01"),
          clientOrderId: "tvb-test-1",
          reduceOnly: false
        } as const
        fake.inject("/openApi/swap/v2/trade/order", { kind: "executeThenHang" }, { method: "POST" })
        const timeout = yield* Effect.flip(exchange.placeOrder(request))
        expect(timeout._tag).toBe("ExchangeUnknownOutcome")
        fake.inject("/openApi/swap/v2/trade/order", { kind: "executeThenHttp", status: 502 }, { method: "POST" })
        const bad = yield* Effect.flip(exchange.placeOrder({ ...request, clientOrderId: "tvb-test-2" }))
        expect(bad._tag).toBe("ExchangeUnknownOutcome")
        fake.inject("/openApi/swap/v2/trade/order", { kind: "executeThenCode", code: 101500, msg: "rpc timeout" }, { method: "POST" })
        const rpc = yield* Effect.flip(exchange.placeOrder({ ...request, clientOrderId: "tvb-test-3" }))
        expect(rpc._tag).toBe("ExchangeUnknownOutcome")
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")).toHaveLength(3)
        expect(fake.placed()).toHaveLength(3)

        // Resending with the same clientOrderId finds the existing order (101481) instead of doubling it.
        const again = yield* exchange.placeOrder(request)
        expect(again.clientOrderId).toBe("tvb-test-1")
        expect(again.status).toBe("filled")
        expect(fake.placed()).toHaveLength(3)
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST").at(-1)!.answer?.code).toBe(101481)
      })))

  it("classifies codes", () => {
    expect(classifyCode(100410, "", false, 0).kind).toBe("transient")
    expect(classifyCode(80012, "margin is not enough", false, 0).kind).toBe("rejected")
    expect(classifyCode(80012, "system busy", false, 0).kind).toBe("transient")
    expect(classifyCode(101500, "rpc timeout", true, 0).kind).toBe("unknown")
    expect(classifyCode(101500, "rpc timeout", false, 0).kind).toBe("transient")
    expect(classifyCode(101204, "Insufficient margin", true, 0).kind).toBe("rejected")
    expect(classifyCode(100421, "timestamp mismatch", false, 0).kind).toBe("clock")
    expect(classifyCode(100421, "This pair is currently restricted from API trading", false, 0).kind).toBe("rejected")
    expect(classifyCode(109400, "In the One-way mode ...", true, 0).kind).toBe("rejected")
    expect(unblockDelayMs("… will be unblocked after 1700000005000", 1700000000000)).toBe(5000)
    expect(unblockDelayMs("… unblocked after 2500", 0)).toBe(2500)
    expect(unblockDelayMs("busy", 0)).toBeUndefined()
  })
})

describe("BingX live exchange", () => {
  it.live("position mode is asked once; margin type and leverage are set once and only when different", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        expect(yield* exchange.positionMode).toBe("hedge")
        expect(yield* exchange.positionMode).toBe("hedge")
        expect(fake.requests("/openApi/swap/v1/positionSide/dual")).toHaveLength(1)

        for (let i = 0; i < 3; i++) {
          yield* exchange.setMarginType("BTC-USDT", "ISOLATED")
          yield* exchange.setLeverage("BTC-USDT", 7, "LONG")
        }
        expect(fake.requests("/openApi/swap/v2/trade/marginType", "POST")).toHaveLength(1)
        expect(fake.requests("/openApi/swap/v2/trade/leverage", "POST").map((r) => r.params)).toEqual([
          expect.objectContaining({ symbol: "BTC-USDT", side: "LONG", leverage: "7" })
        ])
        expect(fake.marginTypes.get("BTC-USDT")).toBe("ISOLATED")
        // Already what we want at the exchange: read, not written.
        fake.leverages.set("ETH-USDT:SHORT", 3)
        yield* exchange.setLeverage("ETH-USDT", 3, "SHORT")
        expect(fake.requests("/openApi/swap/v2/trade/leverage", "POST")).toHaveLength(1)
        // A failure is typed and clear.
        const error = yield* Effect.flip(exchange.setLeverage("ETH-USDT", 150, "LONG"))
        expect(error).toMatchObject({ _tag: "ExchangeRejectedError", code: 101414 })
      }), { fake: { positionMode: "hedge" } }))

  it.live("orders: 64-bit ids stay exact, one-way sends BOTH + reduceOnly, SL/TP go as JSON params", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const open = yield* exchange.placeOrder({
          symbol: "BTC-USDT",
          side: "BUY",
          positionSide: "BOTH",
          type: "MARKET",
          quantity: D("0.0123"),
          clientOrderId: "tvb-x-1",
          reduceOnly: false,
          stopLoss: D("60000"),
          takeProfit: D("70000.5")
        })
        expect(open.orderId).toBe("1736011869418901234")
        expect(open.status).toBe("filled")
        expect(BigDecimal.equals(open.executedQuantity, D("0.0123"))).toBe(true)
        expect(BigDecimal.equals(open.averagePrice!, D("65000.5"))).toBe(true)
        // The placement answer carries no fee and no time (like BingX's); the query has them.
        expect(open.fee).toBeUndefined()
        expect(open.updatedAt).toBeUndefined()
        const opened = yield* exchange.queryOrder("BTC-USDT", { orderId: open.orderId })
        expect(BigDecimal.format(opened.fee)).toBe("0.399753075") // 0.0123 × 65000.5 × 0.0005
        expect(opened.updatedAt.getTime()).toBe(fake.orders[0]!.updateTime)
        const sent = fake.requests("/openApi/swap/v2/trade/order", "POST")[0]!
        expect(sent.signatureValid).toBe(true)
        expect(sent.params).toMatchObject({ side: "BUY", positionSide: "BOTH", type: "MARKET", quantity: "0.0123" })
        expect(sent.params["reduceOnly"]).toBeUndefined()
        expect(JSON.parse(sent.params["stopLoss"]!)).toEqual({ type: "STOP_MARKET", stopPrice: 60000, workingType: "MARK_PRICE" })
        expect(JSON.parse(sent.params["takeProfit"]!)).toEqual({ type: "TAKE_PROFIT_MARKET", stopPrice: 70000.5, workingType: "MARK_PRICE" })
        expect(sent.rawQuery).toContain("stopLoss=%7B%22type%22%3A%22STOP_MARKET%22")

        const close = yield* exchange.placeOrder({
          symbol: "BTC-USDT",
          side: "SELL",
          positionSide: "BOTH",
          type: "MARKET",
          quantity: D("0.0123"),
          clientOrderId: "tvb-x-2",
          reduceOnly: true
        })
        expect(close.orderId).toBe("1736011869418901235")
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")[1]!.params["reduceOnly"]).toBe("true")

        const queried = yield* exchange.queryOrder("BTC-USDT", { orderId: "1736011869418901235" })
        expect(queried.clientOrderId).toBe("tvb-x-2")
        // The account switched to hedge mode behind our back: the refusal makes us ask again.
        fake.positionMode = "hedge"
        const refused = yield* Effect.flip(exchange.placeOrder({
          symbol: "BTC-USDT", side: "BUY", positionSide: "BOTH", type: "MARKET", quantity: D("0.001"), clientOrderId: "tvb-x-3", reduceOnly: false
        }))
        expect(refused).toMatchObject({ _tag: "ExchangeRejectedError", code: 109400 })
        expect(yield* exchange.positionMode).toBe("hedge")
        fake.positionMode = "one_way"
        const missing = yield* Effect.flip(exchange.queryOrder("BTC-USDT", { clientOrderId: "nope" }))
        expect(missing._tag).toBe("ExchangeOrderNotFound")
        expect(yield* exchange.positions()).toEqual([])
      })))

  it.live("hedge mode never sends reduceOnly; contracts, prices and positions are parsed exactly", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const rules = yield* exchange.contract("ETH-USDT")
        expect(rules.quantityPrecision).toBe(2)
        expect(BigDecimal.equals(rules.minQuantity, D("0.01"))).toBe(true)
        expect(rules.tradable).toBe(true)
        expect((yield* Effect.flip(exchange.contract("NOPE-USDT")))._tag).toBe("ExchangeRejectedError")
        expect(BigDecimal.equals(yield* exchange.lastPrice("ETH-USDT"), D("3000.25"))).toBe(true)
        expect(BigDecimal.equals(yield* exchange.markPrice("ETH-USDT"), D("3000.25"))).toBe(true)
        yield* exchange.placeOrder({
          symbol: "ETH-USDT",
          side: "SELL",
          positionSide: "SHORT",
          type: "MARKET",
          quantity: D("0.5"),
          clientOrderId: "tvb-h-1",
          reduceOnly: true
        })
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")[0]!.params["reduceOnly"]).toBeUndefined()
        const [position] = yield* exchange.positions("ETH-USDT")
        expect(position).toMatchObject({ symbol: "ETH-USDT", side: "short" })
        expect(BigDecimal.equals(position!.quantity, D("0.5"))).toBe(true)
        expect(BigDecimal.equals(position!.entryPrice, D("3000.25"))).toBe(true)
      }), { fake: { positionMode: "hedge" } }))
})

