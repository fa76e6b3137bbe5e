/**
 * The tokens that guard the service: the operator API bearer token (`API_TOKEN`) and the
 * TradingView webhook token(s) (`TRADINGVIEW_WEBHOOK_TOKEN` and, during rotation, `_NEXT`).
 *
 * A token set in the environment is used as is. An unset one is generated on first start, stored
 * in the `settings` table (so every later start and every process on the same database agree), and
 * printed once to stdout — never logged again.
 */
import { Context, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig } from "../config.ts"
import { DatabaseStartError } from "../db/Database.ts"
import { generateToken } from "./tokens.ts"

export interface SecretsShape {
  readonly apiToken: Redacted.Redacted<string>
  /** Accepted webhook tokens: the current one first, then `_NEXT` when set. */
  readonly webhookTokens: ReadonlyArray<Redacted.Redacted<string>>
  /** The current webhook token (what the ready-to-paste alert message uses). */
  readonly webhookToken: Redacted.Redacted<string>
  /** Which tokens this start generated (and printed). */
  readonly generated: ReadonlyArray<"API_TOKEN" | "TRADINGVIEW_WEBHOOK_TOKEN">
}

/** Printed once, when a token is generated: the operator has to copy it somewhere. */
export type TokenAnnouncer = (variable: string, token: string) => void
const printToStdout: TokenAnnouncer = (variable, token) => {
  process.stdout.write(
    `\n*** Generated ${variable} (stored in the database; shown only this once):\n*** ${variable}=${token}\n` +
      `*** Set ${variable} in the environment to choose your own.\n\n`
  )
}

const KEYS = {
  API_TOKEN: "api_token",
  TRADINGVIEW_WEBHOOK_TOKEN: "tradingview_webhook_token"
} as const

export class Secrets extends Context.Service<Secrets, SecretsShape>()("tvtelegrambingx/Secrets") {
  static readonly make = (announce: TokenAnnouncer = printToStdout) =>
    Effect.gen(function*() {
      const config = yield* AppConfig
      const sql = yield* SqlClient.SqlClient
      const generated: Array<"API_TOKEN" | "TRADINGVIEW_WEBHOOK_TOKEN"> = []

      /** The stored token, created atomically if absent (safe when two processes start at once). */
      const storedOrNew = Effect.fnUntraced(function*(variable: keyof typeof KEYS) {
        const candidate = generateToken()
        const inserted = yield* sql<{ value: string }>`
          INSERT INTO settings (key, value) VALUES (${KEYS[variable]}, ${candidate})
          ON CONFLICT (key) DO NOTHING RETURNING value`
        if (inserted.length > 0) {
          generated.push(variable)
          announce(variable, candidate)
          return Redacted.make(candidate)
        }
        const rows = yield* sql<{ value: string }>`SELECT value FROM settings WHERE key = ${KEYS[variable]}`
        return Redacted.make(rows[0]!.value)
      })

      const apiToken = config.security.apiToken ?? (yield* storedOrNew("API_TOKEN"))
      const webhookToken = config.security.webhookToken ?? (yield* storedOrNew("TRADINGVIEW_WEBHOOK_TOKEN"))
      const webhookTokens = config.security.webhookTokenNext === undefined
        ? [webhookToken]
        : [webhookToken, config.security.webhookTokenNext]
      return Secrets.of({ apiToken, webhookToken, webhookTokens, generated })
    }).pipe(
      Effect.mapError((e) => new DatabaseStartError({ message: `could not load the API and webhook tokens: ${e.message}` })),
      Effect.withSpan("Secrets.load")
    )

  /** Needs `AppConfig` and the database. */
  static readonly layer = Layer.effect(Secrets, Secrets.make())
  static readonly layerWith = (announce: TokenAnnouncer) => Layer.effect(Secrets, Secrets.make(announce))
}
