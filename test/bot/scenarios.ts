/**
 * The bot suite, run against any `BotHarness` (see harness.ts): every command as an admin and as
 * a stranger, the main menu, and the approve / reject flows (one backend call per press, double
 * press, expiry, outage). Assertions only use what Telegram (the fake) received and what the
 * backend (BackendControl) saw.
 */
import { describe, expect, it } from "@effect/vitest"
import { BOT_COMMANDS, UNAUTHORIZED_TEXT } from "../../src/bot/format.ts"
import type { FakeMessage, FakeTelegram, FakeUser } from "../fakes/telegram.ts"
import { ALICE, BOB, type BotHarness, type HarnessFactory, MALLORY } from "./harness.ts"

export const withHarness = async <H extends BotHarness>(
  make: (env?: Readonly<Record<string, string>>) => Promise<H>,
  fn: (h: H) => Promise<void>,
  env?: Readonly<Record<string, string>>
) => {
  const h = await make(env)
  try {
    await ready(h.telegram)
    await fn(h)
  } finally {
    await h.close()
  }
}

/** The bot is up: commands registered and the start-up message sent to the first admin. */
export const ready = async (telegram: FakeTelegram) => {
  await telegram.waitFor(() => telegram.commands, 15_000, "setMyCommands")
  await telegram.waitFor(() => telegram.messages(ALICE.id).some((m) => m.text.includes("Bot started")), 15_000, "start-up message")
}

/** Sends `text` as `user` and returns the bot's next message in that user's chat. */
export const say = async (telegram: FakeTelegram, user: FakeUser, text: string): Promise<FakeMessage> => {
  const before = telegram.messages(user.id).length
  telegram.sendText(user, text)
  return telegram.waitForMessages(user.id, before + 1)
}

/** Retries `check` until it passes (audit rows are written after the reply). */
export const eventually = async (check: () => Promise<void>, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (e) {
      if (Date.now() > deadline) throw e
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

export const buttons = (m: FakeMessage) => (m.reply_markup?.inline_keyboard ?? []).flat().map((b) => b.callback_data)

/** Presses a button and waits until the callback query is answered. */
export const press = async (telegram: FakeTelegram, user: FakeUser, message: FakeMessage, data: string) => {
  const id = telegram.press(user, message, data)
  return telegram.waitFor(() => telegram.callbackAnswers.get(id), 10_000, `answer to ${data}`)
}

/** The approval message the notifier sent to `chatId` for `orderId`. */
const approvalMessage = (telegram: FakeTelegram, chatId: number, orderId: string) =>
  telegram.waitFor(
    () => telegram.messages(chatId).find((m) => buttons(m).includes(`approve:${orderId}`)),
    10_000,
    `approval message for order ${orderId}`
  )

export const defineBotScenarios = (name: string, make: HarnessFactory) =>
  describe(`Telegram bot (${name})`, () => {
    it("registers exactly the issue's commands and announces its start to every admin", () =>
      withHarness(make, async ({ telegram }) => {
        expect(telegram.commands).toEqual(BOT_COMMANDS)
        expect(telegram.commands!.map((c) => c.command)).toEqual([
          "start",
          "help",
          "status",
          "autotrade",
          "confirmations",
          "margin",
          "leverage",
          "reports",
          "pnl",
          "positions",
          "orders",
          "pause",
          "resume"
        ])
        await telegram.waitFor(() => telegram.messages(BOB.id).some((m) => m.text.includes("Bot started")), 10_000, "bob's start-up")
        const startup = telegram.messages(ALICE.id).find((m) => m.text.includes("Bot started"))!
        expect(startup.text).toContain("Auto-trade: disabled")
        expect(startup.text).toContain("Confirmation: required")
        expect(startup.text).toContain("Leverage: 5x")
        expect(telegram.messages(MALLORY.id)).toHaveLength(0)
      }))

    it("/start and /help list every command", () =>
      withHarness(make, async ({ telegram, backend }) => {
        for (const cmd of ["/start", "/help"]) {
          const reply = await say(telegram, ALICE, cmd)
          expect(reply.text).toContain("TVTelegramBingX Control Bot")
          for (const c of BOT_COMMANDS.filter((c) => c.command !== "start")) expect(reply.text).toContain(`/${c.command}`)
        }
        await eventually(async () => {
          const audits = await backend.audits()
          expect(audits.filter((a) => a.actorId === "42").map((a) => [a.action, a.result])).toEqual([
            ["command./start", "ok"],
            ["command./help", "ok"]
          ])
        })
      }))

    it("/status shows the backend's state with the seed's inline menu", () =>
      withHarness(make, async ({ telegram, backend }) => {
        const reply = await say(telegram, ALICE, "/status")
        const s = await backend.settings()
        expect(reply.text).toContain("Automation Status")
        expect(reply.text).toContain(`Auto-Trade: ${s.auto_trade_enabled ? "ON" : "OFF"}`)
        expect(reply.text).toContain(`Manual Confirmations: ${s.manual_confirmation_required ? "ON" : "OFF"}`)
        expect(reply.text).toContain(`Margin Mode: ${s.margin_mode}`)
        expect(reply.text).toContain(`Leverage: x${s.leverage}`)
        expect(reply.parse_mode).toBe("HTML")
        expect(buttons(reply)).toEqual([
          "toggle:auto_trade",
          "toggle:manual",
          "margin:isolated",
          "margin:cross",
          "leverage:3",
          "leverage:5",
          "leverage:10",
          "leverage:20",
          "noop:margin",
          "noop:leverage",
          "refresh:status"
        ])
      }))

    it("/autotrade toggles, accepts on|off, and refuses other arguments", () =>
      withHarness(make, async ({ telegram, backend }) => {
        const start = (await backend.settings()).auto_trade_enabled
        let reply = await say(telegram, ALICE, "/autotrade")
        expect((await backend.settings()).auto_trade_enabled).toBe(!start)
        expect(reply.text).toContain(!start ? "Auto-Trade enabled" : "Auto-Trade disabled")
        reply = await say(telegram, ALICE, "/autotrade off")
        expect((await backend.settings()).auto_trade_enabled).toBe(false)
        expect(reply.text).toContain("Auto-Trade: OFF")
        reply = await say(telegram, ALICE, "/autotrade on")
        expect((await backend.settings()).auto_trade_enabled).toBe(true)
        reply = await say(telegram, ALICE, "/autotrade sometimes")
        expect(reply.text).toBe("Usage: /autotrade [on|off] (without an argument it toggles)")
        expect((await backend.settings()).auto_trade_enabled).toBe(true)
        await eventually(async () => {
          const audits = (await backend.audits()).filter((a) => a.action === "command./autotrade")
          expect(audits.map((a) => a.result)).toEqual(["ok", "ok", "ok", "invalid: usage"])
        })
      }))

    it("/confirmations toggles and accepts on|off", () =>
      withHarness(make, async ({ telegram, backend }) => {
        const start = (await backend.settings()).manual_confirmation_required
        const reply = await say(telegram, ALICE, "/confirmations")
        expect((await backend.settings()).manual_confirmation_required).toBe(!start)
        expect(reply.text).toContain(start ? "Manual confirmations disabled" : "Manual confirmations enabled")
        await say(telegram, ALICE, "/confirmations on")
        expect((await backend.settings()).manual_confirmation_required).toBe(true)
      }))

    it("/margin sets isolated|cross, shows usage without an argument, refuses anything else", () =>
      withHarness(make, async ({ telegram, backend }) => {
        let reply = await say(telegram, ALICE, "/margin cross")
        expect(reply.text).toContain("Margin mode updated to cross")
        expect((await backend.settings()).margin_mode).toBe("cross")
        reply = await say(telegram, ALICE, "/margin")
        expect(reply.text).toContain("Usage: /margin isolated|cross")
        expect(reply.text).toContain("Margin Mode: cross")
        reply = await say(telegram, ALICE, "/margin <b>portfolio</b>")
        expect(reply.text).toBe("Unknown margin mode \"<b>portfolio</b>\". Usage: /margin isolated|cross")
        expect((await backend.settings()).margin_mode).toBe("cross")
        await say(telegram, ALICE, "/margin ISOLATED")
        expect((await backend.settings()).margin_mode).toBe("isolated")
      }))

    it("/leverage validates 1..125 with a clear reply", () =>
      withHarness(make, async ({ telegram, backend }) => {
        let reply = await say(telegram, ALICE, "/leverage 10")
        expect(reply.text).toContain("Leverage updated to x10")
        expect((await backend.settings()).leverage).toBe(10)
        for (const bad of ["0", "126", "abc", "2.5", "-3"]) {
          reply = await say(telegram, ALICE, `/leverage ${bad}`)
          expect(reply.text).toBe("Leverage must be a whole number from 1 to 125, e.g. /leverage 5")
        }
        expect((await backend.settings()).leverage).toBe(10)
        reply = await say(telegram, ALICE, "/leverage")
        expect(reply.text).toContain("Usage: /leverage 1-125")
        reply = await say(telegram, ALICE, "/leverage 125")
        expect((await backend.settings()).leverage).toBe(125)
      }))

    it("/pause and /resume flip only the pause flag", () =>
      withHarness(make, async ({ telegram, backend }) => {
        const before = await backend.settings()
        let reply = await say(telegram, ALICE, "/pause")
        expect(reply.text).toContain("Paused: new signals are stored but not traded")
        expect(await backend.settings()).toMatchObject({ ...pick(before), paused: true })
        reply = await say(telegram, ALICE, "/resume")
        expect(reply.text).toContain("Resumed")
        expect(await backend.settings()).toMatchObject({ ...pick(before), paused: false })
      }))

    it("/reports [n], /orders [n], /pnl [period] and /positions answer from the backend", () =>
      withHarness(make, async ({ telegram, backend }) => {
        const orders = []
        for (const symbol of ["BTC-USDT", "ETH-USDT", "SOL-USDT"]) orders.push(await backend.addSignalAwaitingApproval(symbol, "0.5"))
        let reply = await say(telegram, ALICE, "/reports")
        expect(reply.text).toContain("Recent Signals")
        for (const symbol of ["BTC-USDT", "ETH-USDT", "SOL-USDT"]) expect(reply.text).toContain(symbol)
        reply = await say(telegram, ALICE, "/reports 1")
        expect(reply.text).toContain("SOL-USDT")
        expect(reply.text).not.toContain("BTC-USDT")
        reply = await say(telegram, ALICE, "/reports 0")
        expect(reply.text).toBe("Usage: /reports [n] with n from 1 to 100")
        reply = await say(telegram, ALICE, "/orders")
        expect(reply.text).toContain("Recent Orders")
        for (const o of orders) expect(reply.text).toContain(`#${o.orderId}`)
        expect(reply.text).toContain("awaiting approval")
        reply = await say(telegram, ALICE, "/orders 2")
        expect(reply.text).not.toContain(`#${orders[0]!.orderId} `)
        reply = await say(telegram, ALICE, "/pnl")
        expect(reply.text).toContain("PnL — day")
        reply = await say(telegram, ALICE, "/pnl week")
        expect(reply.text).toContain("PnL — week")
        reply = await say(telegram, ALICE, "/pnl month")
        expect(reply.text).toBe("Usage: /pnl [day|week|all]")
        reply = await say(telegram, ALICE, "/positions")
        expect(reply.text).toContain("Open Positions")
        reply = await say(telegram, ALICE, "/unknown")
        expect(reply.text).toBe("Unknown command. Send /help for the list of commands.")
      }))

    it("a stranger gets one refusal per command and nothing happens", () =>
      withHarness(make, async ({ telegram, backend }) => {
        const before = await backend.settings()
        const order = await backend.addSignalAwaitingApproval("BTC-USDT", "1")
        const commands = BOT_COMMANDS.map((c) => `/${c.command}`).concat(["/autotrade on", "/leverage 50", "/margin cross"])
        for (const cmd of commands) {
          const reply = await say(telegram, MALLORY, cmd)
          expect(reply.text).toBe(UNAUTHORIZED_TEXT)
          expect(reply.reply_markup).toBeUndefined()
        }
        expect(telegram.messages(MALLORY.id)).toHaveLength(commands.length)
        expect(await backend.settings()).toMatchObject(pick(before))
        // A stranger pressing an approval button gets an alert; the order is untouched.
        await h_announce_and_press_as_stranger(telegram, order.orderId)
        expect(await backend.orderStatus(order.orderId)).toBe("awaiting_approval")
        expect(await backend.decisionCalls(order.orderId, "approve")).toBe(0)
        await eventually(async () => {
          const audits = (await backend.audits()).filter((a) => a.actorId === String(MALLORY.id))
          expect(audits).toHaveLength(commands.length + 1)
          expect(new Set(audits.map((a) => a.result))).toEqual(new Set(["denied"]))
          expect(audits.at(-1)!.action).toBe("unauthorized.callback")
        })
      }))

    it("menu buttons change settings and edit the same message", () =>
      withHarness(make, async ({ telegram, backend }) => {
        const status = await say(telegram, ALICE, "/status")
        const count = telegram.messages(ALICE.id).length
        const startAuto = (await backend.settings()).auto_trade_enabled
        let answer = await press(telegram, ALICE, status, "toggle:auto_trade")
        expect(answer.text).toBe(startAuto ? "Auto-Trade disabled" : "Auto-Trade enabled")
        expect((await backend.settings()).auto_trade_enabled).toBe(!startAuto)
        await telegram.waitFor(() => status.edits === 1, 5_000, "edit")
        expect(status.text).toContain(`Auto-Trade: ${startAuto ? "OFF" : "ON"}`)
        answer = await press(telegram, ALICE, status, "leverage:20")
        expect(answer.text).toBe("Leverage set to x20")
        expect((await backend.settings()).leverage).toBe(20)
        answer = await press(telegram, ALICE, status, "margin:cross")
        expect((await backend.settings()).margin_mode).toBe("cross")
        answer = await press(telegram, ALICE, status, "toggle:manual")
        await telegram.waitFor(() => status.edits === 4, 5_000, "4 edits")
        expect(status.text).toContain("Leverage: x20")
        expect(status.text).toContain("Margin Mode: cross")
        expect(buttons(status)).toContain("refresh:status")
        // Refresh with nothing changed: Telegram says "not modified"; the bot still answers.
        answer = await press(telegram, ALICE, status, "refresh:status")
        expect(answer.text).toBe("Status updated")
        answer = await press(telegram, ALICE, status, "noop:margin")
        expect(answer.text).toBeUndefined()
        answer = await press(telegram, ALICE, status, "bogus:data")
        expect(answer).toMatchObject({ text: "This button is not known (any more).", show_alert: true })
        expect(telegram.messages(ALICE.id)).toHaveLength(count)
        await eventually(async () => {
          const actions = (await backend.audits()).filter((a) => a.action.startsWith("button.")).map((a) => a.action)
          expect(actions).toEqual([
            "button.toggle:auto_trade",
            "button.leverage:20",
            "button.margin:cross",
            "button.toggle:manual",
            "button.refresh:status",
            "button.noop:margin",
            "button.unknown"
          ])
        })
      }))

    it("approve: one backend call per press, the message shows the outcome, a double press is answered", () =>
      withHarness(make, async (h) => {
        const { telegram, backend } = h
        const order = await backend.addSignalAwaitingApproval("BTC-USDT", "0.01")
        await h.announce(order)
        const message = await approvalMessage(telegram, ALICE.id, order.orderId)
        expect(message.text).toContain("New signal BTC-USDT")
        expect(message.text).toContain(`Order: #${order.orderId} — awaiting approval`)
        expect(buttons(message)).toEqual([`approve:${order.orderId}`, `reject:${order.orderId}`])
        // Bob got the same message with buttons.
        const bobs = await approvalMessage(telegram, BOB.id, order.orderId)

        const answer = await press(telegram, ALICE, message, `approve:${order.orderId}`)
        expect(answer.text).toBe(`Order ${order.orderId} approved`)
        expect(await backend.decisionCalls(order.orderId, "approve")).toBe(1)
        await telegram.waitFor(() => message.edits === 1, 5_000, "approval edit")
        expect(message.text).toContain("Approved by @alice")
        expect(message.text).toContain("Status: pending")
        expect(message.reply_markup).toBeUndefined()
        // The approved order is executed exactly once (a backend without an exchange leaves it pending).
        const settled = await backend.settle(order.orderId)
        expect(settled).toBe(backend.executes ? "filled" : "pending")
        expect(await backend.exchangeOrders(order.orderId)).toBe(backend.executes ? 1 : 0)

        // Bob presses his (still buttoned) copy: one more call, answered clearly, nothing approved twice.
        const second = await press(telegram, BOB, bobs, `approve:${order.orderId}`)
        expect(second.show_alert).toBe(true)
        expect(second.text).toContain(`order ${order.orderId} is already ${settled}`)
        expect(await backend.decisionCalls(order.orderId, "approve")).toBe(2)
        await telegram.waitFor(() => bobs.edits === 1, 5_000, "bob's edit")
        expect(bobs.text).toContain("No longer awaiting approval")
        expect(bobs.text).toContain(`Status: ${settled}`)
        expect(bobs.reply_markup).toBeUndefined()
        expect(await backend.exchangeOrders(order.orderId)).toBe(backend.executes ? 1 : 0)
        await eventually(async () => {
          const audits = (await backend.audits()).filter((a) => a.action === "button.approve")
          expect(audits.map((a) => [a.actorId, a.result])).toEqual([
            ["42", "ok"],
            ["43", `conflict: order ${order.orderId} is already ${settled}`]
          ])
        })
      }))

    it("reject: the order is rejected once and the message says so", () =>
      withHarness(make, async (h) => {
        const { telegram, backend } = h
        const order = await backend.addSignalAwaitingApproval("ETH-USDT", "2")
        await h.announce(order)
        const message = await approvalMessage(telegram, ALICE.id, order.orderId)
        const answer = await press(telegram, ALICE, message, `reject:${order.orderId}`)
        expect(answer.text).toBe(`Order ${order.orderId} rejected`)
        expect(await backend.orderStatus(order.orderId)).toBe("rejected")
        expect(await backend.decisionCalls(order.orderId, "reject")).toBe(1)
        await telegram.waitFor(() => message.edits === 1, 5_000, "reject edit")
        expect(message.text).toContain("Rejected by @alice")
        // Approving after the rejection: refused by the backend, answered, never approved.
        const late = await press(telegram, ALICE, message, `approve:${order.orderId}`)
        expect(late.text).toContain("is already rejected")
        expect(await backend.orderStatus(order.orderId)).toBe("rejected")
        expect(await backend.exchangeOrders(order.orderId)).toBe(0)
      }))

    it("an expired approval is answered as expired and not executed", () =>
      withHarness(make, async (h) => {
        const { telegram, backend } = h
        const order = await backend.addSignalAwaitingApproval("SOL-USDT", "3")
        await h.announce(order)
        const message = await approvalMessage(telegram, ALICE.id, order.orderId)
        await backend.age(order.orderId)
        const answer = await press(telegram, ALICE, message, `approve:${order.orderId}`)
        expect(answer.show_alert).toBe(true)
        expect(answer.text).toContain("expired")
        expect(await backend.orderStatus(order.orderId)).toBe("expired")
        await telegram.waitFor(() => message.edits === 1, 5_000, "expiry edit")
        expect(message.text).toContain("Status: expired")
        expect(message.reply_markup).toBeUndefined()
        expect(await backend.exchangeOrders(order.orderId)).toBe(0)
      }, { APPROVAL_TIMEOUT_SECONDS: "2" })) // a short timeout: a backend whose database the test cannot reach ages by waiting

    it("a backend outage during approval keeps the buttons for another try", () =>
      withHarness(make, async (h) => {
        const { telegram, backend } = h
        const order = await backend.addSignalAwaitingApproval("BTC-USDT", "0.01")
        await h.announce(order)
        const message = await approvalMessage(telegram, ALICE.id, order.orderId)
        await backend.setUnavailable(true)
        const answer = await press(telegram, ALICE, message, `approve:${order.orderId}`)
        expect(answer.show_alert).toBe(true)
        expect(answer.text).toContain(`Could not approve order ${order.orderId}`)
        expect(message.edits).toBe(0)
        expect(buttons(message)).toContain(`approve:${order.orderId}`)
        const status = await say(telegram, ALICE, "/status")
        expect(status.text).toContain("Backend unavailable")
        await backend.setUnavailable(false)
        const retry = await press(telegram, ALICE, message, `approve:${order.orderId}`)
        expect(retry.text).toBe(`Order ${order.orderId} approved`)
        expect(await backend.settle(order.orderId)).toBe(backend.executes ? "filled" : "pending")
        expect(await backend.exchangeOrders(order.orderId)).toBe(backend.executes ? 1 : 0)
      }))
  })

const pick = (s: { auto_trade_enabled: boolean; manual_confirmation_required: boolean; margin_mode: string; leverage: number }) => ({
  auto_trade_enabled: s.auto_trade_enabled,
  manual_confirmation_required: s.manual_confirmation_required,
  margin_mode: s.margin_mode,
  leverage: s.leverage
})

/** A stranger presses an approval button on a message of their own chat (e.g. forwarded). */
const h_announce_and_press_as_stranger = async (telegram: FakeTelegram, orderId: string) => {
  const fake: FakeMessage = {
    message_id: 10_000,
    chat_id: MALLORY.id,
    html: "x",
    text: "x",
    parse_mode: undefined,
    reply_markup: { inline_keyboard: [[{ text: "✅ Approve", callback_data: `approve:${orderId}` }]] },
    edits: 0,
    date: 0
  }
  const answer = await press(telegram, MALLORY, fake, `approve:${orderId}`)
  expect(answer).toEqual({ text: UNAUTHORIZED_TEXT, show_alert: true })
}
