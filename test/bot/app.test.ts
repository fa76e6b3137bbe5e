/**
 * The bot inside the real app (`--role all`, in this process): the in-process backend on the
 * database, the Telegram notifier, the audit trail in `audit_log`, and `POST /bot/audit`.
 * Runs on PGlite, and on real Postgres with TEST_DATABASE_URL.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { AppInfo } from "../../src/main.ts"
import { Notifier } from "../../src/notify/Notifier.ts"
import { BotSettings } from "../../src/settings/BotSettings.ts"
import { FakeTelegram } from "../fakes/telegram.ts"
import { startInProcessApp } from "../support/inProcessApp.ts"
import { ADMIN_IDS, ALICE, API_TOKEN, FAST, MALLORY } from "./harness.ts"
import { ready, say } from "./scenarios.ts"

const withAllRole = <A, E>(
  f: (telegram: FakeTelegram) => Effect.Effect<A, E, AppInfo | SqlClient.SqlClient | BotSettings | Notifier>,
  env: Record<string, string> = {}
) =>
  Effect.gen(function*() {
    const telegram = yield* Effect.acquireRelease(Effect.promise(() => FakeTelegram.start()), (t) => Effect.promise(() => t.close()))
    const app = yield* startInProcessApp({
      ROLE: "all",
      API_TOKEN,
      TRADINGVIEW_WEBHOOK_TOKEN: "test-webhook-token",
      DEFAULT_LEVERAGE: "7",
      PAPER_BALANCE_USDT: "2500",
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      TELEGRAM_ADMIN_IDS: ADMIN_IDS,
      ...env
    }, { telegram: FAST })
    return yield* f(telegram).pipe(Effect.provide(app.context), Effect.scoped)
  }).pipe(Effect.scoped)

const post = (url: string, body: unknown, token: string | null = API_TOKEN) =>
  Effect.promise(async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body)
    })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  })

interface AuditRow {
  readonly actor: string
  readonly actor_id: string | null
  readonly action: string
  readonly result: string
  readonly payload: unknown
}

const auditRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<AuditRow>`SELECT actor, actor_id, action, result, payload FROM audit_log ORDER BY id`
})

describe("the bot in --role all", () => {
  it.live("/status shows the stored settings; commands change them and leave audit rows", () =>
    withAllRole((telegram) =>
      Effect.gen(function*() {
        yield* Effect.promise(() => ready(telegram))
        const status = yield* Effect.promise(() => say(telegram, ALICE, "/status"))
        expect(status.text).toContain("Leverage: x7")
        expect(status.text).toContain("Auto-Trade: OFF")
        expect(status.text).toContain("Trading Mode: paper")
        // The paper account's balance, PnL, positions and breaker come from the real services.
        expect(status.text).toContain("• USDT: free 2500, locked 0, total 2500")
        expect(status.text).toContain("Net: 0.00")
        expect(status.text).toContain("• No open positions")
        expect(status.text).toContain("State: closed (0 consecutive failures)")

        yield* Effect.promise(() => say(telegram, ALICE, "/autotrade"))
        yield* Effect.promise(() => say(telegram, ALICE, "/leverage 12"))
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ auto_trade_enabled: boolean; leverage: number }>`
          SELECT auto_trade_enabled, leverage FROM bot_sessions`
        expect(row).toEqual({ auto_trade_enabled: true, leverage: 12 })
        // One BotSettings in the process: the API's view changed too.
        const settings = yield* (yield* BotSettings).current
        expect(settings).toMatchObject({ autoTradeEnabled: true, leverage: 12 })

        yield* Effect.promise(() => say(telegram, MALLORY, "/pause"))
        expect((yield* (yield* BotSettings).current).paused).toBe(false)

        // Audit rows are written right after each reply: wait until all six are there.
        const rows = yield* auditRows.pipe(
          Effect.filterOrFail((all) => all.filter((r) => r.actor === "telegram").length >= 6, () => "audit rows missing"),
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 })
        )
        const telegramRows = rows.filter((r) => r.actor === "telegram")
        expect(telegramRows.map((r) => [r.actor_id, r.action, r.result])).toEqual([
          ["42", "command./status", "ok"],
          ["42", "settings.update", "ok"],
          ["42", "command./autotrade", "ok"],
          ["42", "settings.update", "ok"],
          ["42", "command./leverage", "ok"],
          ["666", "unauthorized.message", "denied"]
        ])
        expect(telegramRows[4]!.payload).toMatchObject({ args: "12", username: "alice", chat_id: 42 })
      })
    ), 60_000)

  it.live("the backend's notifications go to Telegram from the same process", () =>
    withAllRole((telegram) =>
      Effect.gen(function*() {
        yield* Effect.promise(() => ready(telegram))
        const notifier = yield* Notifier
        yield* notifier.notify({ _tag: "BreakerChanged", state: "open", reason: "exchange timeouts" })
        const message = yield* Effect.promise(() =>
          telegram.waitFor(() => telegram.messages(ALICE.id).find((m) => m.text.includes("breaker OPEN")), 10_000, "breaker")
        )
        expect(message.text).toContain("Reason: exchange timeouts")
      })
    ), 60_000)

  it.live("POST /bot/audit records a row for the bot process; bearer and body are checked", () =>
    withAllRole(() =>
      Effect.gen(function*() {
        const api = (yield* AppInfo).api!.url
        const entry = { actor_id: "42", username: "alice", action: "command./status", payload: { chat_id: 42 }, result: "ok" }
        const unauthorized = yield* post(`${api}/bot/audit`, entry, null)
        expect(unauthorized.status).toBe(401)
        const invalid = yield* post(`${api}/bot/audit`, { actor_id: "alice", action: "rm -rf", result: "" })
        expect(invalid.status).toBe(422)
        expect(invalid.body).toEqual({
          error: "invalid audit entry",
          fields: [
            { field: "actor_id", problem: "must be the Telegram user id as a string of digits" },
            { field: "action", problem: "must be 1-64 characters of A-Z a-z 0-9 _ . : / - (e.g. command./status)" },
            { field: "result", problem: "must be a string of 1-500 characters" }
          ]
        })
        const ok = yield* post(`${api}/bot/audit`, entry)
        expect(ok).toEqual({ status: 201, body: { status: "recorded" } })
        const rows = (yield* auditRows).filter((r) => r.action === "command./status" && r.actor_id === "42")
        expect(rows.at(-1)).toMatchObject({
          actor: "telegram",
          actor_id: "42",
          result: "ok",
          payload: { chat_id: 42, username: "alice" }
        })
      })
    ), 60_000)

  it.live("webhook mode: Telegram's POSTs are served on the API port, checked against the secret", () =>
    withAllRole((telegram) =>
      Effect.gen(function*() {
        const api = (yield* AppInfo).api!.url
        yield* Effect.promise(() => telegram.waitFor(() => telegram.webhook, 15_000, "setWebhook"))
        expect(telegram.webhook).toEqual({ url: "https://bot.example.com/tg/updates", secret_token: "hook_secret-1" })
        const update = {
          update_id: 7,
          message: {
            message_id: 1,
            date: 1,
            chat: { id: ALICE.id, type: "private", first_name: "Alice" },
            from: { id: ALICE.id, is_bot: false, first_name: "Alice", username: "alice" },
            text: "/status",
            entities: [{ type: "bot_command", offset: 0, length: 7 }]
          }
        }
        const send = (secret: string) =>
          Effect.promise(() =>
            fetch(`${api}/tg/updates`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": secret },
              body: JSON.stringify(update)
            }).then((r) => r.status)
          )
        expect(yield* send("not-the-secret")).toBe(401)
        expect(yield* send("hook_secret-1")).toBe(200)
        const reply = yield* Effect.promise(() =>
          telegram.waitFor(() => telegram.messages(ALICE.id).find((m) => m.text.includes("Automation Status")), 10_000, "reply")
        )
        expect(reply.text).toContain("Leverage: x7")
        expect(telegram.callsOf("getUpdates")).toHaveLength(0)
      }), { TELEGRAM_WEBHOOK_URL: "https://bot.example.com/tg/updates", TELEGRAM_WEBHOOK_SECRET: "hook_secret-1" }), 60_000)
})
