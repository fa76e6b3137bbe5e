/**
 * The database: DATABASE_URL (or the seed's POSTGRES_DSN), else a URL built from the seed's
 * DATABASE_HOST/PORT/NAME/USER/PASSWORD, else the embedded PGlite under DATA_DIR.
 *
 * Invariants: `url` is a postgres:// URL (the seed's "postgresql+driver://" is rewritten), kept
 * `Redacted`; SQLite URLs are refused with a hint; `dataDir` is absolute.
 */
import { Effect, Redacted } from "effect"
import * as Path from "node:path"
import { derive, firstOf, int, mapSetting, optionalPort, optionalText, problem, section, type SettingOf, text } from "./declare.ts"

const URL_EXAMPLE = "postgres://user:password@127.0.0.1:5432/tvtelegrambingx"

const given = derive(firstOf("DATABASE_URL", URL_EXAMPLE, ["POSTGRES_DSN"]), (given) => {
  if (given === undefined) return Effect.succeed(undefined)
  // The seed used SQLAlchemy URLs: "postgresql+asyncpg://…" is a Postgres URL with a driver tag.
  const value = given.value.replace(/^postgres(ql)?\+[a-z0-9]+:\/\//i, "postgres://")
  if (/^sqlite/i.test(value)) {
    return Effect.fail(problem(given.name, "SQLite is not supported; use a postgres:// URL, or leave it unset for the embedded database"))
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return Effect.fail(problem(given.name, "is not a URL"))
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    return Effect.fail(problem(given.name, `must start with postgres:// (got ${url.protocol}//)`))
  }
  return Effect.succeed(Redacted.make(value))
})

/** The seed's parts; when any is set they make the URL (the rest default to a local Postgres). */
const fromParts = mapSetting(
  section({
    host: optionalText("DATABASE_HOST", "db.internal"),
    port: optionalPort("DATABASE_PORT", "5432"),
    name: optionalText("DATABASE_NAME", "tvtelegrambingx"),
    user: optionalText("DATABASE_USER", "postgres"),
    password: optionalText("DATABASE_PASSWORD", "postgres")
  }),
  ({ host, port, name, user, password }) => {
    if ([host, port, name, user, password].every((v) => v === undefined)) return undefined
    const credentials = `${encodeURIComponent(user ?? "postgres")}:${encodeURIComponent(password ?? "postgres")}`
    const hostPart = (host ?? "localhost").includes(":") ? `[${host}]` : (host ?? "localhost")
    return Redacted.make(`postgres://${credentials}@${hostPart}:${port ?? 5432}/${encodeURIComponent(name ?? "tvtelegrambingx")}`)
  }
)

const parts = section({
  given,
  fromParts,
  dataDir: text("DATA_DIR", "./data"),
  poolSize: int("DATABASE_POOL_SIZE", 10, { min: 1, max: 200 }),
  webhookTimeoutMs: int("WEBHOOK_DATABASE_TIMEOUT_MS", 2_500, { min: 100, max: 60_000 })
})

/** Read by the database layer (and the webhook: `webhookTimeoutMs`). */
export const databaseSection = mapSetting(parts, ({ given, fromParts, dataDir, ...rest }) => ({
  /** Unset = embedded PGlite under `dataDir`. */
  url: given ?? fromParts,
  dataDir: Path.resolve(dataDir),
  poolSize: rest.poolSize,
  /**
   * How long the webhook waits for the database before answering 503 (the alert may still be
   * stored afterwards; a re-send is recognised as a duplicate). Below TradingView's 3 s.
   */
  webhookTimeoutMs: rest.webhookTimeoutMs
}))
export type DatabaseSettings = SettingOf<typeof databaseSection>
