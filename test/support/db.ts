/**
 * The database for tests: a fresh, migrated database per layer build.
 * - `TEST_DATABASE_URL` set → a new database `tvtb_test_<random>` on that server (dropped afterwards);
 * - otherwise → embedded PGlite in a fresh temp directory (removed afterwards).
 */
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { AppConfig } from "../../src/config.ts"
import * as Database from "../../src/db/Database.ts"

export const realPostgresUrl = process.env.TEST_DATABASE_URL

export const tempDir = (prefix = "tvtb-test-") =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

const adminQuery = (baseUrl: string, statement: string) =>
  Effect.flatMap(PgClient.PgClient, (admin) => admin.unsafe(statement)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(baseUrl), maxConnections: 1 }))
  )

/** Creates a fresh database on TEST_DATABASE_URL's server; yields its URL; drops it on release. */
export const freshPostgresDatabase = (baseUrl: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const name = `tvtb_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
      yield* adminQuery(baseUrl, `CREATE DATABASE ${name}`)
      const url = new URL(baseUrl)
      url.pathname = `/${name}`
      return { name, url: url.toString() }
    }),
    ({ name }) =>
      adminQuery(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.ignore)
  ).pipe(Effect.orDie)

/**
 * Environment for `AppConfig.layerFrom` pointing at a fresh test database: `DATABASE_URL` for real
 * Postgres, `DATA_DIR` (temp) for PGlite. Scoped: the database is removed when the scope closes.
 */
export const testDatabaseEnv = Effect.gen(function*() {
  if (realPostgresUrl !== undefined) {
    const db = yield* freshPostgresDatabase(realPostgresUrl)
    return { DATABASE_URL: db.url } as Record<string, string>
  }
  const dir = yield* tempDir()
  return { DATA_DIR: dir } as Record<string, string>
})

/**
 * AppConfig (from `env` plus a fresh test database) and the migrated database services.
 * `env` must not set DATABASE_URL or DATA_DIR.
 */
export const layerTestConfigAndDatabase = (env: Readonly<Record<string, string>> = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const dbEnv = yield* testDatabaseEnv
    const config = AppConfig.layerFrom({ ...env, ...dbEnv })
    return Database.layer.pipe(Layer.provideMerge(config))
  }))

/** Just the migrated database (with a default test configuration). */
export const layerTestDatabase = layerTestConfigAndDatabase()

export const truncateAll = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(
    "TRUNCATE audit_log, fills, orders, signals, positions, pnl_positions, balances, bot_sessions, users, settings RESTART IDENTITY CASCADE"
  )
})
