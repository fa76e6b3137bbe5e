/**
 * The bot on the real services (stacks.ts), for both process layouts: the acceptance scenario —
 * `/status` shows the real state, a signal awaiting approval arrives with buttons, Approve places
 * exactly one order at the exchange and the message shows the outcome — and the notifications the
 * backend sends on its own: order filled / rejected (with the reason) / failed, the exchange
 * breaker opening and closing, and signals that keep trading while Telegram is down.
 * Assertions use what the Telegram and BingX fakes received, and the API's own answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { fixed } from "../../src/bot/html.ts"
import type { FakeMessage, FakeTelegram } from "../fakes/telegram.ts"
import { ALICE, BOB } from "./harness.ts"
import { buttons, press, ready, say, withHarness } from "./scenarios.ts"
import type { LiveHarness, LiveHarnessFactory } from "./stacks.ts"

const ORDER_PATH = "/openApi/swap/v2/trade/order"

/** The first message in each admin's chat that matches (Alice's and Bob's). */
const toAdmins = (telegram: FakeTelegram, match: (m: FakeMessage) => boolean, what: string, timeoutMs = 20_000) => {
  const inChat = (admin: typeof ALICE) =>
    telegram.waitFor(() => telegram.messages(admin.id).find(match), timeoutMs, `${what} in ${admin.username}'s chat`)
  return Promise.all([inChat(ALICE), inChat(BOB)] as const)
}

const settings = async (h: LiveHarness, patch: Record<string, unknown>) => {
  const reply = await h.api("POST", "/bot/settings", patch)
  expect(reply.status).toBe(200)
}

/** Auto-trade on, confirmations off: a signal's order is executed at once. */
const autoTrade = (h: LiveHarness) => settings(h, { auto_trade_enabled: true, manual_confirmation_required: false })

const signal = async (h: LiveHarness, alert: Record<string, unknown>, expected: "pending" | "awaiting_approval") => {
  const reply = await h.webhook(alert)
  expect(reply.status).toBe(201)
  expect(reply.body.order_status).toBe(expected)
  return reply.body.order_id as string
}

export const defineLiveBotScenarios = (name: string, make: LiveHarnessFactory) =>
  describe(`Telegram bot on the real services (${name})`, () => {
    describe("one stack for these tests", () => {
      let h: LiveHarness
      beforeAll(async () => {
        // Fast breaker (2 transient failures, 1 s cool-down) and no client retries, for the breaker test.
        h = await make({ BINGX_MAX_RETRIES: "0", EXCHANGE_BREAKER_THRESHOLD: "2", EXCHANGE_BREAKER_COOLDOWN_SECONDS: "1" })
        await ready(h.telegram)
      }, 120_000)
      afterAll(async () => {
        await h?.close()
      })

      it("done when: a signal awaiting approval arrives with buttons, Approve places exactly one order, /status shows the real state", async () => {
        const { telegram, exchange } = h
        await settings(h, { auto_trade_enabled: false, manual_confirmation_required: true })
        const id = await signal(h, { symbol: "BTC-USDT", action: "buy", quantity: "0.01" }, "awaiting_approval")
        const [message] = await toAdmins(telegram, (m) => buttons(m).includes(`approve:${id}`), "the approval message")
        expect(buttons(message)).toEqual([`approve:${id}`, `reject:${id}`])
        expect(message.text).toContain("New signal BTC-USDT")
        expect(message.text).toContain("Quantity: 0.01")
        expect(message.text).toContain(`Order: #${id} — awaiting approval`)
        const posted = exchange.requests(ORDER_PATH, "POST").length

        const answer = await press(telegram, ALICE, message, `approve:${id}`)
        expect(answer.text).toBe(`Order ${id} approved`)
        await telegram.waitFor(() => message.edits === 1, 5_000, "the approval message edited")
        expect(message.text).toContain("Approved by @alice")
        expect(message.reply_markup).toBeUndefined()
        const order = await h.finalOrder(id)
        expect(order).toMatchObject({ status: "filled", filled_quantity: "0.01", average_price: "65000.5" })
        // Exactly one order at the exchange, carrying this order's clientOrderId.
        const posts = exchange.requests(ORDER_PATH, "POST").slice(posted)
        expect(posts).toHaveLength(1)
        expect(posts[0]!.params).toMatchObject({
          symbol: "BTC-USDT",
          side: "BUY",
          type: "MARKET",
          quantity: "0.01",
          clientOrderId: order.client_order_id
        })
        const [filled] = await toAdmins(telegram, (m) => m.text.includes(`Order #${id} filled`), "the fill notification")
        expect(filled.text).toContain("BTC-USDT BUY qty 0.01 @ 65000.5")

        // /status: the API's state, in the seed's words.
        const status = await say(telegram, ALICE, "/status")
        const state = (await h.api("GET", "/bot/status")).body
        for (
          const line of [
            "Auto-Trade: OFF",
            "Manual Confirmations: ON",
            "Margin Mode: isolated",
            "Leverage: x5",
            "Paused: no",
            "Trading Mode: live",
            "State: closed (0 consecutive failures)"
          ]
        ) expect(status.text).toContain(line)
        expect(state.balances.length).toBeGreaterThan(0)
        for (const b of state.balances) expect(status.text).toContain(`• ${b.asset}: free ${b.free}, locked ${b.locked}, total ${b.total}`)
        expect(state.pnl.fees).not.toBe("0")
        for (const [label, key] of [["Realized", "realized"], ["Unrealized", "unrealized"], ["Fees", "fees"], ["Net", "net"]]) {
          expect(status.text).toContain(`${label}: ${fixed(state.pnl[key!])}`)
        }
        expect(state.open_positions).toContainEqual(expect.objectContaining({ symbol: "BTC-USDT", side: "long", entry_price: "65000.5" }))
        for (const p of state.open_positions) {
          expect(status.text).toContain(`• ${p.symbol} — ${p.side.toUpperCase()} qty ${p.quantity} @ ${p.entry_price}`)
        }
        // The bot uses the backend's services, not copies of them: one order actor (and breaker) in the stack.
        expect(h.logs().filter((l) => l.includes("order actor started"))).toHaveLength(1)
      })

      it("an executed signal is announced, then its fill (to every admin)", async () => {
        const { telegram } = h
        await autoTrade(h)
        const id = await signal(h, { symbol: "ETH-USDT", action: "buy", quantity: "0.05" }, "pending")
        const [received] = await toAdmins(telegram, (m) => m.text.includes(`Order: #${id} — pending`), "the signal notification")
        expect(received.text).toContain("New signal ETH-USDT")
        expect(received.reply_markup).toBeUndefined()
        const [filled] = await toAdmins(telegram, (m) => m.text.includes(`Order #${id} filled`), "the fill notification")
        expect(filled.text).toContain("ETH-USDT BUY qty 0.05 @ 3000.25")
        expect((await h.finalOrder(id)).status).toBe("filled")
      })

      it("rejections are announced with the reason: refused by the exchange, rejected by an operator", async () => {
        const { telegram, exchange } = h
        await autoTrade(h)
        exchange.inject(ORDER_PATH, { kind: "code", code: 101204, msg: "Insufficient margin" }, { method: "POST", symbol: "SOL-USDT" })
        const refused = await signal(h, { symbol: "SOL-USDT", action: "buy", quantity: "1" }, "pending")
        const [byExchange] = await toAdmins(telegram, (m) => m.text.includes(`Order #${refused} rejected`), "the rejection")
        expect(byExchange.text).toContain("Reason: the exchange refused the order: BingX 101204: Insufficient margin")
        expect((await h.finalOrder(refused)).reason).toBe("the exchange refused the order: BingX 101204: Insufficient margin")

        await settings(h, { manual_confirmation_required: true })
        const unwanted = await signal(h, { symbol: "SOL-USDT", action: "buy", quantity: "2" }, "awaiting_approval")
        const [message] = await toAdmins(telegram, (m) => buttons(m).includes(`reject:${unwanted}`), "the approval message")
        const posted = exchange.requests(ORDER_PATH, "POST").length
        expect((await press(telegram, BOB, message, `reject:${unwanted}`)).text).toBe(`Order ${unwanted} rejected`)
        const [byOperator] = await toAdmins(telegram, (m) => m.text.includes(`Order #${unwanted} rejected`), "the rejection")
        expect(byOperator.text).toContain("Reason: rejected by operator")
        expect(exchange.requests(ORDER_PATH, "POST").length).toBe(posted)
      })

      it("the exchange breaker opening, probing and closing is announced; the held order is then filled", async () => {
        const { telegram, exchange } = h
        await autoTrade(h)
        // The order is refused twice with a transient error (not placed; threshold 2): the breaker opens,
        // holds the resend for the cool-down, lets it through as the probe, and closes.
        exchange.inject(ORDER_PATH, { kind: "code", code: 100500, msg: "internal error" }, { method: "POST", times: 2, symbol: "ETH-USDT" })
        const id = await signal(h, { symbol: "ETH-USDT", action: "buy", quantity: "0.02" }, "pending")
        const [open] = await toAdmins(telegram, (m) => m.text.includes("breaker OPEN"), "the breaker opening")
        expect(open.text).toContain("Reason: 2 consecutive transient exchange failures")
        await toAdmins(telegram, (m) => m.text.includes("breaker closed"), "the breaker closing")
        await toAdmins(telegram, (m) => m.text.includes(`Order #${id} filled`), "the fill notification")
        const firstLines = telegram.messages(ALICE.id).map((m) => m.text.split("\n")[0]!)
        const at = (text: string) => firstLines.findIndex((l) => l.includes(text))
        expect(at("breaker OPEN")).toBeLessThan(at("breaker half-open"))
        expect(at("breaker half-open")).toBeLessThan(at("breaker closed"))
        expect(at("breaker closed")).toBeLessThan(at(`Order #${id} filled`))
        expect((await h.api("GET", "/bot/status")).body.breaker).toEqual({ state: "closed", consecutive_failures: 0, open_until: null })
        const order = await h.finalOrder(id)
        const sends = exchange.requests(ORDER_PATH, "POST").filter((r) => r.params["clientOrderId"] === order.client_order_id)
        // Two refusals, then the probe placed it: one order at the exchange.
        expect(sends.map((r) => r.answer?.code)).toEqual([100500, 100500, 0])
        expect(exchange.placed().filter((o) => o.clientOrderId === order.client_order_id)).toHaveLength(1)
      })

      it("Telegram down: signals keep trading; the notifications arrive when it is back", async () => {
        const { telegram, exchange } = h
        await autoTrade(h)
        telegram.setDown(true)
        try {
          const id = await signal(h, { symbol: "BTC-USDT", action: "buy", quantity: "0.002" }, "pending")
          const order = await h.finalOrder(id)
          expect(order.status).toBe("filled")
          expect(exchange.requests(ORDER_PATH, "POST").filter((r) => r.params["clientOrderId"] === order.client_order_id)).toHaveLength(1)
          telegram.setDown(false)
          await toAdmins(telegram, (m) => m.text.includes(`Order: #${id} — pending`), "the signal notification", 60_000)
          await toAdmins(telegram, (m) => m.text.includes(`Order #${id} filled`), "the fill notification", 60_000)
        } finally {
          telegram.setDown(false)
        }
      }, 90_000)
    })

    it("an order whose outcome stays unknown and was never placed is announced as failed, with the reason", () =>
      withHarness(make, async (h) => {
        const { telegram, exchange } = h
        await autoTrade(h)
        // Every send answers 502 (outcome unknown) and the order is never found: after SIGNAL_MAX_AGE_SECONDS it fails.
        exchange.inject(ORDER_PATH, { kind: "http", status: 502 }, { method: "POST", times: 1_000 })
        const id = await signal(h, { symbol: "BTC-USDT", action: "buy", quantity: "0.01" }, "pending")
        const order = await h.finalOrder(id)
        expect(order.status).toBe("failed")
        expect(order.reason).toContain("not placed: the outcome was unknown")
        expect(exchange.placed()).toHaveLength(0)
        const [failed] = await toAdmins(telegram, (m) => m.text.includes(`Order #${id} failed`), "the failure notification")
        expect(failed.text).toContain(`Reason: ${order.reason}`)
      }, { SIGNAL_MAX_AGE_SECONDS: "3" }), 90_000)
  })
