/**
 * Notifications as the api process sends them (no polling): recipients, texts Telegram accepts,
 * a 429 storm, Telegram down (notify never waits; nothing lost until the queue overflows), and
 * refusals for one chat that do not stop the others.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import type { Notification } from "../../src/notify/Notifier.ts"
import { ALICE, BOB, capturingLogger, FAST, inProcessNotifier, signalNotification } from "./harness.ts"

const dropped = (reason: string) =>
  Effect.runPromise(Effect.map(Metric.snapshot, (all) => {
    const s = all.find((x) => x.id === "tvtelegrambingx_notifications_dropped_total" && x.attributes?.reason === reason)
    return s === undefined ? 0 : Number((s.state as { count: number }).count)
  }))

const order = (n: number): Extract<Notification, { _tag: "OrderUpdate" }> => ({
  _tag: "OrderUpdate",
  orderId: String(n),
  symbol: "BTC-USDT",
  action: "buy",
  status: "filled",
  quantity: "0.01",
  price: "65010.1",
  priceSource: "exchange",
  reason: null
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("Telegram notifications", () => {
  it("go to every admin by default, with HTML Telegram accepts and every dynamic value escaped", async () => {
    const n = await inProcessNotifier()
    try {
      await n.notify(signalNotification({
        signalId: "7",
        orderId: "8",
        symbol: "BTC<b>-USDT&",
        action: "sell",
        quantity: "0.5",
        price: null
      }))
      await n.notify({ ...order(9), status: "rejected", reason: "exchange said <nope> & \"no\"" })
      await n.notify({ ...order(10), status: "failed", reason: "x".repeat(6_000) })
      await n.notify({ _tag: "BreakerChanged", state: "open", reason: "5 failures in a row" })
      await n.notify({ _tag: "BreakerChanged", state: "closed", reason: null })
      await n.notify({ _tag: "Startup", role: "api", tradingMode: "paper", environment: "<test>" })
      for (const chat of [ALICE.id, BOB.id]) {
        await n.telegram.waitForMessages(chat, 6)
        const texts = n.telegram.messages(chat).map((m) => m.text)
        expect(texts[0]).toContain("New signal BTC<b>-USDT&")
        expect(texts[0]).toContain("Order: #8 — awaiting approval")
        expect(n.telegram.messages(chat)[0]!.reply_markup?.inline_keyboard[0]!.map((b) => b.callback_data)).toEqual([
          "approve:8",
          "reject:8"
        ])
        expect(texts[1]).toContain("Order #9 rejected")
        expect(texts[1]).toContain("Reason: exchange said <nope> & \"no\"")
        expect(texts[2]).toContain("Order #10 failed")
        expect(texts[2]!.length).toBeLessThanOrEqual(4096)
        expect(texts[3]).toContain("Exchange circuit breaker OPEN")
        expect(texts[3]).toContain("Reason: 5 failures in a row")
        expect(texts[4]).toContain("Exchange circuit breaker closed")
        expect(texts[5]).toContain("Environment: <test>")
      }
      // Only signals awaiting approval carry buttons.
      expect(n.telegram.messages(ALICE.id).slice(1).every((m) => m.reply_markup === undefined)).toBe(true)
    } finally {
      await n.close()
    }
  })

  it("go to TELEGRAM_CHAT_ID and BOT_BROADCAST_CHAT_ID instead of the admins when set", async () => {
    const n = await inProcessNotifier({ TELEGRAM_CHAT_ID: "-1001234", BOT_BROADCAST_CHAT_ID: "@tvtb_channel" })
    try {
      await n.notify(order(1))
      await n.telegram.waitForMessages(-1001234, 1)
      await n.telegram.waitForMessages("@tvtb_channel", 1)
      expect(n.telegram.messages(ALICE.id)).toHaveLength(0)
    } finally {
      await n.close()
    }
  })

  it("a 429 storm delays delivery by retry_after and loses nothing", async () => {
    const n = await inProcessNotifier({ TELEGRAM_ADMIN_IDS: String(ALICE.id) })
    try {
      const droppedBefore = (await dropped("queue_full")) + (await dropped("rejected"))
      // auto-retry honours 2 of them (FAST: maxRetryAttempts 2), the outbox retries the third.
      n.telegram.inject429("sendMessage", 3, 1)
      for (let i = 1; i <= 3; i++) await n.notify(order(i))
      await n.telegram.waitForMessages(ALICE.id, 3, 20_000)
      expect(n.telegram.messages(ALICE.id).map((m) => m.text.split("\n")[0])).toEqual([
        "✅ Order #1 filled",
        "✅ Order #2 filled",
        "✅ Order #3 filled"
      ])
      const sends = n.telegram.callsOf("sendMessage")
      expect(sends.filter((c) => c.outcome === 429)).toHaveLength(3)
      // auto-retry waited retry_after (1 s) after a 429 before trying again.
      const first429 = sends.findIndex((c) => c.outcome === 429)
      expect(sends[first429 + 1]!.at - sends[first429]!.at).toBeGreaterThanOrEqual(950)
      expect((await dropped("queue_full")) + (await dropped("rejected"))).toBe(droppedBefore)
    } finally {
      await n.close()
    }
  }, 30_000)

  it("Telegram down: notify returns at once, messages wait, and all arrive in order afterwards", async () => {
    const n = await inProcessNotifier({ TELEGRAM_ADMIN_IDS: String(ALICE.id) })
    try {
      const droppedBefore = await dropped("queue_full")
      n.telegram.setDown(true)
      const started = performance.now()
      for (let i = 1; i <= 20; i++) await n.notify(order(i))
      expect(performance.now() - started).toBeLessThan(500)
      await n.telegram.waitFor(() => n.telegram.calls.filter((c) => c.outcome === "cut").length >= 3, 5_000, "retries while down")
      expect(n.telegram.messages(ALICE.id)).toHaveLength(0)
      n.telegram.setDown(false)
      await n.telegram.waitForMessages(ALICE.id, 20, 10_000)
      expect(n.telegram.messages(ALICE.id).map((m) => m.text.split("\n")[0])).toEqual(
        Array.from({ length: 20 }, (_, i) => `✅ Order #${i + 1} filled`)
      )
      expect(await dropped("queue_full")).toBe(droppedBefore)
    } finally {
      await n.close()
    }
  })

  it("drops only on overflow, counted and logged", async () => {
    const logs: Array<{ level: string; message: string }> = []
    const n = await inProcessNotifier(
      { TELEGRAM_ADMIN_IDS: String(ALICE.id) },
      { ...FAST, outbox: { ...FAST.outbox, capacity: 3 } },
      capturingLogger(logs)
    )
    try {
      const before = await dropped("queue_full")
      n.telegram.setDown(true)
      await n.notify(order(1))
      // The sender holds #1 and retries it; the queue (3) takes #2-#4, #5 and #6 overflow.
      await n.telegram.waitFor(() => n.telegram.calls.some((c) => c.outcome === "cut"), 5_000, "first attempt")
      for (let i = 2; i <= 6; i++) await n.notify(order(i))
      expect(await dropped("queue_full")).toBe(before + 2)
      const warnings = logs.filter((l) => l.level === "Warn" && l.message.includes("queue is full"))
      expect(warnings).toHaveLength(2)
      expect(warnings[1]!.message).toContain("(2 dropped so far)")
      n.telegram.setDown(false)
      await n.telegram.waitForMessages(ALICE.id, 4, 10_000)
      await sleep(300)
      expect(n.telegram.messages(ALICE.id).map((m) => m.text.split("\n")[0])).toEqual([
        "✅ Order #1 filled",
        "✅ Order #2 filled",
        "✅ Order #3 filled",
        "✅ Order #4 filled"
      ])
    } finally {
      await n.close()
    }
  })

  it("a chat that refuses (blocked the bot) is counted as rejected; other chats still get it", async () => {
    const logs: Array<{ level: string; message: string }> = []
    const n = await inProcessNotifier({}, FAST, capturingLogger(logs))
    try {
      const before = await dropped("rejected")
      n.telegram.blockedChats.add(String(ALICE.id))
      await n.notify(order(1))
      await n.notify(order(2))
      await n.telegram.waitForMessages(BOB.id, 2)
      expect(n.telegram.messages(ALICE.id)).toHaveLength(0)
      expect(await dropped("rejected")).toBe(before + 2)
      expect(logs.some((l) => l.level === "Warn" && l.message.includes("403 Forbidden: bot was blocked by the user"))).toBe(true)
    } finally {
      await n.close()
    }
  })
})
