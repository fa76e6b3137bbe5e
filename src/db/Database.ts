/**
 * The database: `@effect/sql-pg` to `DATABASE_URL` when set, otherwise an embedded PGlite stored
 * under `DATA_DIR`, served on a loopback port by `@electric-sql/pglite-socket` and reached by the
 * same client. Migrations (`src/db/migrations/NNNN_name.ts`) run before anything else uses it.
 *
 * PGlite is a single database session, so the embedded client uses exactly one connection
 * (transactions then serialise correctly); a real Postgres gets a normal pool.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import type { PGlite } from "@electric-sql/pglite"
import { Context, Data, Duration, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as MigratorFileSystem from "effect/sql/MigratorFileSystem"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { AppConfig } from "../config.ts"

export class DatabaseStartError extends Data.TaggedError("DatabaseStartError")<{
  readonly message: string
}> {}

export class DatabaseUnavailable extends Data.TaggedError("DatabaseUnavailable")<{
  readonly message: string
}> {}

export const MIGRATIONS_DIR = Path.join(import.meta.dirname, "migrations")

/** Where the embedded database lives and how it is reached (absent with DATABASE_URL). */
export class EmbeddedDatabase extends Context.Service<EmbeddedDatabase, {
  readonly directory: string
  readonly host: string
  readonly port: number
  /** Stops serving connections (tests use it to simulate an outage). */
  readonly stopServing: Effect.Effect<void>
}>()("tvtelegrambingx/EmbeddedDatabase") {}

/**
 * A pid file guards the data directory: two processes on one PGlite directory would corrupt it.
 * A stale file (its process is gone) is taken over.
 */
const lockDataDir = (dir: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        Fs.mkdirSync(dir, { recursive: true })
        const lock = Path.join(dir, "tvtelegrambingx.pid")
        if (Fs.existsSync(lock)) {
          const pid = Number(Fs.readFileSync(lock, "utf8").trim())
          if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
            throw new Error(
              `DATA_DIR ${dir} is in use by process ${pid}; stop it, or give this process its own DATA_DIR`
            )
          }
        }
        Fs.writeFileSync(lock, String(process.pid))
        return lock
      },
      catch: (e) => new DatabaseStartError({ message: e instanceof Error ? e.message : String(e) })
    }),
    (lock) => Effect.sync(() => Fs.rmSync(lock, { force: true }))
  )

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** PGlite in `dataDir/pglite`, served on 127.0.0.1 (random free port) for the Postgres client. */
export const layerEmbedded = (dataDir: string): Layer.Layer<EmbeddedDatabase | PgClient.PgClient | SqlClient.SqlClient, DatabaseStartError> =>
  Layer.unwrap(Effect.gen(function*() {
    yield* lockDataDir(dataDir)
    const directory = Path.join(dataDir, "pglite")
    // Loaded only for the embedded database (a deployment on DATABASE_URL never needs the WASM build).
    const [{ PGlite }, { PGLiteSocketServer }] = yield* Effect.tryPromise({
      try: () => Promise.all([import("@electric-sql/pglite"), import("@electric-sql/pglite-socket")]),
      catch: (e) => new DatabaseStartError({ message: `could not load the embedded database: ${String(e)}` })
    })
    const db: PGlite = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PGlite.create(directory),
        catch: (e) => new DatabaseStartError({ message: `could not open the embedded database in ${directory}: ${String(e)}` })
      }),
      (db) => Effect.promise(() => db.close()).pipe(Effect.timeout("10 seconds"), Effect.ignore)
    )
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 })
          await server.start()
          return server
        },
        catch: (e) => new DatabaseStartError({ message: `could not serve the embedded database: ${String(e)}` })
      }),
      (server) => Effect.promise(() => server.stop()).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    )
    const conn = server.getServerConn()
    const port = Number(conn.slice(conn.lastIndexOf(":") + 1))
    const embedded = EmbeddedDatabase.of({
      directory,
      host: "127.0.0.1",
      port,
      stopServing: Effect.promise(() => server.stop())
    })
    const client = PgClient.layerFrom(PgClient.make({
      host: "127.0.0.1",
      port,
      username: "postgres",
      database: "postgres",
      maxConnections: 1,
      connectTimeout: Duration.seconds(5),
      applicationName: "tvtelegrambingx"
    }).pipe(
      Effect.mapError((e) => new DatabaseStartError({ message: `could not connect to the embedded database: ${e.message}` }))
    ))
    return Layer.merge(client, Layer.succeed(EmbeddedDatabase, embedded))
  }))

/** A Postgres server given by URL (never printed: it may hold a password). */
export const layerUrl = (url: Redacted.Redacted<string>, poolSize: number) =>
  PgClient.layerFrom(PgClient.make({
    url,
    maxConnections: poolSize,
    connectTimeout: Duration.seconds(5),
    applicationName: "tvtelegrambingx"
  }).pipe(
    Effect.mapError((e) => new DatabaseStartError({ message: `could not connect to DATABASE_URL: ${e.message}` }))
  ))

/** Applies every migration in `src/db/migrations` that has not run yet (in one locked transaction). */
export const layerMigrations = Layer.effectDiscard(
  PgMigrator.run({ loader: MigratorFileSystem.fromFileSystem(MIGRATIONS_DIR) }).pipe(
    Effect.mapError((e) => new DatabaseStartError({ message: `database migration failed: ${e.message}` }))
  )
).pipe(Layer.provide(NodeServices.layer))

/** Liveness of the database for `/ready` and for 503 answers. */
export class DatabaseHealth extends Context.Service<DatabaseHealth, {
  readonly check: Effect.Effect<void, DatabaseUnavailable>
}>()("tvtelegrambingx/DatabaseHealth") {
  static readonly layer = Layer.effect(
    DatabaseHealth,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return DatabaseHealth.of({
        check: sql`SELECT 1`.pipe(
          Effect.asVoid,
          Effect.timeout("2 seconds"),
          Effect.mapError((e) =>
            new DatabaseUnavailable({
              message: e._tag === "TimeoutError" ? "database did not answer within 2 s" : "database unavailable"
            })
          ),
          Effect.withSpan("Database.check")
        )
      })
    })
  )
}

/**
 * The database for the configured deployment, migrated, with its health check:
 * `DATABASE_URL` → that server; unset → embedded PGlite in `DATA_DIR`.
 */
export type DatabaseServices = PgClient.PgClient | SqlClient.SqlClient | DatabaseHealth

export const layer: Layer.Layer<DatabaseServices, DatabaseStartError, AppConfig> = Layer.unwrap(Effect.gen(function*() {
  const config = yield* AppConfig
  const client = config.database.url === undefined
    ? layerEmbedded(config.database.dataDir)
    : layerUrl(config.database.url, config.database.poolSize)
  return Layer.mergeAll(layerMigrations, DatabaseHealth.layer).pipe(Layer.provideMerge(client))
}))
