/**
 * The Telegram parts of each role, for src/main.ts:
 * - `notifier` (roles api/all): the Telegram `Notifier` when TELEGRAM_BOT_TOKEN is set, else
 *   `Notifier.layerNoop`. In `--role api` this process sends the notifications itself (no polling).
 * - `bot(backend)` (roles all/bot): the bot on the given `BotBackend` layer, plus, in webhook mode,
 *   the route that receives Telegram's POSTs (:8000 in role all, :9000 in role bot).
 * In one process the notifier and the bot share one grammY instance and one outbox.
 * No token: the bot is off with one log line; everything else runs.
 */
import { Effect, Layer } from "effect"
import type { AppConfigShape } from "../config.ts"
import { Notifier } from "../notify/Notifier.ts"
import type { BotBackend } from "./BotBackend.ts"
import { telegramWebhookRoute } from "./routes.ts"
import { TelegramBot, type TelegramBotOptions } from "./TelegramBot.ts"
import { TelegramClient, type TelegramClientOptions } from "./TelegramClient.ts"
import { layerTelegramNotifier } from "./TelegramNotifier.ts"
import { type OutboxOptions, TelegramOutbox } from "./TelegramOutbox.ts"


/** Tuning knobs (tests shorten the delays; production uses the defaults). */
export interface TelegramOptions {
  readonly client?: TelegramClientOptions
  readonly outbox?: OutboxOptions
  readonly bot?: TelegramBotOptions
}

export const telegramLayers = (config: Pick<AppConfigShape, "role" | "telegram">, options: TelegramOptions = {}) => {
  const token = config.telegram.botToken
  if (token === undefined) {
    const off = Layer.effectDiscard(
      Effect.logInfo("Telegram is off: TELEGRAM_BOT_TOKEN is not set (no bot, no notifications); everything else runs")
    )
    return {
      enabled: false as const,
      // The one log line comes from the bot in roles all/bot, from the notifier in role api.
      notifier: config.role === "api" ? Layer.merge(Notifier.layerNoop, off) : Notifier.layerNoop,
      bot: <E, R>(_backend: Layer.Layer<BotBackend, E, R>) => ({ run: off, routes: Layer.empty })
    }
  }
  const client = TelegramClient.layer(token, config.telegram.apiRoot, options.client)
  const outbox = TelegramOutbox.layer(options.outbox).pipe(Layer.provideMerge(client))
  const notifier = layerTelegramNotifier.pipe(Layer.provide(outbox))
  const webhookUrl = config.telegram.webhookUrl
  return {
    enabled: true as const,
    notifier,
    bot: <E, R>(backend: Layer.Layer<BotBackend, E, R>) => {
      if (webhookUrl === undefined) {
        return {
          run: TelegramBot.layerPolling(options.bot).pipe(Layer.provide(outbox), Layer.provide(backend)),
          routes: Layer.empty
        }
      }
      const bot = TelegramBot.layerWebhook(webhookUrl, config.telegram.webhookSecret, options.bot).pipe(Layer.provide(outbox), Layer.provide(backend))
      /** The route for Telegram's POSTs; the same bot instance (layers are memoised). */
      return { run: bot, routes: telegramWebhookRoute.pipe(Layer.provide(bot)) }
    }
  }
}
