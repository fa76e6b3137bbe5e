/**
 * The Telegram bot: token, admins, where notifications go, long polling or webhook mode, and (role
 * bot) the backend it talks to.
 *
 * Invariants: admin ids are positive safe integers; chat ids are numbers or @channelnames; webhook
 * mode (TELEGRAM_WEBHOOK_URL) has a TELEGRAM_WEBHOOK_SECRET that Telegram accepts as secret_token.
 */
import { type Config, Effect, Redacted, Result } from "effect"
import {
  decimalNumber,
  derive,
  httpUrl,
  int,
  listOf,
  optionalParsed,
  mapSetting,
  optionalText,
  problem,
  secret,
  section,
  type SettingOf,
  show
} from "./declare.ts"

const chatId = <const N extends string>(name: N) =>
  optionalParsed(name, "-1001234567890", (v) =>
    /^-?\d{1,20}$/.test(v) || /^@[A-Za-z][A-Za-z0-9_]{3,}$/.test(v)
      ? Result.succeed(v)
      : Result.fail(`${show(v)} is not a chat id (a number, or @channelname)`))

const adminIds = listOf("TELEGRAM_ADMIN_IDS", "123456789,987654321", (id) =>
  /^\d{1,16}$/.test(id) && Number.isSafeInteger(Number(id))
    ? Result.succeed(Number(id))
    : Result.fail(`${show(id)} is not a Telegram user id (a positive number)`))

/** Webhook mode: TELEGRAM_WEBHOOK_URL (http/https) needs TELEGRAM_WEBHOOK_SECRET (Telegram's secret_token rules). */
const webhook = derive(
  section({
    url: optionalText("TELEGRAM_WEBHOOK_URL", "https://bot.example.com/telegram/webhook"),
    secret: optionalText("TELEGRAM_WEBHOOK_SECRET", "a-long-random-string_1")
  }),
  ({ url, secret }): Effect.Effect<
    { readonly webhookUrl: string | undefined; readonly webhookSecret: Redacted.Redacted<string> | undefined },
    Config.ConfigError
  > => {
    if (url === undefined) {
      return Effect.succeed({ webhookUrl: undefined, webhookSecret: secret === undefined ? undefined : Redacted.make(secret) })
    }
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return Effect.fail(problem("TELEGRAM_WEBHOOK_URL", `${show(url)} is not a URL`))
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      return Effect.fail(problem("TELEGRAM_WEBHOOK_URL", `${show(url)} must start with https://`))
    }
    if (secret === undefined) {
      return Effect.fail(
        problem("TELEGRAM_WEBHOOK_SECRET", "is required when TELEGRAM_WEBHOOK_URL is set (Telegram sends it with every update)")
      )
    }
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(secret)) {
      return Effect.fail(
        problem("TELEGRAM_WEBHOOK_SECRET", "must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram's secret_token rules)")
      )
    }
    return Effect.succeed({ webhookUrl: url, webhookSecret: Redacted.make(secret) })
  }
)

const parts = section({
  botToken: secret("TELEGRAM_BOT_TOKEN", "123456789:your-bot-token"),
  adminIds,
  chatId: chatId("TELEGRAM_CHAT_ID"),
  broadcastChatId: chatId("BOT_BROADCAST_CHAT_ID"),
  apiRoot: httpUrl("TELEGRAM_API_ROOT", "https://api.telegram.org"),
  webhook,
  backendBaseUrl: httpUrl("BACKEND_BASE_URL", "http://localhost:8000"),
  backendTimeoutSeconds: decimalNumber("BOT_BACKEND_TIMEOUT", 10, { min: 0.1, max: 300 }),
  reportLimit: int("BOT_REPORT_LIMIT", 5, { min: 1, max: 100 })
})

/** Read by the bot, its outbox and handlers, and (role bot) the HTTP backend client. */
export const telegramSection = mapSetting(parts, ({ webhook, ...rest }) => ({ ...rest, ...webhook }))
export type TelegramSettings = SettingOf<typeof telegramSection>
