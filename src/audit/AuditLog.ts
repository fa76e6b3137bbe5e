/**
 * The audit trail: every operator action (API settings changes, approvals, bot commands and
 * button presses) becomes a row in `audit_log` and an INFO log line. Entries often carry what a
 * user sent (a stranger's forged button data, a command's text): NUL characters and lone
 * surrogates, which Postgres refuses, are stored as U+FFFD so such an entry is never lost.
 */
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { jsonForPostgres } from "../domain/webhookBody.ts"

/** Postgres `text` refuses NUL and lone surrogates: they become U+FFFD (what the sender typed is untrusted). */
const storable = (s: string): string => s.replace(/\u0000/g, "\uFFFD").toWellFormed()

export interface AuditEntry {
  /** Who: "api", "telegram", "system"… */
  readonly actor: string
  /** Their id within that channel (Telegram user id, "operator"…), if any. */
  readonly actorId?: string | undefined
  /** What: "settings.update", "order.approve", "command./status"… */
  readonly action: string
  readonly payload?: unknown
  /** Outcome in words: "ok", "denied", "rejected: …". */
  readonly result: string
}

export class AuditLog extends Context.Service<AuditLog, {
  /** Never fails: an audit write that cannot be stored is logged as an error instead. */
  readonly record: (entry: AuditEntry) => Effect.Effect<void>
}>()("tvtelegrambingx/AuditLog") {
  static readonly layer = Layer.effect(
    AuditLog,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return AuditLog.of({
        record: (entry) =>
          Effect.gen(function*() {
            yield* Effect.logInfo(`audit: ${entry.actor} ${entry.action} → ${entry.result}`).pipe(
              Effect.annotateLogs({ audit_actor: entry.actor, audit_actor_id: entry.actorId ?? null })
            )
            // Entries carry what users sent (button data, command text): any of it must be storable.
            const payload = entry.payload === undefined ? null : jsonForPostgres(entry.payload)
            yield* sql`INSERT INTO audit_log (actor, actor_id, action, payload, result)
              VALUES (${storable(entry.actor)}, ${entry.actorId === undefined ? null : storable(entry.actorId)},
                ${storable(entry.action)}, ${payload}::jsonb, ${storable(entry.result)})`
          }).pipe(
            Effect.catchCause((cause) => Effect.logError("audit log write failed", cause)),
            Effect.withSpan("AuditLog.record")
          )
      })
    })
  )

  /** Tests: keeps entries in memory. */
  static readonly layerMemory = (entries: Array<AuditEntry>) =>
    Layer.succeed(AuditLog, AuditLog.of({ record: (entry) => Effect.sync(() => void entries.push(entry)) }))
}
