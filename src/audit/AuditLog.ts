/**
 * The audit trail: every operator action (API settings changes, approvals, bot commands and
 * button presses) becomes a row in `audit_log` and an INFO log line.
 */
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"

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
            const payload = entry.payload === undefined ? null : JSON.stringify(entry.payload)
            yield* sql`INSERT INTO audit_log (actor, actor_id, action, payload, result)
              VALUES (${entry.actor}, ${entry.actorId ?? null}, ${entry.action}, ${payload}::jsonb, ${entry.result})`
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
