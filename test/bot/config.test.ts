import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { loadConfig } from "../../src/config.ts"
import { recipientsOf } from "../../src/bot/TelegramOutbox.ts"
import { webhookPath } from "../../src/bot/TelegramBot.ts"

const load = (env: Record<string, string>) =>
  loadConfig.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(env)))

describe("Telegram configuration", () => {
  it.effect("webhook mode needs a secret that Telegram accepts", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(load({ TELEGRAM_WEBHOOK_URL: "https://bot.example.com/hook" }))
      expect(missing.message).toBe(
        "TELEGRAM_WEBHOOK_SECRET: is required when TELEGRAM_WEBHOOK_URL is set (Telegram sends it with every update) (example: TELEGRAM_WEBHOOK_SECRET=a-long-random-string_1)"
      )
      const bad = yield* Effect.flip(load({ TELEGRAM_WEBHOOK_URL: "https://bot.example.com/hook", TELEGRAM_WEBHOOK_SECRET: "has spaces!" }))
      expect(bad.variable).toBe("TELEGRAM_WEBHOOK_SECRET")
      const notUrl = yield* Effect.flip(load({ TELEGRAM_WEBHOOK_URL: "bot.example.com/hook", TELEGRAM_WEBHOOK_SECRET: "x" }))
      expect(notUrl.message).toContain("TELEGRAM_WEBHOOK_URL: \"bot.example.com/hook\" is not a URL")
      const ok = yield* load({ TELEGRAM_WEBHOOK_URL: "https://bot.example.com/tg/hook", TELEGRAM_WEBHOOK_SECRET: "Abc_-123" })
      expect(ok.telegram.webhookUrl).toBe("https://bot.example.com/tg/hook")
      expect(Redacted.value(ok.telegram.webhookSecret!)).toBe("Abc_-123")
      expect(webhookPath(ok.telegram.webhookUrl!)).toBe("/tg/hook")
      const polling = yield* load({})
      expect(polling.telegram.webhookUrl).toBeUndefined()
    }))

  it.effect("notification recipients: TELEGRAM_CHAT_ID or every admin, plus the broadcast chat, once each", () =>
    Effect.gen(function*() {
      expect(recipientsOf((yield* load({ TELEGRAM_ADMIN_IDS: "1,2" })).telegram)).toEqual([1, 2])
      expect(recipientsOf((yield* load({ TELEGRAM_ADMIN_IDS: "1,2", TELEGRAM_CHAT_ID: "-1001" })).telegram)).toEqual([-1001])
      expect(recipientsOf((yield* load({ TELEGRAM_ADMIN_IDS: "1,2", BOT_BROADCAST_CHAT_ID: "@news" })).telegram)).toEqual([1, 2, "@news"])
      expect(recipientsOf((yield* load({ TELEGRAM_ADMIN_IDS: "1", BOT_BROADCAST_CHAT_ID: "1" })).telegram)).toEqual([1])
      expect(recipientsOf((yield* load({})).telegram)).toEqual([])
    }))
})
