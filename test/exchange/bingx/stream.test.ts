import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Layer, Logger, PubSub, References, type Scope } from "effect"
import { AppConfig } from "../../../src/config.ts"
import * as BingxExchange from "../../../src/exchange/bingx/BingxExchange.ts"
import * as UserDataStream from "../../../src/exchange/bingx/UserDataStream.ts"
import { Exchange } from "../../../src/exchange/Exchange.ts"
import { ExchangeEvents } from "../../../src/exchange/ExchangeEvents.ts"
import { type FakeBingx, makeFakeBingx } from "../../fakes/bingx.ts"
import { liveEnv } from "../../support/bingx.ts"

const until = (check: () => boolean, what: string) =>
  Effect.gen(function*() {
    while (!check()) yield* Effect.sleep("20 millis")
  }).pipe(Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.die(new Error(`timed out: ${what}`)) }))

const withStream = <A, E>(
  f: (fake: FakeBingx) => Effect.Effect<A, E, Exchange | ExchangeEvents | Scope.Scope>,
  logs?: Array<{ readonly level: string; readonly message: string }>
) =>
  Effect.gen(function*() {
    const fake = yield* makeFakeBingx({ pingIntervalMs: 50 })
    const layer = UserDataStream.layer({ keepAliveMs: 150, reconnectMs: 50 }).pipe(
      Layer.provideMerge(BingxExchange.layer({ retryBaseMs: 20 })),
      Layer.provideMerge(ExchangeEvents.layer),
      Layer.provide(AppConfig.layerFrom(liveEnv(fake)))
    )
    return yield* f(fake).pipe(Effect.provide(layer))
  }).pipe(
    Effect.scoped,
    logs === undefined
      ? Effect.provideService(References.MinimumLogLevel, "Error")
      : Effect.provide(Layer.mergeAll(
        Logger.layer([Logger.make((o) => {
          logs.push({ level: o.logLevel, message: [o.message].flat().map(String).join(" ") })
        })]),
        Layer.succeed(References.MinimumLogLevel, "Warn")
      ))
  )

describe("BingX user-data stream", () => {
  it.live("listenKey, gzip frames, Ping→Pong, keep-alive; order updates and protective fills become events", () =>
    withStream((fake) =>
      Effect.gen(function*() {
        const events = yield* (yield* ExchangeEvents).subscribe
        yield* until(() => fake.ws.connections === 1, "connection")
        const [created] = fake.requests("/openApi/user/auth/userDataStream", "POST")
        expect(created!.headers["x-bx-apikey"]).toBeDefined()
        yield* until(() => fake.ws.pongs >= 2, "pongs")
        yield* until(() => fake.requests("/openApi/user/auth/userDataStream", "PUT").length >= 1, "keep-alive")
        const [keepAlive] = fake.requests("/openApi/user/auth/userDataStream", "PUT")
        expect(fake.listenKeys.has(keepAlive!.params["listenKey"]!)).toBe(true)

        fake.pushEvent({
          e: "ORDER_TRADE_UPDATE",
          E: 1,
          o: { s: "BTC-USDT", c: "tvb-abc-7", i: 1736011869418901299n, S: "BUY", o: "MARKET", X: "FILLED", x: "TRADE", z: "0.01", ap: "65000", n: "-0.1", N: "USDT", ps: "BOTH" }
        })
        expect(yield* PubSub.take(events)).toEqual({
          _tag: "OrderChanged",
          symbol: "BTC-USDT",
          orderId: "1736011869418901299",
          clientOrderId: "tvb-abc-7",
          status: "filled"
        })
        fake.pushEvent({
          e: "ORDER_TRADE_UPDATE",
          E: 2,
          o: { s: "ETH-USDT", c: "", i: 1736011869418901300n, S: "BUY", o: "TAKE_PROFIT_MARKET", X: "FILLED", x: "TRADE", z: "0.5", ap: "2900.5", n: "-0.725125", N: "USDT", ps: "SHORT", T: 1700000000000 }
        })
        const fill = yield* PubSub.take(events)
        expect(fill).toMatchObject({
          _tag: "ProtectiveFill",
          kind: "take_profit",
          symbol: "ETH-USDT",
          exchangeOrderId: "1736011869418901300",
          side: "BUY",
          positionSide: "SHORT",
          filledAt: new Date(1700000000000)
        })
        if (fill._tag === "ProtectiveFill") {
          expect(BigDecimal.format(fill.fee)).toBe("0.725125")
          expect(BigDecimal.format(fill.price)).toBe("2900.5")
        }
      })))

  it.live("ACCOUNT_CONFIG_UPDATE feeds the leverage cache; a dropped connection or an expired listenKey reconnects", () =>
    withStream((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        yield* until(() => fake.ws.connections === 1, "connection")
        expect(yield* exchange.positionMode).toBe("one_way")
        fake.pushEvent({ e: "ACCOUNT_CONFIG_UPDATE", E: 1, ac: { s: "BTC-USDT", l: 12, S: 12, mt: "isolated" } })
        yield* Effect.sleep("100 millis")
        yield* exchange.setLeverage("BTC-USDT", 12, "BOTH")
        yield* exchange.setMarginType("BTC-USDT", "ISOLATED")
        // Both already known from the stream: nothing asked, nothing set.
        expect(fake.requests("/openApi/swap/v2/trade/leverage")).toHaveLength(0)
        expect(fake.requests("/openApi/swap/v2/trade/marginType")).toHaveLength(0)

        fake.dropStreams()
        yield* until(() => fake.ws.connections === 2, "reconnect after a drop")
        fake.pushEvent({ e: "listenKeyExpired", E: 2, listenKey: "x" })
        yield* until(() => fake.ws.connections === 3, "reconnect after listenKeyExpired")
        expect(fake.requests("/openApi/user/auth/userDataStream", "POST")).toHaveLength(3)
      })))

  it.live("a malformed event is logged naming its field and dropped — never published with a default side, status, id or time", () => {
    const logs: Array<{ readonly level: string; readonly message: string }> = []
    return withStream((fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const events = yield* (yield* ExchangeEvents).subscribe
        yield* until(() => fake.ws.connections === 1, "connection")
        const order = { s: "BTC-USDT", c: "tvb-abc-8", i: 1736011869418901301n, S: "BUY", o: "MARKET", X: "FILLED", ps: "BOTH" }
        const stop = { s: "ETH-USDT", c: "", i: 1736011869418901302n, S: "SELL", o: "STOP_MARKET", X: "FILLED", z: "0.5", ap: "2900", n: "-0.725", N: "USDT", ps: "LONG", T: 1700000000000 }
        const malformed: ReadonlyArray<readonly [unknown, string]> = [
          [{ e: "ORDER_TRADE_UPDATE", E: 1, o: { ...order, X: "DONE" } }, "BingX ORDER_TRADE_UPDATE event: o.X is \"DONE\""],
          [{ e: "ORDER_TRADE_UPDATE", E: 1, o: { ...order, S: "HOLD" } }, "o.S is \"HOLD\""],
          [{ e: "ORDER_TRADE_UPDATE", E: 1, o: { ...order, i: undefined } }, "o.i is missing"],
          [{ e: "ORDER_TRADE_UPDATE", E: 1, o: { ...order, s: "" } }, "o.s is \"\""],
          [{ e: "ORDER_TRADE_UPDATE", E: 1 }, "o is missing"],
          [{ e: "ORDER_TRADE_UPDATE", o: { ...stop, T: 0 } }, "o.T is missing or 0 (and so is E)"],
          [{ e: "ORDER_TRADE_UPDATE", E: 1, o: { ...stop, n: undefined } }, "o.n is missing"],
          [{ e: "ORDER_TRADE_UPDATE", E: 1, o: { ...stop, ap: "0" } }, "o.ap is \"0\""],
          [{ e: "ACCOUNT_UPDATE", E: 1, a: { m: "ORDER", B: [{ a: "USDT", cw: "1" }] } }, "BingX ACCOUNT_UPDATE event: a.B[0].wb is missing"],
          [{ e: "ACCOUNT_CONFIG_UPDATE", E: 1, ac: { s: "BTC-USDT", l: 20, mt: "separate" } }, "BingX ACCOUNT_CONFIG_UPDATE event: ac.mt is \"separate\""]
        ]
        for (const [event] of malformed) fake.pushEvent(event)
        // A rebate (positive `n`) is a negative fee, exactly.
        fake.pushEvent({ e: "ORDER_TRADE_UPDATE", E: 2, o: { ...stop, n: "0.1" } })
        const first = yield* PubSub.take(events)
        expect(first).toMatchObject({ _tag: "ProtectiveFill", kind: "stop_loss", side: "SELL", positionSide: "LONG" })
        if (first._tag === "ProtectiveFill") expect(BigDecimal.format(first.fee)).toBe("-0.1")
        const dropped = logs.filter((l) => l.level === "Warn" && l.message.startsWith("user-data stream: event dropped: "))
        for (const [, problem] of malformed) {
          expect(dropped.some((l) => l.message.includes(problem)), problem).toBe(true)
        }
        // The dropped config update did not reach the cache: the margin type is read from the account.
        expect(yield* exchange.positionMode).toBe("one_way")
        yield* exchange.setMarginType("BTC-USDT", "ISOLATED")
        expect(fake.requests("/openApi/swap/v2/trade/marginType", "GET")).toHaveLength(1)
      }), logs)
  })
})
