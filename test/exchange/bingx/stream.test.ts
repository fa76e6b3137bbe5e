import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Layer, PubSub, References, type Scope } from "effect"
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

const withStream = <A, E>(f: (fake: FakeBingx) => Effect.Effect<A, E, Exchange | ExchangeEvents | Scope.Scope>) =>
  Effect.gen(function*() {
    const fake = yield* makeFakeBingx({ pingIntervalMs: 50 })
    const layer = UserDataStream.layer({ keepAliveMs: 150, reconnectMs: 50 }).pipe(
      Layer.provideMerge(BingxExchange.layer({ retryBaseMs: 20 })),
      Layer.provideMerge(ExchangeEvents.layer),
      Layer.provide(AppConfig.layerFrom(liveEnv(fake)))
    )
    return yield* f(fake).pipe(Effect.provide(layer))
  }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Error"))

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
})
