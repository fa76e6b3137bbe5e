import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig } from "../../src/config.ts"
import * as Database from "../../src/db/Database.ts"
import { realPostgresUrl, tempDir, testDatabaseEnv } from "../support/database.ts"

const TABLES = ["audit_log", "balances", "bot_sessions", "fills", "orders", "positions", "settings", "signals", "users"]

const listTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
  return rows.map((r) => r.table_name)
})

/** Builds the database layer for `env`, runs `effect` with it, and releases it (a "process start"). */
const withDatabase = <A, E>(env: Record<string, string>, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.scoped(effect.pipe(Effect.provide(Database.layer.pipe(Layer.provide(AppConfig.layerFrom(env))))))

describe("database", () => {
  it.live(`migrations apply on ${realPostgresUrl ? "real Postgres" : "PGlite"} and again on the next start`, () =>
    Effect.gen(function*() {
      const env = yield* testDatabaseEnv
      const first = yield* withDatabase(env, listTables)
      for (const table of TABLES) expect(first).toContain(table)
      // A second start on the same database: migrations are recorded, nothing runs twice.
      const second = yield* withDatabase(
        env,
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const applied = yield* sql<{ migration_id: number }>`SELECT migration_id FROM effect_sql_migrations`
          return { tables: yield* listTables, applied: applied.map((r) => Number(r.migration_id)) }
        })
      )
      expect(second.tables).toEqual(first)
      expect(second.applied).toEqual([...new Set(second.applied)])
      expect(second.applied).toContain(1)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("money and quantities are exact numeric, ids are bigint", () =>
    Effect.gen(function*() {
      const env = yield* testDatabaseEnv
      const rows = yield* withDatabase(env, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ table_name: string; column_name: string; data_type: string }>`
          SELECT table_name, column_name, data_type FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name <> 'effect_sql_migrations'`
      }))
      expect(rows.filter((r) => r.data_type === "double precision" || r.data_type === "real")).toEqual([])
      const money = rows.filter((r) =>
        ["quantity", "price", "fee", "realised_pnl", "entry_price", "free", "locked", "stop_loss", "take_profit"].includes(r.column_name)
      )
      expect(money.length).toBeGreaterThan(10)
      for (const column of money) expect(column.data_type).toBe("numeric")
      for (const table of TABLES.filter((t) => t !== "settings")) {
        expect(rows.find((r) => r.table_name === table && r.column_name === "id")?.data_type).toBe("bigint")
      }
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("embedded data survives a restart with the same DATA_DIR", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const env = { DATA_DIR: dir }
      yield* withDatabase(env, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO settings (key, value) VALUES ('survives', '1.2345678901234567890')`
      }))
      const value = yield* withDatabase(env, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ value: string }>`SELECT value FROM settings WHERE key = 'survives'`
        return rows[0]?.value
      }))
      expect(value).toBe("1.2345678901234567890")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a second process cannot open the same DATA_DIR", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const error = yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(Database.layerEmbedded(dir))
        // Pretend another live process holds the lock (our own pid is always taken over).
        const Fs = yield* Effect.promise(() => import("node:fs"))
        Fs.writeFileSync(`${dir}/tvtelegrambingx.pid`, String(process.ppid))
        return yield* Effect.flip(Layer.build(Database.layerEmbedded(dir)))
      }))
      expect(error._tag).toBe("DatabaseStartError")
      expect(error.message).toContain(`in use by process ${process.ppid}`)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
