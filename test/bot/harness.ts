/**
 * Runs the real bot (grammY, handlers, outbox, notifier) against the Telegram fake, with its
 * backend behind one of the `BotBackend` layers. The scenarios in scenarios.ts only talk to a
 * `BotHarness`, so the same suite runs:
 * - in-process with `BotBackend.layerMemory` ("memory"),
 * - in-process with `BotBackend.layerHttp` against the loopback backend fake ("http"),
 * - with `--role api` + `--role bot` as two processes, and with `--role all` in this process, on the
 *   real services against the BingX fake (stacks.ts: test/e2e/botProcess.test.ts, test/bot/allRole.test.ts).
 */
import { ConfigProvider, Effect, Exit, Layer, Logger, References, Scope } from "effect"
import { MemoryBackend, BotBackend } from "../../src/bot/BotBackend.ts"
import { type TelegramOptions, telegramLayers } from "../../src/bot/layers.ts"
import { loadConfig, AppConfig } from "../../src/config.ts"
import { type Notification, Notifier } from "../../src/notify/Notifier.ts"
import { FakeBackend } from "../fakes/backend.ts"
import { FakeTelegram, type FakeUser } from "../fakes/telegram.ts"

export const ALICE: FakeUser = { id: 42, username: "alice", first_name: "Alice" }
export const BOB: FakeUser = { id: 43, username: "bob", first_name: "Bob" }
export const MALLORY: FakeUser = { id: 666, username: "mallory", first_name: "Mallory" }
export const ADMIN_IDS = `${ALICE.id},${BOB.id}`
export const API_TOKEN = "test-api-token"

export interface SettingsView {
  readonly auto_trade_enabled: boolean
  readonly manual_confirmation_required: boolean
  readonly margin_mode: string
  readonly leverage: number
  readonly paused: boolean
}

export interface AwaitingOrder {
  readonly signalId: string
  readonly orderId: string
  readonly symbol: string
  readonly action: "buy" | "sell"
  readonly quantity: string | null
  readonly price: string | null
}

/** What the scenarios need to know about and do to the backend, whichever it is. */
export interface BackendControl {
  /** A stored signal whose order awaits approval (as the webhook would create it). */
  readonly addSignalAwaitingApproval: (symbol: string, quantity: string) => Promise<AwaitingOrder>
  readonly settings: () => Promise<SettingsView>
  readonly orderStatus: (orderId: string) => Promise<string>
  /** Approve (or reject) calls the backend received for this order. */
  readonly decisionCalls: (orderId: string, decision: "approve" | "reject") => Promise<number>
  /** Makes the order older than the approval timeout. */
  readonly age: (orderId: string) => Promise<void>
  /** Every audit row so far (actor id, action, result). */
  readonly audits: () => Promise<ReadonlyArray<{ readonly actorId: string; readonly action: string; readonly result: string }>>
  /** Simulates an outage of the backend (true) and its end (false). */
  readonly setUnavailable: (down: boolean) => Promise<void>
  /** True when the backend executes approved orders at an exchange (the real services). */
  readonly executes: boolean
  /** Waits until the backend is done with a decided order (its order actor, if any); its status then. */
  readonly settle: (orderId: string) => Promise<string>
  /** Orders the exchange received for this order (POST /openApi/swap/v2/trade/order with its clientOrderId). */
  readonly exchangeOrders: (orderId: string) => Promise<number>
}

export interface BotHarness {
  readonly telegram: FakeTelegram
  readonly backend: BackendControl
  /** Delivers the "new signal" notification of `order` the way the backend does (Notifier). */
  readonly announce: (order: AwaitingOrder) => Promise<void>
  readonly close: () => Promise<void>
}

export type HarnessFactory = (env?: Readonly<Record<string, string>>) => Promise<BotHarness>

export const memoryControl = (memory: MemoryBackend): BackendControl => ({
  addSignalAwaitingApproval: async (symbol, quantity) => {
    const { order, signal } = memory.addSignal({ symbol, action: "buy", positionSide: "long", quantity, price: null })
    return { signalId: signal.id, orderId: order.id, symbol, action: "buy", quantity, price: null }
  },
  settings: async () => memory.state,
  orderStatus: async (id) => memory.findOrder(id)?.status ?? "missing",
  decisionCalls: async (id, decision) => memory.callsOf(decision).filter((c) => c.arg === id).length,
  age: async (id) => {
    const order = memory.findOrder(id)!
    memory.now = () => new Date(new Date(order.created_at).getTime() + memory.approvalTimeoutMs + 1_000)
  },
  audits: async () =>
    memory.audits.map((a) => ({ actorId: String(a.actor.userId), action: a.action, result: a.result })),
  setUnavailable: async (down) => {
    memory.unavailable = down ? "backend is restarting" : undefined
  },
  // No order actor and no exchange behind the memory backend: an approved order stays pending.
  executes: false,
  settle: async (id) => memory.findOrder(id)?.status ?? "missing",
  exchangeOrders: async () => 0
})

export const signalNotification = (order: AwaitingOrder): Notification => ({
  _tag: "SignalReceived",
  signalId: order.signalId,
  orderId: order.orderId,
  symbol: order.symbol,
  action: order.action,
  positionSide: "long",
  reduceOnly: false,
  quantity: order.quantity,
  price: order.price,
  orderStatus: "awaiting_approval"
})

/** Short delays so failures and recoveries happen within a test. */
export const FAST: TelegramOptions = {
  client: { maxRetryAfterSeconds: 5, maxRetryAttempts: 2, requestTimeoutSeconds: 40 },
  outbox: { retryBase: "50 millis", retryMax: "300 millis", drainTimeout: "500 millis" },
  bot: { retryBase: "50 millis", retryMax: "300 millis", restartDelay: "200 millis", conflictDelay: "200 millis" }
}

export const quietLogger = Layer.mergeAll(Logger.layer([]), Layer.succeed(References.MinimumLogLevel, "Error"))

/**
 * The bot in this process: Telegram fake + the chosen backend layer + the Telegram notifier, built
 * like src/main.ts builds it (telegramLayers).
 */
export const inProcessHarness = (
  kind: "memory" | "http",
  options: { readonly telegram?: TelegramOptions; readonly logger?: Layer.Layer<never> } = {}
): HarnessFactory =>
async (env = {}) => {
  const telegram = await FakeTelegram.start()
  const memory = new MemoryBackend()
  const fakeBackend = kind === "http" ? await FakeBackend.start(memory, API_TOKEN) : undefined
  const raw: Record<string, string> = {
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_ROOT: telegram.apiRoot,
    TELEGRAM_ADMIN_IDS: ADMIN_IDS,
    API_TOKEN,
    ...(fakeBackend ? { BACKEND_BASE_URL: fakeBackend.url } : {}),
    ...env
  }
  const config = await Effect.runPromise(
    loadConfig.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(raw)))
  )
  const parts = telegramLayers(config, options.telegram ?? FAST)
  const backendLayer = kind === "memory" ? BotBackend.layerMemory(memory) : BotBackend.layerHttp
  const bot = parts.bot(backendLayer)
  const layer = Layer.mergeAll(parts.notifier, bot.run).pipe(
    Layer.provide(Layer.succeed(AppConfig, config)),
    Layer.provide(options.logger ?? quietLogger)
  )
  const scope = await Effect.runPromise(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const notifier = context.mapUnsafe.get(Notifier.key) as Notifier["Service"]
  return {
    telegram,
    backend: memoryControl(memory),
    announce: (order) => Effect.runPromise(notifier.notify(signalNotification(order))),
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await telegram.close()
      await fakeBackend?.close()
    }
  }
}

/**
 * Only the notifier, as in `--role api` (no polling): Telegram fake + outbox + Notifier.
 * `env` may override recipients; `TELEGRAM_ADMIN_IDS` defaults to alice and bob.
 */
export const inProcessNotifier = async (
  env: Readonly<Record<string, string>> = {},
  options: TelegramOptions = FAST,
  logger: Layer.Layer<never> = quietLogger,
  /** An existing fake (the two-process layout shares one); otherwise a new one, closed with this. */
  shared?: FakeTelegram
) => {
  const telegram = shared ?? (await FakeTelegram.start())
  const raw: Record<string, string> = {
    ROLE: "api",
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_ROOT: telegram.apiRoot,
    TELEGRAM_ADMIN_IDS: ADMIN_IDS,
    ...env
  }
  const config = await Effect.runPromise(
    loadConfig.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(raw)))
  )
  const parts = telegramLayers(config, options)
  const scope = await Effect.runPromise(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(parts.notifier.pipe(Layer.provide(Layer.succeed(AppConfig, config)), Layer.provide(logger)), scope)
  )
  const notifier = context.mapUnsafe.get(Notifier.key) as Notifier["Service"]
  return {
    telegram,
    // Callers run notify in their own fiber (here: with the same logger as the layer).
    notify: (n: Notification) => Effect.runPromise(notifier.notify(n).pipe(Effect.provide(logger))),
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      if (shared === undefined) await telegram.close()
    }
  }
}

/** A logger that keeps every message (for asserting on warnings and one-line notices). */
export const capturingLogger = (lines: Array<{ level: string; message: string }>) =>
  Layer.mergeAll(
    Logger.layer([
      Logger.make((o) => {
        const m = o.message
        lines.push({ level: o.logLevel, message: Array.isArray(m) ? m.map(String).join(" ") : String(m) })
      })
    ]),
    Layer.succeed(References.MinimumLogLevel, "Debug")
  )
