/**
 * The one database helper of the tests. Every use gets a fresh, migrated database of its own:
 * - `TEST_DATABASE_URL` set → a new database `tvtb_test_<random>` on that server, dropped on release;
 * - otherwise → embedded PGlite: a migrated data directory is built once per run (the test files
 *   share it through test/support/globalSetup.ts) and copied for each use (creating a PGlite
 *   cluster takes seconds; opening a copy takes a fraction of one).
 *
 * Which to use:
 * - `layerTestDatabase` / `layerTestConfigAndDatabase(env)`: a layer (AppConfig + migrated
 *   database services) for repository and service tests (`layer(...)` of @effect/vitest);
 * - `testDatabaseEnv`: scoped DATABASE_URL or DATA_DIR for an app the test starts itself;
 * - `freshDatabaseEnv`: the same as a promise (for harnesses outside Effect, child processes);
 * - `proxiedDatabase`: a fresh database an in-process app reaches through a TCP proxy the test can cut;
 * - `resetTables`: empties every table between the tests of one file sharing a database.
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Layer, Logger, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AppConfig } from "../../src/config.ts"
import * as Database from "../../src/db/Database.ts"
import { startTcpProxy, type TcpProxy } from "./tcpProxy.ts"

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
  const dir = yield* Effect.acquireRelease(
    Effect.promise(copyOfMigratedPglite),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
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

/** Empties every table the order tests write (the database stays migrated). */
export const resetTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(
    `TRUNCATE audit_log, fills, orders, signals, positions, pnl_positions, balances, bot_sessions, users, settings,
      paper_account, paper_positions, paper_orders, paper_triggers, paper_settings RESTART IDENTITY CASCADE`
  )
})


const quiet = Logger.layer([])

let template: Promise<string> | undefined

/** A migrated DATA_DIR, built in `dir`. */
const buildTemplate = (dir: string) =>
  Effect.runPromise(
    Effect.scoped(Layer.build(Database.layer.pipe(Layer.provide(AppConfig.layerFrom({ DATA_DIR: dir })), Layer.provide(quiet))))
  )

/**
 * The template lives in the run's shared temp directory (test/support/globalSetup.ts), so the test
 * files of one run build it once: each builds its own copy aside and renames it into place; the
 * first rename wins and the others use it. Without the shared directory: one per process.
 */
const makeTemplate = async (): Promise<string> => {
  const shared = (() => {
    try {
      return inject("sharedTmpDir")
    } catch {
      return undefined
    }
  })()
  if (shared === undefined) {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-template-"))
    process.once("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
    await buildTemplate(dir)
    return dir
  }
  const target = Path.join(shared, "pglite-template")
  if (Fs.existsSync(target)) return target
  const building = Fs.mkdtempSync(Path.join(shared, "building-"))
  await buildTemplate(building)
  try {
    Fs.renameSync(building, target)
  } catch {
    // Another test file was first.
    Fs.rmSync(building, { recursive: true, force: true })
  }
  return target
}

/** A new DATA_DIR holding a migrated PGlite database. */
export const copyOfMigratedPglite = async (): Promise<string> => {
  template ??= makeTemplate()
  const source = await template
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-data-"))
  Fs.cpSync(Path.join(source, "pglite"), Path.join(dir, "pglite"), { recursive: true })
  return dir
}

export interface FreshDatabase {
  /** DATA_DIR (PGlite) or DATABASE_URL (Postgres) for the app's environment. */
  readonly env: Readonly<Record<string, string>>
  readonly release: () => Promise<void>
}

const freshPostgres = async (baseUrl: string) => {
  const scope = await Effect.runPromise(Scope.make())
  const db = await Effect.runPromise(Scope.provide(scope)(freshPostgresDatabase(baseUrl)))
  return { url: db.url, release: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** A fresh database for a child process. */
export const freshDatabaseEnv = async (): Promise<FreshDatabase> => {
  if (realPostgresUrl !== undefined) {
    const db = await freshPostgres(realPostgresUrl)
    return { env: { DATABASE_URL: db.url }, release: db.release }
  }
  const dir = await copyOfMigratedPglite()
  return { env: { DATA_DIR: dir }, release: async () => Fs.rmSync(dir, { recursive: true, force: true }) }
}

export interface ProxiedDatabase extends FreshDatabase {
  /** The `database` override of `appLayer`: the app's client connects through `proxy`. */
  readonly layer: Layer.Layer<Database.DatabaseServices, Database.DatabaseStartError, AppConfig>
  readonly proxy: TcpProxy
}

/**
 * A fresh database reached through a TCP proxy (for in-process apps): cutting the proxy is a
 * database outage the app sees like a real one, and it recovers when the proxy is back.
 * PGlite is served by a PGlite socket server in this process (one connection, as the app does).
 */
export const proxiedDatabase = async (): Promise<ProxiedDatabase> => {
  if (realPostgresUrl !== undefined) {
    const db = await freshPostgres(realPostgresUrl)
    const url = new URL(db.url)
    const proxy = await startTcpProxy(Number(url.port || 5432))
    url.hostname = proxy.host
    url.port = String(proxy.port)
    return {
      env: {},
      proxy,
      layer: client(Redacted.make(url.toString()), 4),
      release: async () => {
        await proxy.close()
        await db.release()
      }
    }
  }
  const dir = await copyOfMigratedPglite()
  const pglite = await PGlite.create(Path.join(dir, "pglite"))
  const server = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0 })
  await server.start()
  const conn = server.getServerConn()
  const proxy = await startTcpProxy(Number(conn.slice(conn.lastIndexOf(":") + 1)))
  return {
    env: { DATA_DIR: dir },
    proxy,
    layer: client(Redacted.make(`postgres://postgres@${proxy.host}:${proxy.port}/postgres`), 1),
    release: async () => {
      await proxy.close()
      await server.stop()
      await pglite.close()
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** The app's database services on `url` (migrations, health), as `Database.layer` builds them. */
const client = (url: Redacted.Redacted<string>, poolSize: number) =>
  Layer.mergeAll(Database.layerMigrations, Database.DatabaseHealth.layer).pipe(Layer.provideMerge(Database.layerUrl(url, poolSize)))
