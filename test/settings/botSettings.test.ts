import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { AuditLog } from "../../src/audit/AuditLog.ts"
import { AppConfig } from "../../src/config.ts"
import * as Database from "../../src/db/Database.ts"
import { BotSettings, type BotSettingsValue, initialOrderStatus } from "../../src/settings/BotSettings.ts"
import { testDatabaseEnv } from "../support/database.ts"

const settingsLayer = (env: Record<string, string>) =>
  BotSettings.layer.pipe(
    Layer.provideMerge(AuditLog.layer),
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(AppConfig.layerFrom(env))
  )

describe("BotSettings", () => {
  it.live("first values come from the environment, later ones from the database; updates are audited", () =>
    Effect.gen(function*() {
      const dbEnv = yield* testDatabaseEnv
      const first = yield* Effect.gen(function*() {
        const settings = yield* BotSettings
        const initial = yield* settings.current
        expect(initial).toMatchObject({
          autoTradeEnabled: true,
          manualConfirmationRequired: false,
          marginMode: "cross",
          leverage: 7,
          paused: false
        })
        const updated = yield* settings.update({ leverage: 20, paused: true }, { actor: "test", actorId: "42" })
        expect(updated).toMatchObject({ leverage: 20, paused: true, marginMode: "cross" })
        expect(yield* settings.current).toEqual(updated)
        const invalid = yield* Effect.flip(settings.update({ leverage: 0 }, { actor: "test" }))
        expect(invalid._tag).toBe("InvalidSettings")
        expect(invalid._tag === "InvalidSettings" ? invalid.fields : []).toEqual([{ field: "leverage", problem: "must be a whole number from 1 to 125" }])
        const sql = yield* SqlClient.SqlClient
        const audits = yield* sql<{ actor: string; actor_id: string | null; action: string; result: string }>`
          SELECT actor, actor_id, action, result FROM audit_log ORDER BY id`
        expect(audits).toEqual([
          { actor: "test", actor_id: "42", action: "settings.update", result: "ok" },
          { actor: "test", actor_id: null, action: "settings.update", result: "invalid" }
        ])
        return settings.owner
      }).pipe(
        Effect.provide(settingsLayer({
          ...dbEnv,
          AUTO_TRADE_ENABLED: "true",
          MANUAL_CONFIRMATION_REQUIRED: "false",
          DEFAULT_MARGIN_MODE: "cross",
          DEFAULT_LEVERAGE: "7"
        })),
        Effect.scoped
      )
      // Restart with other defaults: the stored settings win, the same user/session is reused.
      yield* Effect.gen(function*() {
        const settings = yield* BotSettings
        expect(settings.owner).toEqual(first)
        expect(yield* settings.current).toMatchObject({ leverage: 20, paused: true, autoTradeEnabled: true })
      }).pipe(Effect.provide(settingsLayer({ ...dbEnv, DEFAULT_LEVERAGE: "3" })), Effect.scoped)
    }).pipe(Effect.scoped), 60_000)

  it("initial order status follows the settings", () => {
    const base: BotSettingsValue = {
      autoTradeEnabled: false,
      manualConfirmationRequired: false,
      marginMode: "isolated",
      leverage: 5,
      paused: false,
      updatedAt: new Date(0)
    }
    expect(initialOrderStatus({ ...base, manualConfirmationRequired: true }).status).toBe("awaiting_approval")
    expect(initialOrderStatus({ ...base, manualConfirmationRequired: true, autoTradeEnabled: true }).status).toBe(
      "awaiting_approval"
    )
    expect(initialOrderStatus({ ...base, autoTradeEnabled: true }).status).toBe("pending")
    expect(initialOrderStatus(base)).toEqual({ status: "skipped", reason: "auto-trade is off" })
    expect(initialOrderStatus({ ...base, autoTradeEnabled: true, paused: true })).toEqual({
      status: "skipped",
      reason: "bot paused"
    })
  })
})
