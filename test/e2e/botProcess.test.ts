/**
 * The two-process layout:
 * - the bot suite (scenarios.ts) with `node src/main.ts --role api` and `node src/main.ts --role bot`
 *   as two processes on the real services against the BingX and Telegram fakes (stacks.ts), then
 *   the bot's acceptance scenario and the notifications the api process sends (liveScenarios.ts);
 * - the `--role bot` process on its own (its :9000 metrics, webhook mode) against the loopback fake
 *   of the HTTP contract, with the api side's Telegram notifier in this test process.
 */
import { describe, expect, it } from "@effect/vitest"
import { MemoryBackend } from "../../src/bot/BotBackend.ts"
import { ADMIN_IDS, ALICE, API_TOKEN, FAST, inProcessNotifier, signalNotification } from "../bot/harness.ts"
import { defineLiveBotScenarios } from "../bot/liveScenarios.ts"
import { apiAndBotProcesses } from "../bot/stacks.ts"
import { defineBotScenarios, ready, say } from "../bot/scenarios.ts"
import { FakeBackend } from "../fakes/backend.ts"
import { FakeTelegram } from "../fakes/telegram.ts"
import { type ChildProcessApp, startChildProcessApp } from "../support/childProcessApp.ts"

const startBotProcess = async (env: Readonly<Record<string, string>> = {}) => {
  const telegram = await FakeTelegram.start()
  const memory = new MemoryBackend()
  const backend = await FakeBackend.start(memory, API_TOKEN)
  let app: ChildProcessApp | undefined
  try {
    app = await startChildProcessApp({
      args: ["--role", "bot"],
      env: {
        TELEGRAM_BOT_TOKEN: telegram.token,
        TELEGRAM_API_ROOT: telegram.apiRoot,
        TELEGRAM_ADMIN_IDS: ADMIN_IDS,
        BACKEND_BASE_URL: backend.url,
        API_TOKEN,
        LOG_LEVEL: "info",
        ...env
      }
    })
  } catch (e) {
    await telegram.close()
    await backend.close()
    throw e
  }
  // The api process's side: the Telegram notifier (no polling) on the same token.
  const api = await inProcessNotifier({}, FAST, undefined, telegram)
  return { telegram, memory, backend, app, api }
}

defineBotScenarios("--role api + --role bot processes, real services, BingX fake", apiAndBotProcesses)
defineLiveBotScenarios("--role api + --role bot processes", apiAndBotProcesses)

describe("the --role bot process", () => {
  it("serves its metrics on :9000 with route templates and update types, and stops cleanly", async () => {
    const p = await startBotProcess()
    try {
      await ready(p.telegram)
      await say(p.telegram, ALICE, "/status")
      const { order } = p.memory.addSignal({ symbol: "BTC-USDT", action: "buy", quantity: "1" })
      await p.api.notify(signalNotification({
        signalId: order.signal_id,
        orderId: order.id,
        symbol: "BTC-USDT",
        action: "buy",
        quantity: "1",
        price: null
      }))
      const message = await p.telegram.waitFor(
        () => p.telegram.messages(ALICE.id).find((m) => m.text.includes("New signal")),
        10_000,
        "approval message"
      )
      const id = p.telegram.press(ALICE, message, `approve:${order.id}`)
      await p.telegram.waitFor(() => p.telegram.callbackAnswers.get(id), 10_000, "answer")
      const metrics = await (await fetch(`${p.app.botMetricsUrl}/metrics`)).text()
      expect(metrics).toContain('tvtelegrambingx_bot_backend_requests_total{method="GET",path="/bot/status",status="200"}')
      expect(metrics).toContain('tvtelegrambingx_bot_backend_requests_total{method="POST",path="/orders/{id}/approve",status="200"}')
      expect(metrics).toMatch(/tvtelegrambingx_bot_backend_request_duration_seconds_count\{method="GET",path="\/bot\/status"\} \d+/)
      expect(metrics).toMatch(/tvtelegrambingx_bot_updates_total\{type="message"\} [1-9]/)
      expect(metrics).toMatch(/tvtelegrambingx_bot_updates_total\{type="callback"\} [1-9]/)
      expect(metrics).not.toMatch(/path="\/orders\/\d+/)
      // No database in this role.
      expect(p.app.stdout.join("\n")).toContain("database=none (bot role)")
    } finally {
      await p.api.close()
      expect(await p.app.stop("SIGTERM")).toBe(0)
      await p.telegram.close()
      await p.backend.close()
    }
  }, 60_000)

  it("webhook mode: the bot process serves Telegram's POSTs on its :9000 listener", async () => {
    const p = await startBotProcess({ TELEGRAM_WEBHOOK_URL: "https://bot.example.com/hook", TELEGRAM_WEBHOOK_SECRET: "proc_secret" })
    try {
      await p.telegram.waitFor(() => p.telegram.webhook, 15_000, "setWebhook")
      expect(p.telegram.webhook?.secret_token).toBe("proc_secret")
      p.telegram.sendText(ALICE, "/help")
      // In webhook mode nothing polls; deliver the queued update the way Telegram would.
      const res = await fetch(`${p.app.botMetricsUrl}/hook`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": "proc_secret" },
        body: JSON.stringify(await p.telegram.waitFor(() => p.telegram.pendingUpdates()[0], 5_000, "update"))
      })
      expect(res.status).toBe(200)
      await p.telegram.waitFor(() => p.telegram.messages(ALICE.id).find((m) => m.text.includes("Control Bot")), 10_000, "help")
      expect(p.telegram.callsOf("getUpdates")).toHaveLength(0)
      expect((await fetch(`${p.app.botMetricsUrl}/metrics`)).status).toBe(200)
    } finally {
      await p.api.close()
      expect(await p.app.stop("SIGTERM")).toBe(0)
      await p.telegram.close()
      await p.backend.close()
    }
  }, 60_000)
})
