import { expect, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Metric, Option, PubSub, References, Scope, Tracer } from "effect"
import { BotSettings } from "../../src/settings/BotSettings.ts"
import { SqlClient } from "effect/sql"
import { type Notification } from "../../src/notify/Notifier.ts"
import { FillEvents } from "../../src/orders/FillEvents.ts"
import { OrderExecutor } from "../../src/orders/OrderExecutor.ts"
import { OrderService } from "../../src/orders/OrderService.ts"
import { orderJson } from "../../src/orders/OrderView.ts"
import { queuedOrder, SignalQueue } from "../../src/orders/SignalQueue.ts"
import {
  exchangeRequestDuration,
  orderNotional,
  orderSubmitDuration,
  orderTransitions,
  signalQueueWait
} from "../../src/telemetry/metrics.ts"
import { FAKE_SECRET, type FakeBingx, type FakeBingxOptions, makeFakeBingx } from "../fakes/bingx.ts"
import { liveEnv } from "../support/bingx.ts"
import { layerTestDatabase, resetTables } from "../support/database.ts"
import { orderStack, type StackOptions } from "../support/orderStack.ts"
import { fillsOf, insertOrder, orderState, waitForStatus } from "../support/orders.ts"
import { TestClock } from "effect/testing"
import * as Crypto from "node:crypto"

type Stack = Layer.Success<ReturnType<typeof orderStack>>

const withLive = <A, E>(
  f: (fake: FakeBingx, sent: Array<Notification>) => Effect.Effect<A, E, Stack | SqlClient.SqlClient | Scope.Scope>,
  options: {
    readonly fake?: FakeBingxOptions
    readonly env?: Record<string, string>
    readonly stack?: StackOptions
    readonly tracer?: Tracer.Tracer
  } = {}
) =>
  Effect.gen(function*() {
    yield* resetTables
    const fake = yield* makeFakeBingx(options.fake)
    const sent: Array<Notification> = []
    const run = f(fake, sent).pipe(
      Effect.provide(orderStack(liveEnv(fake, options.env), { notifications: sent, ...options.stack }))
    )
    return yield* (options.tracer === undefined ? run : Effect.withTracer(run, options.tracer))
  }).pipe(Effect.scoped, quiet)

/** Only errors on the console (the tests assert on state, not on log lines). */
const quiet = Effect.provideService(References.MinimumLogLevel, "Error")

/** Starts the whole stack in its own scope (a "process"); `stop` closes it. */
const startProcess = (env: Record<string, string>, stack: StackOptions) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(orderStack(env, stack), scope)
    return { context, stop: Scope.close(scope, Exit.void) }
  })

const offer = (orderId: string, symbol = "BTC-USDT") =>
  Effect.flatMap(queuedOrder({ orderId, symbol }), (item) => SignalQueue.use((q) => q.offer(item)))

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
        const submitted = yield* Metric.value(Metric.withAttributes(orderSubmitDuration, { symbol: "BTC-USDT" }))
        expect(submitted.count).toBeGreaterThanOrEqual(1)
        const notional = yield* Metric.value(Metric.withAttributes(orderNotional, { symbol: "BTC-USDT", action: "buy" }))
        expect(Number(notional.count)).toBeGreaterThanOrEqual(650.005)
        const placeLatency = yield* Metric.value(Metric.withAttributes(exchangeRequestDuration, { endpoint: "/openApi/swap/v2/trade/order" }))
        expect(placeLatency.count).toBeGreaterThanOrEqual(1)
        expect((yield* Metric.value(signalQueueWait)).count).toBeGreaterThanOrEqual(1)
        // The read API shows it.
        const view = orderJson(yield* (yield* OrderService).get(id))
        expect(view).toMatchObject({ id, status: "filled", filled_quantity: "0.01", average_price: "65000.5" })
        expect(view.fills).toHaveLength(1)
      })))

  it.effect("one-way: BOTH, reduceOnly only for closes; margin type and leverage set once per value", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const open = yield* insertOrder({ quantity: "0.02" })
        const add = yield* insertOrder({ quantity: "0.01", positionSide: "long" })
        const close = yield* insertOrder({ action: "sell", positionSide: "long", quantity: "0.03" })
        const flat = yield* insertOrder({ action: "sell", reduceOnly: true, quantity: "0.01", leverage: 7 })
        const short = yield* insertOrder({ action: "sell", quantity: "0.01", leverage: 7 })
        for (const id of [open, add, close, flat, short]) yield* offer(id)
        yield* waitForStatus([open, add, close, short], ["filled"])
        yield* waitForStatus([flat], ["rejected"])
        const posts = fake.requests("/openApi/swap/v2/trade/order", "POST").map((r) => r.params)
        expect(posts.map((p) => [p["side"], p["positionSide"], p["reduceOnly"] ?? null, p["quantity"]])).toEqual([
          ["BUY", "BOTH", null, "0.02"],
          ["BUY", "BOTH", null, "0.01"],
          ["SELL", "BOTH", "true", "0.03"],
          ["SELL", "BOTH", "true", "0.01"], // nothing left to reduce: refused by the exchange
          ["SELL", "BOTH", null, "0.01"]
        ])
        expect((yield* orderState(flat)).reason).toContain("101290")
        // Margin type once; leverage 5 once, then 7 once (the closes set nothing).
        expect(fake.requests("/openApi/swap/v2/trade/marginType", "POST")).toHaveLength(1)
        expect(fake.requests("/openApi/swap/v2/trade/leverage", "POST").map((r) => [r.params["side"], r.params["leverage"]])).toEqual([
          ["BOTH", "5"],
          ["BOTH", "7"]
        ])
        expect(fake.requests("/openApi/swap/v1/positionSide/dual")).toHaveLength(1)
      })))

  it.effect("hedge: LONG/SHORT from position_side (or from the action), closes on the same side, never reduceOnly", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const ids = [
          yield* insertOrder({ action: "buy", quantity: "0.02" }), // open long (no position_side)
          yield* insertOrder({ action: "sell", positionSide: "short", quantity: "0.01" }), // open short
          yield* insertOrder({ action: "sell", positionSide: "long", quantity: "0.01" }), // close long
          yield* insertOrder({ action: "buy", positionSide: "short", quantity: "0.01" }), // close short
          yield* insertOrder({ action: "sell", reduceOnly: true, quantity: "0.01" }) // close long (reduce-only, no side)
        ]
        for (const id of ids) yield* offer(id)
        yield* waitForStatus(ids, ["filled"])
        const posts = fake.requests("/openApi/swap/v2/trade/order", "POST").map((r) => r.params)
        expect(posts.map((p) => [p["side"], p["positionSide"]])).toEqual([
          ["BUY", "LONG"],
          ["SELL", "SHORT"],
          ["SELL", "LONG"],
          ["BUY", "SHORT"],
          ["SELL", "LONG"]
        ])
        expect(posts.every((p) => p["reduceOnly"] === undefined)).toBe(true)
        expect(fake.requests("/openApi/swap/v2/trade/leverage", "POST").map((r) => r.params["side"])).toEqual(["LONG", "SHORT"])
        // Fills are booked on the leg the exchange used (the PnL ledger needs it in hedge mode).
        const sql = yield* SqlClient.SqlClient
        const booked = yield* sql<{ position_side: string | null }>`SELECT position_side FROM fills ORDER BY order_id`
        expect(booked.map((r) => r.position_side)).toEqual(["long", "short", "long", "short", "long"])
      }), { fake: { positionMode: "hedge" } }))

  it.effect("margin sizing (margin_usdt × leverage / price, rounded down), min quantity and SL/TP side are checked before sending", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const sized = yield* insertOrder({ quantity: null, marginUsdt: "100", leverage: 5 })
        const tiny = yield* insertOrder({ quantity: "0.00001" })
        const cheap = yield* insertOrder({ symbol: "SOL-USDT", quantity: "0.1" }) // 15 USDT ok
        const wrongSl = yield* insertOrder({ quantity: "0.01", stopLoss: "70000" })
        const wrongTp = yield* insertOrder({ action: "sell", quantity: "0.01", takeProfit: "70000" })
        const protectedEntry = yield* insertOrder({ quantity: "0.01", stopLoss: "60000.04", takeProfit: "70000" })
        const tooMuchLeverage = yield* insertOrder({ quantity: "0.01", leverage: 126 })
        const unknown = yield* insertOrder({ symbol: "NOPE-USDT", quantity: "1" })
        for (const id of [sized, tiny, wrongSl, wrongTp, protectedEntry, tooMuchLeverage, unknown]) yield* offer(id)
        yield* offer(cheap, "SOL-USDT")
        yield* offer(unknown, "NOPE-USDT")
        yield* waitForStatus([sized, protectedEntry, cheap], ["filled"])
        yield* waitForStatus([tiny, wrongSl, wrongTp, tooMuchLeverage, unknown], ["rejected"])
        // 100 × 5 / 65000.5 = 0.007692248… → 0.0076 (4 decimals, down)
        expect((yield* orderState(sized)).quantity).toBe("0.0076")
        expect((yield* orderState(tiny)).reason).toBe(
          "quantity 0 (0.00001 rounded down to 4 decimals) is below the minimum 0.0001 for BTC-USDT"
        )
        expect((yield* orderState(wrongSl)).reason).toBe(
          "stop_loss 70000 must be below the price 65000.5 for a long entry"
        )
        expect((yield* orderState(wrongTp)).reason).toContain("take_profit 70000 must be below the price")
        expect((yield* orderState(tooMuchLeverage)).reason).toBe("leverage 126 is above the maximum 125 for BTC-USDT")
        expect((yield* orderState(unknown)).reason).toContain("NOPE-USDT cannot be traded")
        const posts = fake.requests("/openApi/swap/v2/trade/order", "POST").map((r) => r.params)
        expect(posts.map((p) => `${p["symbol"]} ${p["quantity"]}`).sort()).toEqual(["BTC-USDT 0.0076", "BTC-USDT 0.01", "SOL-USDT 0.1"])
        const entry = posts.find((p) => p["stopLoss"] !== undefined)!
        // Rounded to the contract's price precision (1 decimal).
        expect(JSON.parse(entry["stopLoss"]!)).toEqual({ type: "STOP_MARKET", stopPrice: 60000, workingType: "MARK_PRICE" })
        expect(JSON.parse(entry["takeProfit"]!)).toEqual({ type: "TAKE_PROFIT_MARKET", stopPrice: 70000, workingType: "MARK_PRICE" })
      })))

  const priceReads = (fake: FakeBingx, symbol: string) =>
    fake.requests("/openApi/swap/v2/quote/price", "GET").filter((r) => r.params["symbol"] === symbol).length

  it.effect("the price read for one order sizes the next orders of its symbol for ORDER_PRICE_MAX_AGE_MS (one round trip less)", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const first = yield* insertOrder({ quantity: null, marginUsdt: "100", leverage: 5 })
        const second = yield* insertOrder({ quantity: null, marginUsdt: "100", leverage: 5 })
        const other = yield* insertOrder({ symbol: "SOL-USDT", quantity: "0.1" })
        yield* offer(first)
        yield* waitForStatus([first], ["filled"])
        fake.prices.set("BTC-USDT", "50000")
        yield* offer(second)
        yield* offer(other, "SOL-USDT")
        yield* waitForStatus([second, other], ["filled"])
        // Both sized with the price read for the first: 100 × 5 / 65000.5 → 0.0076.
        expect((yield* orderState(first)).quantity).toBe("0.0076")
        expect((yield* orderState(second)).quantity).toBe("0.0076")
        expect(priceReads(fake, "BTC-USDT")).toBe(1)
        expect(priceReads(fake, "SOL-USDT")).toBe(1)
      }), { env: { ORDER_PRICE_MAX_AGE_MS: "60000" } }))

  it.effect("ORDER_PRICE_MAX_AGE_MS=0: every order asks the exchange for its price", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const first = yield* insertOrder({ quantity: null, marginUsdt: "100", leverage: 5 })
        const second = yield* insertOrder({ quantity: null, marginUsdt: "100", leverage: 5 })
        yield* offer(first)
        yield* waitForStatus([first], ["filled"])
        fake.prices.set("BTC-USDT", "50000")
        yield* offer(second)
        yield* waitForStatus([second], ["filled"])
        expect((yield* orderState(first)).quantity).toBe("0.0076")
        // 100 × 5 / 50000 = 0.01
        expect((yield* orderState(second)).quantity).toBe("0.01")
        expect(priceReads(fake, "BTC-USDT")).toBe(2)
      }), { env: { ORDER_PRICE_MAX_AGE_MS: "0" } }))

  it.effect("a margin-type or leverage refusal stops the order with a clear reason", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        fake.inject("/openApi/swap/v2/trade/marginType", { kind: "code", code: 101212, msg: "pending orders exist on this pair" }, {
          method: "POST"
        })
        const id = yield* insertOrder({ quantity: "0.01" })
        yield* offer(id)
        yield* waitForStatus([id], ["rejected"])
        expect((yield* orderState(id)).reason).toBe(
          "could not set margin type ISOLATED on BTC-USDT: BingX 101212: pending orders exist on this pair"
        )
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")).toHaveLength(0)
      })))

  it.effect("transient failures are retried with the SAME clientOrderId; a permanent refusal is not retried", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        fake.inject("/openApi/swap/v2/trade/order", { kind: "code", code: 100500, msg: "internal error" }, { method: "POST", times: 3 })
        const retried = yield* insertOrder({ quantity: "0.01" })
        yield* offer(retried)
        yield* waitForStatus([retried], ["filled"])
        const posts = fake.requests("/openApi/swap/v2/trade/order", "POST")
        expect(posts).toHaveLength(4)
        expect(new Set(posts.map((p) => p.params["clientOrderId"]))).toEqual(new Set([(yield* orderState(retried)).client_order_id]))
        expect(fake.placed()).toHaveLength(1)

        fake.inject("/openApi/swap/v2/trade/order", { kind: "code", code: 101204, msg: "Insufficient margin" }, { method: "POST" })
        const refused = yield* insertOrder({ quantity: "0.01" })
        yield* offer(refused)
        yield* waitForStatus([refused], ["rejected"])
        expect((yield* orderState(refused)).reason).toBe("the exchange refused the order: BingX 101204: Insufficient margin")
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")).toHaveLength(5)
        expect(fake.placed()).toHaveLength(1)
      }), { env: { BINGX_MAX_RETRIES: "1" } }))

  it.effect("an unknown outcome is resolved by querying the clientOrderId: no duplicate, and a resend only when it was not placed", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        // Placed, but the answer is lost (timeout).
        fake.inject("/openApi/swap/v2/trade/order", { kind: "executeThenHang" }, { method: "POST" })
        const lost = yield* insertOrder({ quantity: "0.01" })
        yield* offer(lost)
        yield* waitForStatus([lost], ["filled"])
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")).toHaveLength(1)
        expect(fake.requests("/openApi/swap/v2/trade/order", "GET").map((r) => r.params["clientOrderId"])).toEqual([
          (yield* orderState(lost)).client_order_id
        ])
        // Placed, answered 101500 (rpc timeout).
        fake.inject("/openApi/swap/v2/trade/order", { kind: "executeThenCode", code: 101500, msg: "rpc timeout" }, { method: "POST" })
        const rpc = yield* insertOrder({ quantity: "0.01" })
        yield* offer(rpc)
        yield* waitForStatus([rpc], ["filled"])
        // NOT placed, answered 502: the query finds nothing, the same clientOrderId is sent again.
        fake.inject("/openApi/swap/v2/trade/order", { kind: "http", status: 502 }, { method: "POST" })
        const notPlaced = yield* insertOrder({ quantity: "0.01" })
        yield* offer(notPlaced)
        yield* waitForStatus([notPlaced], ["filled"])
        const cid = (yield* orderState(notPlaced)).client_order_id
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST").filter((r) => r.params["clientOrderId"] === cid)).toHaveLength(2)
        expect(fake.placed().map((o) => o.clientOrderId)).toEqual([
          (yield* orderState(lost)).client_order_id,
          (yield* orderState(rpc)).client_order_id,
          cid
        ])
        for (const id of [lost, rpc, notPlaced]) expect(yield* fillsOf(id)).toHaveLength(1)
      })))

  it.effect("the breaker opens after N transient failures, holds orders (not dropped), probes once and recovers", () => {
    const sent: Array<Notification> = []
    return withLive((fake) =>
      Effect.gen(function*() {
        fake.inject("/openApi/swap/v1/positionSide/dual", { kind: "http", status: 503 }, { times: 3 })
        const first = yield* insertOrder({ quantity: "0.01" })
        yield* offer(first)
        yield* Effect.sleep("400 millis")
        const second = yield* insertOrder({ symbol: "ETH-USDT", quantity: "0.1" })
        yield* offer(second, "ETH-USDT")
        expect((yield* (yield* OrderService).breakerStatus).state).not.toBe("closed")
        yield* waitForStatus([first, second], ["filled"])
        expect((yield* (yield* OrderService).breakerStatus)).toMatchObject({ state: "closed", consecutiveFailures: 0 })
        const breaker = sent.filter((n) => n._tag === "BreakerChanged").map((n) => n._tag === "BreakerChanged" && n.state)
        expect(breaker).toEqual(["open", "half_open", "open", "half_open", "closed"])
        const dual = fake.requests("/openApi/swap/v1/positionSide/dual")
        expect(dual.map((r) => r.answer?.http)).toEqual([503, 503, 503, 200])
        // The probe waited for the cool-down each time.
        expect(dual[2]!.at - dual[1]!.at).toBeGreaterThanOrEqual(900)
        expect(dual[3]!.at - dual[2]!.at).toBeGreaterThanOrEqual(900)
        expect(fake.placed()).toHaveLength(2)
      }), {
      env: { BINGX_MAX_RETRIES: "0", EXCHANGE_BREAKER_THRESHOLD: "2", EXCHANGE_BREAKER_COOLDOWN_SECONDS: "1" },
      stack: { notifications: sent }
    })
  })

  it.effect("orders of one symbol keep their order; different symbols run concurrently", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        fake.inject("/openApi/swap/v2/trade/order", { kind: "delay", ms: 120 }, { method: "POST", times: 100 })
        const btc: Array<string> = []
        const eth: Array<string> = []
        for (let i = 0; i < 4; i++) {
          btc.push(yield* insertOrder({ symbol: "BTC-USDT", quantity: `0.00${i + 1}` }))
          eth.push(yield* insertOrder({ symbol: "ETH-USDT", quantity: `0.0${i + 1}` }))
        }
        yield* Effect.forEach([...btc.map((id) => [id, "BTC-USDT"]), ...eth.map((id) => [id, "ETH-USDT"])], ([id, s]) => offer(id!, s!), {
          concurrency: "unbounded"
        })
        yield* waitForStatus([...btc, ...eth], ["filled"])
        const posts = fake.requests("/openApi/swap/v2/trade/order", "POST")
        const order = (symbol: string) => posts.filter((p) => p.params["symbol"] === symbol).map((p) => p.params["quantity"])
        expect(order("BTC-USDT")).toEqual(["0.001", "0.002", "0.003", "0.004"])
        expect(order("ETH-USDT")).toEqual(["0.01", "0.02", "0.03", "0.04"])
        // Concurrency: the symbols interleave instead of one finishing before the other starts.
        const symbols = posts.map((p) => p.params["symbol"])
        const firstEth = symbols.indexOf("ETH-USDT")
        const lastBtc = symbols.lastIndexOf("BTC-USDT")
        expect(firstEth).toBeLessThan(lastBtc)
      }), { env: { BINGX_TIMEOUT_MS: "2000" } }))

  it.effect("queue wait: the consumer's histogram measures, on Effect's Clock, from the producer's stamp (TestClock)", () =>
    withLive(() =>
      Effect.gen(function*() {
        // Not pending: the consumer measures the wait, finds nothing to do and returns (no exchange call, no sleep).
        const id = yield* insertOrder({ quantity: "0.01", status: "filled" })
        const executor = yield* OrderExecutor
        const before = yield* Metric.value(signalQueueWait)
        yield* Effect.gen(function*() {
          const item = yield* queuedOrder({ orderId: id, symbol: "BTC-USDT" })
          yield* TestClock.adjust("2500 millis")
          yield* executor.execute(item)
        }).pipe(Effect.provide(TestClock.layer()))
        const after = yield* Metric.value(signalQueueWait)
        expect(after.count - before.count).toBe(1)
        expect(after.sum - before.sum).toBeCloseTo(2.5, 9)
      }), { stack: { actor: false } }))

  it.effect("old orders expire instead of executing; late approvals expire in the sweep", () =>
    withLive((fake, sent) =>
      Effect.gen(function*() {
        const stale = yield* insertOrder({ quantity: "0.01", ageSeconds: 120 })
        const late = yield* insertOrder({ quantity: "0.01", status: "awaiting_approval", ageSeconds: 400 })
        const waiting = yield* insertOrder({ quantity: "0.01", status: "awaiting_approval", ageSeconds: 10 })
        yield* offer(stale)
        yield* waitForStatus([stale, late], ["expired"])
        expect((yield* orderState(stale)).reason).toMatch(/^not executed within SIGNAL_MAX_AGE_SECONDS \(60 s\); it waited 12\d s$/)
        expect((yield* orderState(late)).reason).toBe("approval timed out: not approved within APPROVAL_TIMEOUT_SECONDS (300 s)")
        expect((yield* orderState(waiting)).status).toBe("awaiting_approval")
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")).toHaveLength(0)
        expect(sent.filter((n) => n._tag === "OrderUpdate").map((n) => n._tag === "OrderUpdate" && n.status).sort()).toEqual(["expired", "expired"])
      }), { env: { RECONCILE_INTERVAL_SECONDS: "1" } }))

  it.effect("polling alone finishes an order the exchange fills later", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const polled = yield* insertOrder({ quantity: "0.01" })
        yield* offer(polled)
        yield* Effect.sleep("600 millis")
        expect((yield* orderState(polled)).status).toBe("submitted")
        expect((yield* orderState(polled)).exchange_order_id).toBe("1736011869418901234")
        fake.fillPending()
        yield* waitForStatus([polled], ["filled"], "5 seconds") // RECONCILE_INTERVAL_SECONDS=1
        expect(yield* fillsOf(polled)).toHaveLength(1)
      }), { fake: { fillMode: "new" }, env: { RECONCILE_INTERVAL_SECONDS: "1" } }))

  it.effect("user-data stream: Ping→Pong, ORDER_TRADE_UPDATE reconciles at once, a triggered stop-loss is recorded", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const entry = yield* insertOrder({ quantity: "0.01", stopLoss: "60000" })
        yield* offer(entry)
        yield* Effect.sleep("500 millis")
        expect((yield* orderState(entry)).status).toBe("submitted")
        expect(fake.ws.connections).toBe(1)
        fake.fillPending() // pushes ORDER_TRADE_UPDATE FILLED
        yield* waitForStatus([entry], ["filled"], "3 seconds") // long before RECONCILE_INTERVAL_SECONDS=3600
        expect(fake.ws.pongs).toBeGreaterThan(0)
        expect(fake.requests("/openApi/user/auth/userDataStream", "POST")).toHaveLength(1)
        expect(fake.requests("/openApi/user/auth/userDataStream", "POST")[0]!.headers["x-bx-apikey"]).toBeDefined()

        fake.pushEvent({
          e: "ORDER_TRADE_UPDATE",
          E: Date.now(),
          o: { s: "BTC-USDT", c: "", i: 1736011869418999001n, S: "SELL", o: "STOP_MARKET", q: "0.01", ap: "59990.5", X: "FILLED", x: "TRADE", N: "USDT", n: "-0.29995", z: "0.01", ps: "BOTH", T: Date.now() }
        })
        const sql = yield* SqlClient.SqlClient
        let child: ReadonlyArray<{ id: string; status: string; action: string; reason: string; exchange_order_id: string }> = []
        for (let i = 0; i < 100 && child.length === 0; i++) {
          child = yield* sql<{ id: string; status: string; action: string; reason: string; exchange_order_id: string }>`
            SELECT id::text AS id, status, action, reason, exchange_order_id FROM orders WHERE exchange_order_id = '1736011869418999001'`
          if (child.length === 0) yield* Effect.sleep("30 millis")
        }
        expect(child[0]).toMatchObject({ status: "filled", action: "sell", reason: `stop-loss of order ${entry} triggered at 59990.5` })
        const fills = yield* fillsOf(child[0]!.id)
        expect(fills.map((f) => [Number(f.quantity), Number(f.price), Number(f.fee)])).toEqual([[0.01, 59990.5, 0.29995]])
      }), { fake: { fillMode: "new", pingIntervalMs: 100 }, env: { BINGX_USER_STREAM_ENABLED: "true", RECONCILE_INTERVAL_SECONDS: "3600" }, stack: { executor: { settlePollMs: [] } } }))

  it.effect("crash recovery: killed mid-flight and restarted, every pending order is executed exactly once", () =>
    Effect.gen(function*() {
      yield* resetTables
      const fake = yield* makeFakeBingx()
      const env = liveEnv(fake, { BINGX_TIMEOUT_MS: "3000" })
      const btc = [yield* insertOrder({ quantity: "0.001" }), yield* insertOrder({ quantity: "0.002" }), yield* insertOrder({ quantity: "0.003" })]
      const eth = [
        yield* insertOrder({ symbol: "ETH-USDT", quantity: "0.01" }),
        yield* insertOrder({ symbol: "ETH-USDT", quantity: "0.02" }),
        yield* insertOrder({ symbol: "ETH-USDT", quantity: "0.03" })
      ]
      // BTC's first order executes at the exchange but its answer comes late; ETH's first never executes.
      fake.inject("/openApi/swap/v2/trade/order", { kind: "executeThenDelay", ms: 1_000 }, { method: "POST", symbol: "BTC-USDT" })
      fake.inject("/openApi/swap/v2/trade/order", { kind: "hang" }, { method: "POST", symbol: "ETH-USDT" })

      const first = yield* startProcess(env, { actor: { shutdownGraceMs: 0 } })
      while (fake.requests("/openApi/swap/v2/trade/order", "POST").length < 2) yield* Effect.sleep("10 millis")
      yield* first.stop // killed: nothing waits for the orders in flight
      const afterCrash = yield* Effect.forEach([...btc, ...eth], orderState)
      expect(afterCrash.map((o) => o.status).sort()).toEqual(["pending", "pending", "pending", "pending", "submitted", "submitted"])
      expect(fake.placed()).toHaveLength(1)

      const second = yield* startProcess(env, { actor: { shutdownGraceMs: 0 } })
      yield* waitForStatus([...btc, ...eth], ["filled"]).pipe(Effect.provide(second.context))
      yield* second.stop

      const placed = fake.placed()
      expect(placed).toHaveLength(6)
      const cids = (yield* Effect.forEach([...btc, ...eth], orderState)).map((o) => o.client_order_id)
      expect(new Set(placed.map((o) => o.clientOrderId))).toEqual(new Set(cids))
      for (const id of [...btc, ...eth]) expect(yield* fillsOf(id)).toHaveLength(1)
      // Per symbol, the exchange saw the orders in their order.
      expect(placed.filter((o) => o.symbol === "BTC-USDT").map((o) => o.quantity)).toEqual(["0.001", "0.002", "0.003"])
      expect(placed.filter((o) => o.symbol === "ETH-USDT").map((o) => o.quantity)).toEqual(["0.01", "0.02", "0.03"])
      // The executed-but-unanswered BTC order was found by its clientOrderId, never sent twice;
      // the ETH order that never executed was sent again under the same clientOrderId.
      const posts = fake.requests("/openApi/swap/v2/trade/order", "POST")
      expect(posts.filter((p) => p.params["clientOrderId"] === cids[0])).toHaveLength(1)
      expect(posts.filter((p) => p.params["clientOrderId"] === cids[3])).toHaveLength(2)
      expect(posts.some((p) => p.answer?.code === 101481)).toBe(false)
    }).pipe(Effect.scoped, quiet))

  it.effect("graceful shutdown: the actor finishes the order it is on; queued ones stay pending for the next start", () =>
    Effect.gen(function*() {
      yield* resetTables
      const fake = yield* makeFakeBingx()
      const env = liveEnv(fake, { BINGX_TIMEOUT_MS: "3000" })
      fake.inject("/openApi/swap/v2/trade/order", { kind: "delay", ms: 500 }, { method: "POST" })
      const current = yield* insertOrder({ quantity: "0.001" })
      const next = yield* insertOrder({ quantity: "0.002" })
      const process = yield* startProcess(env, { actor: { shutdownGraceMs: 5_000 } })
      while (fake.requests("/openApi/swap/v2/trade/order", "POST").length < 1) yield* Effect.sleep("10 millis")
      yield* process.stop
      expect((yield* orderState(current)).status).toBe("filled")
      expect((yield* orderState(next)).status).toBe("pending")
      expect(fake.placed()).toHaveLength(1)
    }).pipe(Effect.scoped, quiet))

  it.effect("approve / reject through the service: guarded, audited, enqueued, notified", () =>
    withLive((fake, sent) =>
      Effect.gen(function*() {
        const service = yield* OrderService
        const sql = yield* SqlClient.SqlClient
        const actor = { actor: "telegram", actorId: "4242" }
        const a = yield* insertOrder({ quantity: "0.01", status: "awaiting_approval" })
        const b = yield* insertOrder({ quantity: "0.01", status: "awaiting_approval" })
        const approved = yield* service.approve(a, actor)
        expect(approved.order.status).toBe("pending")
        yield* waitForStatus([a], ["filled"])
        const rejected = yield* service.reject(b, actor)
        expect(rejected.order).toMatchObject({ status: "rejected", reason: "rejected by operator" })
        const conflict = yield* Effect.flip(service.approve(b, actor))
        expect(conflict).toMatchObject({ _tag: "OrderConflict", message: `order ${b} is already rejected` })
        const missing = yield* Effect.flip(service.reject("424242", actor))
        expect(missing).toMatchObject({ _tag: "OrderNotFound", message: "order 424242 not found" })
        // Approving twice at once: exactly one wins.
        const c = yield* insertOrder({ quantity: "0.01", status: "awaiting_approval" })
        const both = yield* Effect.all([Effect.result(service.approve(c, actor)), Effect.result(service.approve(c, actor))], {
          concurrency: 2
        })
        expect(both.filter((r) => r._tag === "Success")).toHaveLength(1)
        yield* waitForStatus([c], ["filled"])
        expect(fake.placed()).toHaveLength(2)
        const audit = yield* sql<{ actor: string; actor_id: string; action: string; result: string }>`
          SELECT actor, actor_id, action, result FROM audit_log WHERE action LIKE 'order.%' ORDER BY id`
        expect(audit.slice(0, 3)).toEqual([
          { actor: "telegram", actor_id: "4242", action: "order.approve", result: "ok" },
          { actor: "telegram", actor_id: "4242", action: "order.reject", result: "ok" },
          { actor: "telegram", actor_id: "4242", action: "order.approve", result: `conflict: order ${b} is already rejected` }
        ])
        expect(audit.filter((r) => r.action === "order.approve" && r.result === "ok")).toHaveLength(2)
        expect(sent.filter((n) => n._tag === "OrderUpdate" && n.orderId === b).map((n) => n._tag === "OrderUpdate" && n.status)).toEqual([
          "rejected"
        ])
      })))

  it.effect("paused: a pending order is not sent while the bot is paused, and runs when it resumes", () =>
    withLive((fake) =>
      Effect.gen(function*() {
        const settings = yield* BotSettings
        yield* settings.update({ paused: true }, { actor: "test" })
        const id = yield* insertOrder({ quantity: "0.01" })
        yield* offer(id)
        yield* Effect.sleep("700 millis")
        expect((yield* orderState(id)).status).toBe("pending")
        expect(fake.requests("/openApi/swap/v2/trade/order", "POST")).toHaveLength(0)
        yield* settings.update({ paused: false }, { actor: "test" })
        yield* waitForStatus([id], ["filled"])
      })))

  it.effect("one trace: the span that queued the order is the parent of OrderService.handle_signal and of the exchange calls", () => {
    const spans: Array<Tracer.NativeSpan> = []
    const tracer = Tracer.make({
      span: (options) => {
        const span = new Tracer.NativeSpan(options)
        spans.push(span)
        return span
      }
    })
    return withLive(() =>
      Effect.gen(function*() {
        // Let the start-up sweep pass first (it would pick the order up without the webhook's span).
        yield* Effect.sleep("300 millis")
        const id = yield* insertOrder({ quantity: "0.01" })
        const webhook = yield* Effect.makeSpan("SignalService.ingest")
        // Queued inside the webhook's span, as SignalService does after its commit.
        yield* Effect.withParentSpan(offer(id), webhook)
        yield* waitForStatus([id], ["filled"])
        const handle = spans.filter((s) => s.name === "OrderService.handle_signal" && s.attributes.get("order.id") === id)
        expect(handle).toHaveLength(1)
        expect(Option.getOrUndefined(handle[0]!.parent)?.spanId).toBe(webhook.spanId)
        expect(handle[0]!.traceId).toBe(webhook.traceId)
        const place = spans.find((s) => s.name === "BingxExchange.placeOrder")!
        expect(place.traceId).toBe(webhook.traceId)
      }), { tracer })
  })
})
