import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Metric, PubSub, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { type Notification } from "../../src/notify/Notifier.ts"
import { FillEvents } from "../../src/orders/FillEvents.ts"
import { OrderExecutor } from "../../src/orders/OrderExecutor.ts"
import { OrderService } from "../../src/orders/OrderService.ts"
import { SignalQueue } from "../../src/orders/SignalQueue.ts"
import { orderTransitions } from "../../src/telemetry/metrics.ts"
import { FAKE_SECRET, type FakeBingx, type FakeBingxOptions, makeFakeBingx } from "../fakes/bingx.ts"
import { liveEnv } from "../support/bingx.ts"
import { layerTestDatabase } from "../support/db.ts"
import { orderStack, type StackOptions } from "../support/orderStack.ts"
import { fillsOf, insertOrder, orderState, resetTables, waitForStatus } from "../support/orders.ts"
import * as Crypto from "node:crypto"

type Stack = Layer.Success<ReturnType<typeof orderStack>>

const withLive = <A, E>(
  f: (fake: FakeBingx, sent: Array<Notification>) => Effect.Effect<A, E, Stack | SqlClient.SqlClient | Scope.Scope>,
  options: { readonly fake?: FakeBingxOptions; readonly env?: Record<string, string>; readonly stack?: StackOptions } = {}
) =>
  Effect.gen(function*() {
    yield* resetTables
    const fake = yield* makeFakeBingx(options.fake)
    const sent: Array<Notification> = []
    return yield* f(fake, sent).pipe(
      Effect.provide(orderStack(liveEnv(fake, options.env), { notifications: sent, ...options.stack }))
    )
  }).pipe(Effect.scoped)

const offer = (orderId: string, symbol = "BTC-USDT") =>
  SignalQueue.use((q) => q.offer({ orderId, symbol, enqueuedAt: Date.now(), parentSpan: undefined }))

const transitions = (status: string) =>
  Effect.map(Metric.value(Metric.withAttributes(orderTransitions, { symbol: "BTC-USDT", status })), (s) => Number(s.count))

const hmac = (payload: string) => Crypto.createHmac("sha256", FAKE_SECRET).update(payload).digest("hex")

layer(layerTestDatabase, { excludeTestServices: true, timeout: 120_000 })("order actor (live, against the fake BingX)", (it) => {
  it.effect("a pending order offered to the queue becomes exactly one signed MARKET order and a filled order with its fill", () =>
    withLive((fake, sent) =>
      Effect.gen(function*() {
        const fillEvents = yield* (yield* FillEvents).subscribe
        const filledBefore = yield* transitions("filled")
        const id = yield* insertOrder({ quantity: "0.01" })
        yield* offer(id)
        yield* waitForStatus([id], ["filled"])
        const executor = yield* OrderExecutor
        const order = yield* orderState(id)
        expect(order).toMatchObject({
          status: "filled",
          client_order_id: `tvb-${executor.clientOrderIdPrefix}-${id}`,
          exchange_order_id: "1736011869418901234",
          leverage: 5,
          margin_mode: "isolated",
          reason: null
        })
        expect(order.client_order_id!.length).toBeLessThanOrEqual(40)
        expect(order.client_order_id).toBe(order.client_order_id!.toLowerCase())
        expect(Number(order.filled_quantity)).toBe(0.01)
        expect(Number(order.average_price)).toBe(65000.5)

        const posts = fake.requests("/openApi/swap/v2/trade/order", "POST")
        expect(posts).toHaveLength(1)
        const post = posts[0]!
        expect(post.signatureValid).toBe(true)
        // Independently re-check the signature: sorted raw params, HMAC-SHA256 with the secret.
        const signed = post.keys.filter((k) => k !== "signature").map((k) => `${k}=${post.params[k]}`).join("&")
        expect(post.keys.filter((k) => k !== "signature")).toEqual([...post.keys.filter((k) => k !== "signature")].sort())
        expect(post.params["signature"]).toBe(hmac(signed))
        expect(post.params).toMatchObject({
          symbol: "BTC-USDT",
          side: "BUY",
          positionSide: "BOTH",
          type: "MARKET",
          quantity: "0.01",
          clientOrderId: order.client_order_id
        })
        expect(fake.placed()).toHaveLength(1)

        const fills = yield* fillsOf(id)
        expect(fills).toHaveLength(1)
        expect(Number(fills[0]!.quantity)).toBe(0.01)
        expect(Number(fills[0]!.price)).toBe(65000.5)
        expect(Number(fills[0]!.fee)).toBeCloseTo(0.3250025, 10)
        expect(fills[0]!.fee).toMatch(/^0\.3250025/)
        const event = yield* PubSub.take(fillEvents)
        expect(event).toMatchObject({ orderId: id, symbol: "BTC-USDT", action: "buy", quantity: "0.01", price: "65000.5", fee: "0.3250025" })
        expect(sent.filter((n) => n._tag === "OrderUpdate")).toEqual([
          expect.objectContaining({ orderId: id, status: "filled", price: "65000.5", quantity: "0.01" })
        ])
        expect((yield* transitions("filled")) - filledBefore).toBe(1)
        // The read API shows it.
        const view = yield* (yield* OrderService).get(id)
        expect(view).toMatchObject({ id, status: "filled", filled_quantity: "0.01", average_price: "65000.5" })
        expect(view.fills).toHaveLength(1)
      })))
})
