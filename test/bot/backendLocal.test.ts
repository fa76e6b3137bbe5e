/**
 * The in-process backend (role all) on the database: the settings part of the status, updates
 * validated and audited, audit rows, and the operations other services own answering clearly
 * until they are wired (LocalOperations).
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { AuditLog } from "../../src/audit/AuditLog.ts"
import { BotBackend, LocalOperations } from "../../src/bot/BotBackend.ts"
import { BotSettings } from "../../src/settings/BotSettings.ts"
import { layerTestConfigAndDatabase } from "../support/db.ts"

const actor = { userId: 42, username: "alice" }

const services = BotBackend.layerLocal.pipe(
  Layer.provideMerge(BotSettings.layer),
  Layer.provideMerge(AuditLog.layer),
  Layer.provideMerge(layerTestConfigAndDatabase({ DEFAULT_LEVERAGE: "9", TRADING_MODE: "paper" }))
)

describe("BotBackend.layerLocal", () => {
  layer(services, { timeout: 60_000 })((it) => {
    it.effect("status is the stored settings; updates are validated, stored and audited", () =>
      Effect.gen(function*() {
        const backend = yield* BotBackend
        const status = yield* backend.status
        expect(status).toMatchObject({
          auto_trade_enabled: false,
          manual_confirmation_required: true,
          margin_mode: "isolated",
          leverage: 9,
          paused: false,
          trading_mode: "paper"
        })
        expect(status.balances).toBeUndefined()
        const updated = yield* backend.updateSettings({ margin_mode: "cross", paused: true }, actor)
        expect(updated).toMatchObject({ margin_mode: "cross", paused: true, leverage: 9 })
        expect((yield* backend.status).margin_mode).toBe("cross")
        const invalid = yield* Effect.flip(backend.updateSettings({ leverage: 500 }, actor))
        expect(invalid).toMatchObject({
          _tag: "Invalid",
          fields: [{ field: "leverage", problem: "must be a whole number from 1 to 125" }]
        })
        yield* backend.audit({ actor, action: "command./margin", payload: { args: "cross" }, result: "ok" })
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ actor: string; actor_id: string; action: string; result: string; payload: unknown }>`
          SELECT actor, actor_id, action, result, payload FROM audit_log ORDER BY id`
        expect(rows.map((r) => [r.actor, r.actor_id, r.action, r.result])).toEqual([
          ["telegram", "42", "settings.update", "ok"],
          ["telegram", "42", "settings.update", "invalid"],
          ["telegram", "42", "command./margin", "ok"]
        ])
        expect(rows[2]!.payload).toEqual({ args: "cross", username: "alice" })
      }))

    it.effect("operations owned by services not wired here say which service is missing", () =>
      Effect.gen(function*() {
        const backend = yield* BotBackend
        const failures = yield* Effect.all([
          Effect.flip(backend.recentSignals(5)),
          Effect.flip(backend.orders(5)),
          Effect.flip(backend.approve("1", actor)),
          Effect.flip(backend.pnl("day")),
          Effect.flip(backend.positions)
        ])
        expect(failures.map((f) => f._tag)).toEqual(Array(5).fill("BackendUnavailable"))
        expect(failures[0]!.message).toBe(
          "recent signals is not available in this process: SignalService is not wired into the bot's in-process backend"
        )
        expect(failures[2]!.message).toContain("OrderService")
        expect(failures[3]!.message).toContain("PnlService")
      }))
  })

  layer(
    BotBackend.layerLocalNoDeps.pipe(
      Layer.provideMerge(Layer.succeed(LocalOperations, LocalOperations.of({
        statusParts: Effect.succeed({
          balances: [{ asset: "USDT", free: "10", locked: "0", total: "10" }],
          breaker: { state: "closed", consecutive_failures: 0, open_until: null }
        }),
        recentSignals: () => Effect.succeed([]),
        orders: () => Effect.succeed([]),
        order: () => Effect.die("unused"),
        approve: () => Effect.die("unused"),
        reject: () => Effect.die("unused"),
        pnl: () => Effect.die("unused"),
        positions: Effect.succeed([])
      }))),
      Layer.provideMerge(BotSettings.layer),
      Layer.provideMerge(AuditLog.layer),
      Layer.provideMerge(layerTestConfigAndDatabase())
    ),
    { timeout: 60_000 }
  )((it) => {
    it.effect("wired operations are used as given: the status gains the other services' parts", () =>
      Effect.gen(function*() {
        const backend = yield* BotBackend
        const status = yield* backend.status
        expect(status.balances).toEqual([{ asset: "USDT", free: "10", locked: "0", total: "10" }])
        expect(status.breaker?.state).toBe("closed")
        expect(yield* backend.recentSignals(5)).toEqual([])
      }))
  })
})
