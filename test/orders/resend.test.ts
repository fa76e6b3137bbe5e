/**
 * Re-sending after an unknown outcome sends exactly the planned request (the order actor against
 * the BingX fake, in process): the same clientOrderId, rounded quantity, stop-loss and take-profit
 * as the first attempt — whether the resend comes from the submit loop or from reconciliation —
 * and never a second order at the exchange.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, References } from "effect"
import { OrderRepo } from "../../src/orders/OrderRepo.ts"
import { queuedOrder, SignalQueue } from "../../src/orders/SignalQueue.ts"
import { makeFakeBingx } from "../fakes/bingx.ts"
import { liveEnv } from "../support/bingx.ts"
import { layerTestDatabase, resetTables } from "../support/database.ts"
import { orderStack } from "../support/orderStack.ts"
import { insertOrder, waitForStatus } from "../support/orders.ts"

const ORDER = "/openApi/swap/v2/trade/order"

const quiet = Effect.provideService(References.MinimumLogLevel, "Error")

/** What a POST asked the exchange for (the parameters a resend must repeat). */
const asked = (params: Readonly<Record<string, string>>) => ({
  clientOrderId: params["clientOrderId"],
  side: params["side"],
  positionSide: params["positionSide"],
  quantity: params["quantity"],
  stopLoss: params["stopLoss"],
  takeProfit: params["takeProfit"]
})

layer(layerTestDatabase, { excludeTestServices: true, timeout: 120_000 })("resend after an unknown outcome", (it) => {
  it.effect("an order whose answer is lost is re-sent by reconciliation with the same rounded quantity, stop-loss and take-profit", () =>
    Effect.gen(function*() {
      yield* resetTables
      const fake = yield* makeFakeBingx()
      // The signal's price (64000) is not the live one (65000.5): the plan sizes and checks with the live price.
      // 100 USDT × 5 / 65000.5 = 0.00769224… → 0.0076; SL 60000.04 → 60000, TP 70000.06 → 70000.1 (1 decimal).
      const run = Effect.gen(function*() {
        // The placement hangs (nothing placed; the client gives up: unknown outcome) and the query
        // that should resolve it is refused: the order is left `submitted` for reconciliation.
        fake.inject(ORDER, { kind: "hang" }, { method: "POST" })
        fake.inject(ORDER, { kind: "code", code: 109500, msg: "query refused" }, { method: "GET" })
        const id = yield* insertOrder({
          quantity: null,
          marginUsdt: "100",
          leverage: 5,
          price: "64000",
          stopLoss: "60000.04",
          takeProfit: "70000.06"
        })
        const item = yield* queuedOrder({ orderId: id, symbol: "BTC-USDT" })
        yield* SignalQueue.use((q) => q.offer(item))
        yield* waitForStatus([id], ["filled"], "20 seconds")
        const posts = fake.requests(ORDER, "POST")
        expect(posts).toHaveLength(2)
        expect(posts[0]!.answer?.http).toBe(0) // the first one was never answered
        expect(asked(posts[0]!.params)).toEqual({
          clientOrderId: expect.stringMatching(/^tvb-[0-9a-z]{8}-\d+$/),
          side: "BUY",
          positionSide: "BOTH",
          quantity: "0.0076",
          stopLoss: "{\"type\":\"STOP_MARKET\",\"stopPrice\":60000,\"workingType\":\"MARK_PRICE\"}",
          takeProfit: "{\"type\":\"TAKE_PROFIT_MARKET\",\"stopPrice\":70000.1,\"workingType\":\"MARK_PRICE\"}"
        })
        expect(asked(posts[1]!.params)).toEqual(asked(posts[0]!.params))
        expect(fake.placed()).toHaveLength(1)
        const order = yield* OrderRepo.use((r) => r.get(id))
        expect(order?.planned?.clientOrderId).toBe(posts[0]!.params["clientOrderId"])
      })
      yield* run.pipe(
        Effect.provide(orderStack(liveEnv(fake, { RECONCILE_INTERVAL_SECONDS: "1" }), { executor: { retryBaseMs: 50, settlePollMs: [] } }))
      )
    }).pipe(Effect.scoped, quiet))
})
