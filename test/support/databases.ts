/**
 * Fresh databases for tests that start the app many times (one per scenario), cheaply:
 * - PGlite: a migrated data directory is made once per test process and copied for each use
 *   (creating a PGlite cluster takes seconds; opening a copy takes a fraction of one);
 * - real Postgres (`TEST_DATABASE_URL`): a new database on that server, dropped on release.
 * `freshDatabaseEnv` is for a child process (DATA_DIR or DATABASE_URL); `proxiedDatabase` serves
 * the database to an in-process app through a TCP proxy the test can cut.
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Effect, Exit, Layer, Logger, Redacted, Scope } from "effect"
import { inject } from "vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AppConfig } from "../../src/config.ts"
import * as Database from "../../src/db/Database.ts"
import { freshPostgresDatabase, realPostgresUrl } from "./db.ts"
import { startTcpProxy, type TcpProxy } from "./proxies.ts"

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
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432))
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
  const proxy = await startTcpProxy("127.0.0.1", Number(conn.slice(conn.lastIndexOf(":") + 1)))
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
