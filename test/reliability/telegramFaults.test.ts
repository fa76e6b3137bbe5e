/**
 * Telegram faults: the real process (`--role all`: the bot polls, the notifier sends)
 * trading live against the BingX fake while the Telegram fake answers 429 storms, 5xx, or cuts
 * every connection. Trading does not wait for Telegram (orders fill as fast as without faults);
 * notifications are retried until they are delivered, in order, or — for a chat Telegram refuses —
 * counted in tvtelegrambingx_notifications_dropped_total; the bot answers again by itself.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeFakeBingx } from "../fakes/bingx.ts"
import { ADMIN, call, type LiveApp, liveApp, makeFakeTelegram, metricValue, sleep, until } from "./support.ts"

const BLOCKED = 43

/** Posts an alert and waits for its order to be filled; returns the order id and how long it took. */
const tradeOnce = async (app: LiveApp) => {
  const started = performance.now()
  const reply = await app.alert({ symbol: "BTCUSDT", action: "buy", qty: "0.001" })
  expect(reply.status, reply.text).toBe(201)
  const order = await app.settled(reply.json.order_id, ["filled"], 10_000)
  return { id: order.id as string, ms: performance.now() - started }
}

describe("Telegram faults (the real process, --role all)", () => {
  it.live("429 storm, 5xx, unreachable: orders still fill at once; notifications arrive afterwards, in order; refusals are counted; the bot answers again", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeBingx()
      const telegram = yield* makeFakeTelegram
      // A chat that refuses the bot (403 "bot was blocked by the user") from the start.
      telegram.blockedChats.add(String(BLOCKED))
      const app = yield* liveApp(fake, telegram, { TELEGRAM_ADMIN_IDS: `${ADMIN},${BLOCKED}` }, "all")
      yield* Effect.promise(async () => {
        await telegram.waitFor(() => telegram.messages(ADMIN).some((m) => m.text.includes("Bot started")), 20_000, "start-up message")
        const baseline = await tradeOnce(app)

        const orders: Array<string> = [baseline.id]
        const timings: Record<string, Array<number>> = {}
        const count = (outcome: number | "cut") => telegram.calls.filter((c) => c.outcome === outcome).length
        /** Trades three times while the fault is on; the fault lasts until `over` says so. */
        const phase = async (name: string, faults: () => void, over: () => boolean, after?: () => void) => {
          faults()
          timings[name] = []
          for (let i = 0; i < 3; i++) {
            const t = await tradeOnce(app)
            orders.push(t.id)
            timings[name]!.push(t.ms)
          }
          await until(over, 60_000, `the ${name} to pass`)
          after?.()
        }
        await phase("429 storm", () => telegram.inject429("*", 6, 1), () => count(429) >= 6)
        await phase("502", () => telegram.injectError("*", 3, 502, "Bad Gateway"), () => count(502) >= 3)
        const cutBefore = count("cut")
        await phase("unreachable", () => telegram.setDown(true), () => count("cut") >= cutBefore + 3, () => telegram.setDown(false))

        // Trading did not wait for Telegram: each order filled within a few seconds of its alert.
        for (const [name, ms] of Object.entries(timings)) {
          expect(Math.max(...ms), `${name}: ${ms.map(Math.round).join(", ")} ms`).toBeLessThan(3_000)
        }
        // The faults really happened to the notifier and the poller.
        const outcomes = new Set(telegram.calls.map((c) => c.outcome))
        for (const o of [429, 502, "cut"] as const) expect(outcomes.has(o), String(o)).toBe(true)
        expect(telegram.calls.some((c) => c.method === "sendmessage" && c.outcome === 429)).toBe(true)

        // Every order's "filled" notification reached the admin once Telegram answered again, in order.
        const filledIn = () =>
          telegram.messages(ADMIN)
            .map((m) => /^✅ Order #(\d+) filled/.exec(m.text)?.[1])
            .filter((id): id is string => id !== undefined)
        await until(() => orders.every((id) => filledIn().includes(id)), 90_000, "every filled notification")
        expect(filledIn()).toEqual(orders)
        // One message per notification: retries did not duplicate any.
        const signals = telegram.messages(ADMIN).filter((m) => m.text.includes("New signal BTC-USDT"))
        expect(signals).toHaveLength(orders.length)

        // The chat that refuses the bot got nothing; each refusal was counted as dropped (not retried forever).
        expect(telegram.messages(BLOCKED)).toHaveLength(0)
        const metrics = (await call(`${app.url}/metrics`)).text
        expect(metricValue(metrics, "tvtelegrambingx_notifications_dropped_total", '{reason="rejected"}')).toBeGreaterThanOrEqual(
          2 * orders.length
        )
        expect(metricValue(metrics, "tvtelegrambingx_notifications_dropped_total", '{reason="queue_full"}') ?? 0).toBe(0)

        // The bot recovered by itself: a command is answered.
        const before = telegram.messages(ADMIN).length
        telegram.sendText({ id: ADMIN, username: "alice", first_name: "Alice" }, "/status")
        const reply = await telegram.waitForMessages(ADMIN, before + 1, 30_000)
        expect(reply.text).toContain("Automation Status")
        expect(reply.text).toContain("Auto-Trade: ON")
        await sleep(100)
      })
    }).pipe(Effect.scoped), 180_000)
})
