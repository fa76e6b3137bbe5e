/**
 * The Telegram bot's lifecycle, tied to its layer: handlers are installed, then in the background
 * (start-up never waits on Telegram) the bot learns who it is (`getMe`, retried), registers its
 * commands (`setMyCommands`), announces itself (the seed's `_announce_startup`, through the
 * outbox) and receives updates:
 * - long polling (default): grammY's `bot.start`, restarted after failures; 401 (bad token) stops
 *   the bot with one error line, 409 (another poller) is retried every 30 s;
 * - webhook (`TELEGRAM_WEBHOOK_URL` + `TELEGRAM_WEBHOOK_SECRET`): `setWebhook` with the secret,
 *   and updates arrive through `TelegramWebhook.handle` (see routes.ts), checked by grammY's
 *   constant-time secret comparison.
 * Closing the layer stops polling (bounded wait). Telegram being down never fails the layer.
 */
import { Context, Duration, Effect, Layer, Redacted, Schedule, Scope } from "effect"
import { webhookCallback } from "grammy"
import type { Update, UserFromGetMe } from "grammy/types"
import { AppConfig } from "../config.ts"
import { BotBackend } from "./BotBackend.ts"
import { BOT_COMMANDS, botStartupText } from "./format.ts"
import { type HandlerOptions, installHandlers } from "./handlers.ts"
import { TelegramCallFailed, TelegramClient } from "./TelegramClient.ts"
import { TelegramOutbox } from "./TelegramOutbox.ts"

export const ALLOWED_UPDATES = ["message", "callback_query"] as const

export interface TelegramBotOptions extends HandlerOptions {
  /** Long-polling timeout of getUpdates (seconds, default 30). */
  readonly pollTimeoutSeconds?: number
  /** Wait before restarting polling after an unexpected failure (default 5 s). */
  readonly restartDelay?: Duration.Input
  /** Wait before trying again after a 409 conflict (default 30 s). */
  readonly conflictDelay?: Duration.Input
  /** How long the start-up message waits for an unreachable backend's status (default 30 s). */
  readonly startupStatusTimeout?: Duration.Input
  /** Backoff of the start-up calls (getMe, setMyCommands, setWebhook): base (1 s) and cap (60 s). */
  readonly retryBase?: Duration.Input
  readonly retryMax?: Duration.Input
}

export type WebhookOutcome = "handled" | "unauthorized"

/** Webhook mode: the route hands Telegram's POSTs to this. */
export class TelegramWebhook extends Context.Service<TelegramWebhook, {
  readonly path: string
  readonly handle: (update: Update, secretHeader: string | undefined) => Effect.Effect<WebhookOutcome>
}>()("tvtelegrambingx/bot/TelegramWebhook") {}

/** Where updates are posted in webhook mode: the path of TELEGRAM_WEBHOOK_URL. */
export const webhookPath = (url: string): string => {
  const path = new URL(url).pathname
  return path === "" ? "/" : path
}

/** Handlers installed, start-up sequence ready to run (getMe → setMyCommands → announcement). */
const prepare = (options: TelegramBotOptions) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const client = yield* TelegramClient
    const backend = yield* BotBackend
    const outbox = yield* TelegramOutbox
    const scope = yield* Scope.Scope
    const bot = client.bot
    const t = config.telegram

    if (t.adminIds.length === 0) {
      yield* Effect.logWarning("TELEGRAM_ADMIN_IDS is empty: the bot answers every user \"You are not authorized\"")
    }

    yield* installHandlers(bot, config.telegram, options)
    const services = yield* Effect.context<never>()
    bot.catch((err) =>
      Effect.runPromiseWith(services)(Effect.logError(`Telegram update ${err.ctx.update.update_id} failed`, err.error))
    )

    const retry = Schedule.min([
      Schedule.exponential(options.retryBase ?? "1 second"),
      Schedule.spaced(options.retryMax ?? "60 seconds")
    ]).pipe(Schedule.setInputType<TelegramCallFailed>(), Schedule.while(({ input }) => input.transient))

    const retried = <A>(what: string, effect: Effect.Effect<A, TelegramCallFailed>) =>
      effect.pipe(
        Effect.tapError((e) => Effect.logWarning(`Telegram ${what} failed: ${e.message}${e.transient ? "; retrying" : ""}`)),
        Effect.retry(retry)
      )

    const getMe = retried("getMe", client.call("getMe", (signal) => bot.api.getMe(signal))).pipe(
      Effect.tap((me: UserFromGetMe) => Effect.sync(() => (bot.botInfo = me)))
    )

    /**
     * The start-up message with the backend's status. In the two-process layout the api process may
     * still be starting: while the backend is unreachable the status is asked again (backoff) for up
     * to `startupStatusTimeout` before the message says it could not be loaded.
     */
    const announce = Effect.gen(function*() {
      const state = yield* backend.status.pipe(
        Effect.retry({
          schedule: Schedule.min([Schedule.exponential("250 millis"), Schedule.spaced("5 seconds")]),
          while: (e) => e._tag === "BackendUnavailable"
        }),
        Effect.timeout(options.startupStatusTimeout ?? "30 seconds"),
        Effect.tapError((e) => Effect.logWarning(`start-up status could not be loaded: ${e.message}`)),
        Effect.option
      )
      const text = botStartupText(state._tag === "Some" ? state.value : undefined)
      yield* outbox.offer({ kind: "startup", render: () => ({ text }) })
    })

    const setup = Effect.gen(function*() {
      const me = yield* getMe
      yield* Effect.logInfo(`Telegram bot @${me.username} ready (${t.webhookUrl === undefined ? "long polling" : "webhook"})`)
      yield* retried("setMyCommands", client.call("setMyCommands", (signal) => bot.api.setMyCommands(BOT_COMMANDS, {}, signal)))
        .pipe(Effect.catch(() => Effect.void))
      // Polling (or setWebhook) does not wait for the announcement.
      yield* Effect.forkIn(announce, scope)
    })

    return { bot, client, config, setup, retried, getMe } as const
  })

const TOKEN_REFUSED =
  "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized): the bot stays off; trading and the API keep running"

/** A start-up call Telegram refused for good (bad token, bad API root): one error line, bot off. */
const reportStartFailure = (e: TelegramCallFailed) =>
  Effect.logError(e.code === 401 ? TOKEN_REFUSED : `Telegram start-up failed (${e.method}: ${e.message}); the bot stays off`)

/** Long polling, restarted until the layer closes. */
const startPolling = (options: TelegramBotOptions) =>
  Effect.gen(function*() {
    const { bot, setup } = yield* prepare(options)
    const poll = Effect.gen(function*() {
      while (true) {
        const result = yield* Effect.tryPromise({
          try: () => bot.start({ allowed_updates: [...ALLOWED_UPDATES], timeout: options.pollTimeoutSeconds ?? 30 }),
          catch: (e) => e
        }).pipe(Effect.result)
        if (result._tag === "Success") return
        const code = (result.failure as { error_code?: number }).error_code
        if (code === 401) return yield* Effect.logError(TOKEN_REFUSED)
        if (code === 409) {
          yield* Effect.logError(
            "Telegram polling conflict (409): another process polls this bot token or a webhook is set; retrying later"
          )
          yield* Effect.sleep(options.conflictDelay ?? "30 seconds")
        } else {
          yield* Effect.logError("Telegram polling stopped unexpectedly; restarting", result.failure)
          yield* Effect.sleep(options.restartDelay ?? "5 seconds")
        }
      }
    })
    yield* Effect.addFinalizer(() => Effect.tryPromise(() => bot.stop()).pipe(Effect.timeout("5 seconds"), Effect.ignore))
    yield* setup.pipe(Effect.andThen(poll), Effect.catch(reportStartFailure), Effect.forkScoped)
  })

/** Webhook mode: setWebhook with the secret; updates come in through the returned handler. */
const startWebhook = (options: TelegramBotOptions, url: string, secret: Redacted.Redacted<string> | undefined) =>
  Effect.gen(function*() {
    const { bot, client, setup, retried, getMe } = yield* prepare(options)
    const secretToken = secret === undefined ? undefined : Redacted.value(secret)
    const callback = webhookCallback(
      bot,
      (update: Update, header: string | undefined, outcome: { value: WebhookOutcome }) => ({
        update: Promise.resolve(update),
        ...(header === undefined ? {} : { header }),
        end: () => {},
        respond: () => {},
        unauthorized: () => {
          outcome.value = "unauthorized"
        }
      }),
      { ...(secretToken === undefined ? {} : { secretToken }), timeoutMilliseconds: 10_000, onTimeout: "return" }
    )
    const setWebhook = retried(
      "setWebhook",
      client.call("setWebhook", (signal) =>
        bot.api.setWebhook(
          url,
          { allowed_updates: [...ALLOWED_UPDATES], ...(secretToken === undefined ? {} : { secret_token: secretToken }) },
          signal
        ))
    )
    yield* setup.pipe(Effect.andThen(setWebhook), Effect.catch(reportStartFailure), Effect.forkScoped)
    return TelegramWebhook.of({
      path: webhookPath(url),
      handle: (update, header) =>
        Effect.gen(function*() {
          // Updates only arrive after setWebhook, i.e. after getMe; this covers a restart race.
          if (bot.botInfo === undefined) yield* getMe
          const outcome = { value: "handled" as WebhookOutcome }
          yield* Effect.tryPromise(() => Promise.resolve(callback(update, header, outcome)))
          return outcome.value
        }).pipe(
          Effect.catchCause((cause) => Effect.as(Effect.logError("Telegram webhook update failed", cause), "handled" as const)),
          Effect.withSpan("TelegramBot.webhook")
        )
    })
  })

export class TelegramBot {
  /** Long polling (the default). Needs AppConfig, TelegramClient, TelegramOutbox, BotBackend. */
  static readonly layerPolling = (options: TelegramBotOptions = {}) => Layer.effectDiscard(startPolling(options))

  /** Webhook mode (TELEGRAM_WEBHOOK_URL set): provides the handler for the webhook route. */
  static readonly layerWebhook = (
    url: string,
    secret: Redacted.Redacted<string> | undefined,
    options: TelegramBotOptions = {}
  ) => Layer.effect(TelegramWebhook, startWebhook(options, url, secret))
}
