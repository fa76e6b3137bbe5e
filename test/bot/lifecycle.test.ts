/**
 * The bot's life: 429 storms and outages while polling, a bad token, no token at all, webhook
 * mode with its secret check, and the update counters on the bot exporter.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, type Duration, Effect, Layer, Metric } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter } from "effect/http"
import { BotBackend, MemoryBackend } from "../../src/bot/BotBackend.ts"
import { telegramLayers } from "../../src/bot/layers.ts"
import { AppConfig, loadConfig } from "../../src/config.ts"
import { Notifier } from "../../src/notify/Notifier.ts"
import { FakeTelegram } from "../fakes/telegram.ts"
import { FakeBackend } from "../fakes/backend.ts"
import { ADMIN_IDS, ALICE, API_TOKEN, BOB, capturingLogger, FAST, inProcessHarness, MALLORY, quietLogger, signalNotification } from "./harness.ts"
import { ready, say, withHarness } from "./scenarios.ts"

const updates = (type: string) =>
  Effect.runPromise(Effect.map(Metric.snapshot, (all) => {
    const s = all.find((x) => x.id === "tvtelegrambingx_bot_updates_total" && x.attributes?.type === type)
    return s === undefined ? 0 : Number((s.state as { count: number }).count)
  }))

const configFor = (env: Record<string, string>) =>
  Effect.runPromise(loadConfig.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(env))))

describe("Telegram bot lifecycle", () => {
  it("answers through a 429 storm on polling and replies (retry_after honoured)", () =>
    withHarness(
      inProcessHarness("memory", { telegram: { ...FAST, client: { ...FAST.client, maxRetryAttempts: 3 } } }),
      async ({ telegram }) => {
        await telegram.waitForMessages(BOB.id, 1) // every start-up message is out
        telegram.inject429("getUpdates", 2, 1)
        telegram.inject429("sendMessage", 3, 1)
        const reply = await say(telegram, ALICE, "/status")
        expect(reply.text).toContain("Automation Status")
        await telegram.waitFor(() => telegram.callsOf("getUpdates").filter((c) => c.outcome === 429).length === 2, 10_000, "polls")
        const sends = telegram.callsOf("sendMessage").filter((c) => c.at >= telegram.callsOf("getUpdates")[0]!.at)
        const limited = sends.filter((c) => c.outcome === 429)
        expect(limited).toHaveLength(3)
        // Each retry came only after retry_after (1 s).
        for (const c of limited) {
          const next = sends.find((x) => x.at > c.at)!
          expect(next.at - c.at).toBeGreaterThanOrEqual(950)
        }
      }
    ), 30_000)

  it("keeps working after Telegram was down; what was sent meanwhile is answered", () =>
    withHarness(inProcessHarness("memory"), async ({ telegram }) => {
      telegram.setDown(true)
      await telegram.waitFor(() => telegram.calls.filter((c) => c.method === "getupdates" && c.outcome === "cut").length >= 1, 10_000, "poll cut")
      // A user writes while the bot cannot reach Telegram.
      telegram.sendText(ALICE, "/status")
      await new Promise((r) => setTimeout(r, 300))
      telegram.setDown(false)
      const reply = await telegram.waitFor(
        () => telegram.messages(ALICE.id).find((m) => m.text.includes("Automation Status")),
        15_000,
        "reply after recovery"
      )
      expect(reply.text).toContain("Leverage: x5")
      // The update was confirmed (offset), so it is not handled twice.
      await telegram.waitFor(() => telegram.unconfirmedUpdates === 0, 5_000, "confirmation")
      expect(telegram.messages(ALICE.id).filter((m) => m.text.includes("Automation Status"))).toHaveLength(1)
    }), 30_000)

  it("counts updates by type on the bot exporter's metric", () =>
    withHarness(inProcessHarness("memory"), async ({ telegram }) => {
      const [messages, unauthorized] = [await updates("message"), await updates("unauthorized")]
      await say(telegram, ALICE, "/help")
      await say(telegram, MALLORY, "/status")
      expect(await updates("message")).toBe(messages + 1)
      expect(await updates("unauthorized")).toBe(unauthorized + 1)
    }))

  it("without TELEGRAM_BOT_TOKEN: one log line, a no-op notifier, nothing else", async () => {
    const logs: Array<{ level: string; message: string }> = []
    const config = await configFor({ TELEGRAM_ADMIN_IDS: ADMIN_IDS })
    const parts = telegramLayers(config)
    expect(parts.enabled).toBe(false)
    await Effect.runPromise(
      Effect.gen(function*() {
        const notifier = yield* Notifier
        yield* notifier.notify({ _tag: "BreakerChanged", state: "open", reason: null })
      }).pipe(
        Effect.provide(Layer.mergeAll(parts.notifier, parts.bot(BotBackend.layerMemory(new MemoryBackend())).run)),
        Effect.provide(Layer.succeed(AppConfig, config)),
        Effect.provide(capturingLogger(logs)),
        Effect.scoped
      )
    )
    const info = logs.filter((l) => l.level === "Info")
    expect(info).toEqual([{
      level: "Info",
      message: "Telegram is off: TELEGRAM_BOT_TOKEN is not set (no bot, no notifications); everything else runs"
    }])
  })

  it("a token Telegram refuses (401) stops the bot with one error; the layer stays up", async () => {
    const telegram = await FakeTelegram.start({ token: "123:right" })
    const logs: Array<{ level: string; message: string }> = []
    try {
      const config = await configFor({
        TELEGRAM_BOT_TOKEN: "123:wrong",
        TELEGRAM_API_ROOT: telegram.apiRoot,
        TELEGRAM_ADMIN_IDS: ADMIN_IDS
      })
      const parts = telegramLayers(config, FAST)
      await Effect.runPromise(
        Effect.gen(function*() {
          // getMe is refused (401, not retried): the start-up sequence ends there.
          yield* Effect.promise(() =>
            telegram.waitFor(() => logs.some((l) => l.level === "Error" && l.message.includes("401 Unauthorized")), 10_000, "401")
          )
          const notifier = yield* Notifier
          yield* notifier.notify({ _tag: "BreakerChanged", state: "closed", reason: null })
        }).pipe(
          Effect.provide(Layer.mergeAll(parts.notifier, parts.bot(BotBackend.layerMemory(new MemoryBackend())).run)),
          Effect.provide(Layer.succeed(AppConfig, config)),
          Effect.provide(capturingLogger(logs)),
          Effect.scoped
        )
      )
      expect(telegram.callsOf("getUpdates")).toHaveLength(0)
      expect(telegram.callsOf("getMe")).toHaveLength(1)
      expect(telegram.callsOf("getMe")[0]!.outcome).toBe(401)
      expect(logs.filter((l) => l.level === "Error")).toEqual([{
        level: "Error",
        message: "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized): the bot stays off; trading and the API keep running"
      }])
    } finally {
      await telegram.close()
    }
  })

  it("the start-up message waits for a backend that is still starting (two processes started together)", async () => {
    const telegram = await FakeTelegram.start()
    const logs: Array<{ level: string; message: string }> = []
    try {
      const config = await configFor({ TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot, TELEGRAM_ADMIN_IDS: ADMIN_IDS })
      const starting = new MemoryBackend({ leverage: 12 })
      starting.unavailable = "backend unreachable at http://127.0.0.1:8000 (GET /bot/status)"
      const gone = new MemoryBackend()
      gone.unavailable = "backend unreachable at http://127.0.0.1:8000 (GET /bot/status)"
      const run = (backend: MemoryBackend, startupStatusTimeout: Duration.Input, check: Effect.Effect<void>) =>
        Effect.runPromise(check.pipe(
          Effect.provide(telegramLayers(config, { ...FAST, bot: { ...FAST.bot, startupStatusTimeout } }).bot(BotBackend.layerMemory(backend)).run),
          Effect.provide(Layer.succeed(AppConfig, config)),
          Effect.provide(capturingLogger(logs)),
          Effect.scoped
        ))
      await run(
        starting,
        "10 seconds",
        Effect.promise(async () => {
          // Polling does not wait for the announcement: a command is answered meanwhile.
          const help = await say(telegram, ALICE, "/help")
          expect(help.text).toContain("TVTelegramBingX Control Bot")
          await new Promise((r) => setTimeout(r, 500))
          expect(telegram.messages(ALICE.id)).toHaveLength(1)
          starting.unavailable = undefined
          const message = await telegram.waitFor(() => telegram.messages(ALICE.id).find((m) => m.text.includes("Bot started")), 5_000, "start-up")
          expect(message.text).toContain("Leverage: 12x")
          expect(starting.callsOf("status").length).toBeGreaterThan(1)
        })
      )
      // Still unreachable when the wait is over: the message says so.
      await run(
        gone,
        "1 second",
        Effect.promise(async () => {
          const message = await telegram.waitFor(
            () => telegram.messages(BOB.id).find((m) => m.text.includes("status could not be loaded")),
            10_000,
            "degraded start-up"
          )
          expect(message.text).toBe("🤖 Bot started, the status could not be loaded.")
        })
      )
      expect(logs.filter((l) => l.message.startsWith("start-up status could not be loaded"))).toHaveLength(1)
    } finally {
      await telegram.close()
    }
  }, 30_000)

  it.live("webhook mode: setWebhook with the secret, updates over HTTP, wrong secret refused", () =>
    Effect.gen(function*() {
      const telegram = yield* Effect.acquireRelease(Effect.promise(() => FakeTelegram.start()), (t) => Effect.promise(() => t.close()))
      const config = yield* Effect.promise(() =>
        configFor({
          TELEGRAM_BOT_TOKEN: telegram.token,
          TELEGRAM_API_ROOT: telegram.apiRoot,
          TELEGRAM_ADMIN_IDS: ADMIN_IDS,
          TELEGRAM_WEBHOOK_URL: "https://bot.example.com/telegram/hook",
          TELEGRAM_WEBHOOK_SECRET: "s3cret_-token"
        })
      )
      const parts = telegramLayers(config, FAST)
      const bot = parts.bot(BotBackend.layerMemory(new MemoryBackend()))
      const server = HttpRouter.serve(bot.routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layerTest)
      )
      const context = yield* Layer.build(
        Layer.mergeAll(server, bot.run).pipe(Layer.provide(Layer.succeed(AppConfig, config)), Layer.provide(quietLogger))
      )
      const client = context.mapUnsafe.get(HttpClient.HttpClient.key) as HttpClient.HttpClient
      yield* Effect.promise(() => telegram.waitFor(() => telegram.webhook, 10_000, "setWebhook"))
      expect(telegram.webhook).toEqual({ url: "https://bot.example.com/telegram/hook", secret_token: "s3cret_-token" })
      expect(telegram.callsOf("setWebhook")[0]!.payload.allowed_updates).toEqual(["message", "callback_query"])

      const update = {
        update_id: 1,
        message: {
          message_id: 1,
          date: 1,
          chat: { id: ALICE.id, type: "private", first_name: "Alice" },
          from: { id: ALICE.id, is_bot: false, first_name: "Alice", username: "alice" },
          text: "/status",
          entities: [{ type: "bot_command", offset: 0, length: 7 }]
        }
      }
      const post = (secret: string | undefined) =>
        client.execute(
          HttpClientRequest.post("/telegram/hook").pipe(
            HttpClientRequest.bodyJsonUnsafe(update),
            secret === undefined ? (r) => r : HttpClientRequest.setHeader("x-telegram-bot-api-secret-token", secret)
          )
        )
      const wrong = yield* post("wrong")
      expect(wrong.status).toBe(401)
      expect((yield* post(undefined)).status).toBe(401)
      expect(telegram.messages(ALICE.id).filter((m) => m.text.includes("Automation Status"))).toHaveLength(0)
      const right = yield* post("s3cret_-token")
      expect(right.status).toBe(200)
      yield* Effect.promise(() =>
        telegram.waitFor(() => telegram.messages(ALICE.id).find((m) => m.text.includes("Automation Status")), 10_000, "reply")
      )
      const notAnUpdate = yield* client.execute(HttpClientRequest.post("/telegram/hook").pipe(
        HttpClientRequest.bodyJsonUnsafe({ hello: 1 }),
        HttpClientRequest.setHeader("x-telegram-bot-api-secret-token", "s3cret_-token")
      ))
      expect(notAnUpdate.status).toBe(400)
      expect(telegram.callsOf("getUpdates")).toHaveLength(0)
      yield* Effect.promise(() => ready(telegram))
    }).pipe(Effect.scoped), 30_000)

  it.live("webhook mode: two presses of one approve button handled at once make one backend call", () =>
    Effect.gen(function*() {
      const telegram = yield* Effect.acquireRelease(Effect.promise(() => FakeTelegram.start()), (t) => Effect.promise(() => t.close()))
      const memory = new MemoryBackend()
      const backend = yield* Effect.acquireRelease(Effect.promise(() => FakeBackend.start(memory, API_TOKEN)), (b) => Effect.promise(() => b.close()))
      const config = yield* Effect.promise(() =>
        configFor({
          TELEGRAM_BOT_TOKEN: telegram.token,
          TELEGRAM_API_ROOT: telegram.apiRoot,
          TELEGRAM_ADMIN_IDS: ADMIN_IDS,
          TELEGRAM_WEBHOOK_URL: "https://bot.example.com/hook",
          TELEGRAM_WEBHOOK_SECRET: "secret",
          BACKEND_BASE_URL: backend.url,
          API_TOKEN
        })
      )
      const parts = telegramLayers(config, FAST)
      const bot = parts.bot(BotBackend.layerHttp)
      const server = HttpRouter.serve(bot.routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layerTest)
      )
      const context = yield* Layer.build(
        Layer.mergeAll(server, bot.run, parts.notifier).pipe(Layer.provide(Layer.succeed(AppConfig, config)), Layer.provide(quietLogger))
      )
      const client = context.mapUnsafe.get(HttpClient.HttpClient.key) as HttpClient.HttpClient
      const notifier = context.mapUnsafe.get(Notifier.key) as Notifier["Service"]
      yield* Effect.promise(() => telegram.waitFor(() => telegram.webhook, 10_000, "setWebhook"))

      const { order, signal } = memory.addSignal({ symbol: "BTC-USDT", action: "buy", quantity: "1" })
      yield* notifier.notify(signalNotification({ signalId: signal.id, orderId: order.id, symbol: "BTC-USDT", action: "buy", quantity: "1", price: null }))
      const message = yield* Effect.promise(() =>
        telegram.waitFor(() => telegram.messages(ALICE.id).find((m) => m.text.includes("New signal")), 10_000, "approval message")
      )
      backend.delayMs = 300
      const first = telegram.press(ALICE, message, `approve:${order.id}`)
      const second = telegram.press(ALICE, message, `approve:${order.id}`)
      const deliver = (update: Record<string, unknown>) =>
        client.execute(HttpClientRequest.post("/hook").pipe(
          HttpClientRequest.bodyJsonUnsafe(update),
          HttpClientRequest.setHeader("x-telegram-bot-api-secret-token", "secret")
        ))
      const updates = telegram.pendingUpdates().filter((u) => "callback_query" in u)
      const statuses = yield* Effect.all(updates.map(deliver), { concurrency: "unbounded" })
      expect(statuses.map((r) => r.status)).toEqual([200, 200])
      expect(backend.requestsTo("POST", `/orders/${order.id}/approve`)).toHaveLength(1)
      expect(telegram.callbackAnswers.get(first)).toEqual({ text: `Order ${order.id} approved`, show_alert: false })
      expect(telegram.callbackAnswers.get(second)).toEqual({ text: `Order ${order.id} is already being approved…`, show_alert: true })
      expect(memory.findOrder(order.id)?.status).toBe("pending")
    }).pipe(Effect.scoped), 30_000)
})
