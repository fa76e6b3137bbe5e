/**
 * Exchange faults end to end: the real process (`node src/main.ts --role api`, live
 * trading) against the BingX fake, alerts through the webhook, outcomes read from GET /orders/{id},
 * /bot/status, /metrics — and from what the Telegram fake received.
 *
 * - transient faults (5xx and 429 on reads, 80012, 100410 with its unblock time, HTTP 429 with
 *   Retry-After) are retried within BINGX_MAX_RETRIES and the order is filled once;
 * - unknown outcomes (the request hangs or is answered 5xx / 101500, executed or not) are resolved
 *   by querying the clientOrderId: never a second order, a resend only when none was placed;
 * - permanent refusals (101204 insufficient margin, 100001 signature) are sent once and end the
 *   order `rejected` with the exchange's reason, shown in the API and in Telegram;
 * - clock drift (100421) re-syncs the server time and the order goes through;
 * - the circuit breaker opens, half-opens and closes, visible in /bot/status and the gauge.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type FakeBingx, makeFakeBingx } from "../fakes/bingx.ts"
import type { FakeTelegram } from "../fakes/telegram.ts"
import { ADMIN, call, type LiveApp, liveApp, makeFakeTelegram, metricValue, sleep, until } from "./support.ts"

const ORDER = "/openApi/swap/v2/trade/order"
const PRICE = "/openApi/swap/v2/quote/price"

/** Requests to `path` (and `method`) for `symbol` since index `from` of the fake's log. */
const since = (fake: FakeBingx, from: number, path: string, method?: string) =>
  fake.received.slice(from).filter((r) => r.path === path && (method === undefined || r.method === method))

/** The Telegram message about `orderId` in the admin's chat whose first line contains `word`. */
const telegramAbout = (telegram: FakeTelegram, orderId: string, word: string) =>
  until(
    () => telegram.messages(ADMIN).find((m) => m.text.split("\n")[0]!.includes(`Order #${orderId} ${word}`)),
    10_000,
    `a Telegram message "Order #${orderId} ${word}"`
  )

const env = {
  BINGX_MAX_RETRIES: "2",
  EXCHANGE_BREAKER_THRESHOLD: "2",
  EXCHANGE_BREAKER_COOLDOWN_SECONDS: "1",
  RECONCILE_INTERVAL_SECONDS: "2",
  SIGNAL_MAX_AGE_SECONDS: "60",
  // Faults are injected into the price request: every order must make one.
  ORDER_PRICE_MAX_AGE_MS: "0"
}

/** One alert for `symbol`; returns the order id (the webhook answered 201 with a pending order). */
const place = async (app: LiveApp, symbol = "BTCUSDT", qty = "0.001") => {
  const reply = await app.alert({ symbol, action: "buy", qty })
  expect(reply.status, reply.text).toBe(201)
  expect(reply.json.order_status).toBe("pending")
  return reply.json.order_id as string
}

describe("exchange faults end to end (the real process against the BingX fake)", () => {
  it.live("transient faults are retried within limits; unknown outcomes never double an order; refusals are final and reported", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeBingx()
      const telegram = yield* makeFakeTelegram
      const app = yield* liveApp(fake, telegram, env)
      yield* Effect.promise(async () => {
        // Warm-up: position mode, contracts, margin type and leverage are cached after this one.
        await app.settled(await place(app), ["filled"])

        // 5xx on a read (the price): retried by the client, 2 retries, then it answers.
        let mark = fake.received.length
        fake.inject(PRICE, { kind: "http", status: 503 }, { times: 2 })
        let id = await place(app)
        await app.settled(id, ["filled"])
        expect(since(fake, mark, PRICE).map((r) => r.answer?.http)).toEqual([503, 503, 200])

        // 80012 (service unavailable) on the order itself: transient, resent with the same clientOrderId.
        mark = fake.received.length
        fake.inject(ORDER, { kind: "code", code: 80012, msg: "service unavailable, please try again" }, { method: "POST" })
        id = await place(app)
        let order = await app.settled(id, ["filled"])
        let posts = since(fake, mark, ORDER, "POST")
        expect(posts.map((p) => p.answer?.code)).toEqual([80012, 0])
        expect(new Set(posts.map((p) => p.params["clientOrderId"]))).toEqual(new Set([order.client_order_id]))

        // HTTP 429 with Retry-After: 1 → the resend waits at least a second.
        mark = fake.received.length
        fake.inject(ORDER, { kind: "http", status: 429, headers: { "retry-after": "1" } }, { method: "POST" })
        id = await place(app)
        await app.settled(id, ["filled"])
        posts = since(fake, mark, ORDER, "POST")
        expect(posts.map((p) => p.answer?.http)).toEqual([429, 200])
        expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(950)

        // 100410 with an unblock time 1.5 s ahead → the resend waits for it.
        mark = fake.received.length
        fake.inject(ORDER, {
          kind: "code",
          code: 100410,
          msg: `The endpoint trigger frequency limit rule is currently in the disabled period and will be unblocked after ${fake.now() + 1_500}`
        }, { method: "POST" })
        id = await place(app)
        await app.settled(id, ["filled"])
        posts = since(fake, mark, ORDER, "POST")
        expect(posts.map((p) => p.answer?.code)).toEqual([100410, 0])
        expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1_400)

        // Unknown outcomes. (a) executed, then the answer never comes (client timeout): found by its clientOrderId.
        for (const fault of [
          { kind: "executeThenHang" } as const,
          { kind: "executeThenHttp", status: 502 } as const,
          { kind: "executeThenCode", code: 101500, msg: "rpc timeout" } as const
        ]) {
          mark = fake.received.length
          const placedBefore = fake.placed().length
          fake.inject(ORDER, fault, { method: "POST" })
          id = await place(app)
          order = await app.settled(id, ["filled"])
          expect(since(fake, mark, ORDER, "POST"), fault.kind).toHaveLength(1)
          expect(since(fake, mark, ORDER, "GET").map((r) => r.params["clientOrderId"]), fault.kind).toContain(order.client_order_id)
          expect(fake.placed().length, fault.kind).toBe(placedBefore + 1)
          expect(order.fills, fault.kind).toHaveLength(1)
        }
        // (b) NOT executed: hang (timeout) and 503 — the query finds nothing, the same clientOrderId is sent again.
        for (const fault of [{ kind: "hang" } as const, { kind: "http", status: 503 } as const]) {
          mark = fake.received.length
          const placedBefore = fake.placed().length
          fake.inject(ORDER, fault, { method: "POST" })
          id = await place(app)
          order = await app.settled(id, ["filled"])
          posts = since(fake, mark, ORDER, "POST")
          expect(posts, fault.kind).toHaveLength(2)
          expect(new Set(posts.map((p) => p.params["clientOrderId"])), fault.kind).toEqual(new Set([order.client_order_id]))
          expect(fake.placed().length, fault.kind).toBe(placedBefore + 1)
        }

        // Permanent refusals: sent once, rejected with the exchange's reason — in the API and in Telegram.
        for (const refusal of [
          { code: 101204, msg: "Insufficient margin" },
          { code: 100001, msg: "Signature verification failed due to signature mismatch" }
        ]) {
          mark = fake.received.length
          const placedBefore = fake.placed().length
          fake.inject(ORDER, { kind: "code", ...refusal }, { method: "POST" })
          id = await place(app)
          order = await app.settled(id, ["rejected"])
          const reason = `the exchange refused the order: BingX ${refusal.code}: ${refusal.msg}`
          expect(order.reason).toBe(reason)
          expect(order.fills).toEqual([])
          await sleep(300)
          expect(since(fake, mark, ORDER, "POST")).toHaveLength(1)
          expect(fake.placed().length).toBe(placedBefore)
          const message = await telegramAbout(telegram, id, "rejected")
          expect(message.text).toContain(`Reason: ${reason}`)
        }

        // Clock drift: the exchange's clock is now 10 s behind ours → 100421, re-sync, the order goes through.
        mark = fake.received.length
        fake.clockOffsetMs = -10_000
        id = await place(app)
        order = await app.settled(id, ["filled"])
        const drift = fake.received.slice(mark)
        const refused = drift.findIndex((r) => r.answer?.code === 100421)
        expect(refused).toBeGreaterThanOrEqual(0)
        expect(drift.slice(refused).some((r) => r.path === "/openApi/swap/v2/server/time")).toBe(true)
        // Refused for its timestamp (not placed), then sent again after the re-sync and placed once.
        expect(since(fake, mark, ORDER, "POST").map((p) => p.answer?.code).filter((c) => c === 0)).toEqual([0])
        expect(fake.placed().filter((o) => o.clientOrderId === order.client_order_id)).toHaveLength(1)

        // Every filled order was placed exactly once, under its own clientOrderId.
        const cids = fake.placed().map((o) => o.clientOrderId)
        expect(new Set(cids).size).toBe(cids.length)
      })
    }).pipe(Effect.scoped), 180_000)

  it.live("the breaker opens after repeated transient failures, half-opens for one probe and closes — in /bot/status, the gauge and Telegram", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeBingx()
      const telegram = yield* makeFakeTelegram
      const app = yield* liveApp(fake, telegram, env)
      yield* Effect.promise(async () => {
        await app.settled(await place(app), ["filled"])
        const seen: Array<{ status: string; gauge: number | undefined }> = []
        let watching = true
        const watcher = (async () => {
          while (watching) {
            const [status, metrics] = await Promise.all([app.operator("/bot/status"), call(`${app.url}/metrics`)])
            const entry = { status: status.json.breaker.state as string, gauge: metricValue(metrics.text, "tvtelegrambingx_exchange_breaker_state") }
            const last = seen.at(-1)
            if (last === undefined || last.status !== entry.status || last.gauge !== entry.gauge) seen.push(entry)
            await sleep(40)
          }
        })()
        // Two calls of 3 attempts each (BINGX_MAX_RETRIES=2) fail → open; the probe after the
        // cool-down is slow (so half-open can be seen) and answers → closed.
        fake.inject(PRICE, { kind: "http", status: 503 }, { times: 6 })
        fake.inject(PRICE, { kind: "delay", ms: 1_500 }, { times: 1 })
        const id = await place(app)
        const order = await app.settled(id, ["filled"], 30_000)
        await sleep(200)
        watching = false
        await watcher
        expect(order.fills).toHaveLength(1)
        const states = seen.map((s) => s.status)
        expect(states, JSON.stringify(seen)).toEqual(["closed", "open", "half_open", "closed"])
        // The gauge follows (0 closed, 1 half-open, 2 open).
        expect(seen.find((s) => s.status === "open")!.gauge).toBe(2)
        expect(seen.find((s) => s.status === "half_open")!.gauge).toBe(1)
        expect(seen.at(-1)!.gauge).toBe(0)
        const texts = telegram.messages(ADMIN).map((m) => m.text.split("\n")[0]!)
        const breaker = texts.filter((t) => t.includes("circuit breaker"))
        expect(breaker).toEqual([
          "🔴 Exchange circuit breaker OPEN",
          "🟡 Exchange circuit breaker half-open",
          "🟢 Exchange circuit breaker closed"
        ])
        const open = telegram.messages(ADMIN).find((m) => m.text.includes("circuit breaker OPEN"))!
        expect(open.text).toContain("2 consecutive transient exchange failures")
        expect(fake.placed()).toHaveLength(2)
      })
    }).pipe(Effect.scoped), 120_000)

  it.live("a wrong BINGX_API_SECRET: the order is rejected at once with the exchange's reason, not retried until it expires", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeBingx()
      const telegram = yield* makeFakeTelegram
      const app = yield* liveApp(fake, telegram, { ...env, BINGX_API_SECRET: "not-the-secret-the-exchange-knows" })
      yield* Effect.promise(async () => {
        const id = await place(app)
        const order = await app.settled(id, ["rejected"], 10_000)
        expect(order.reason).toContain("BingX 100001: Signature verification failed due to signature mismatch")
        expect(fake.placed()).toHaveLength(0)
        const message = await telegramAbout(telegram, id, "rejected")
        expect(message.text).toContain("100001")
        // Nothing keeps knocking: one signed call refused, then silence.
        const refused = fake.received.filter((r) => r.answer?.code === 100001).length
        await sleep(1_500)
        expect(fake.received.filter((r) => r.answer?.code === 100001).length).toBe(refused)
      })
    }).pipe(Effect.scoped), 60_000)
})
