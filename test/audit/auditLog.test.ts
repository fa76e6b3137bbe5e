/**
 * The audit trail stores whatever users sent — found by the forged-callback fuzzer
 * (test/reliability/auth.test.ts): a Telegram button press whose data held a NUL character was not
 * audited at all (Postgres refuses NUL and lone surrogates in text and jsonb).
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { AuditLog } from "../../src/audit/AuditLog.ts"
import { layerTestDatabase } from "../support/database.ts"

layer(AuditLog.layer.pipe(Layer.provideMerge(layerTestDatabase)), { timeout: 60_000 })("audit log", (it) => {
  it.effect("an entry with NUL characters and lone surrogates anywhere is stored, with U+FFFD in their place", () =>
    Effect.gen(function*() {
      const audit = yield* AuditLog
      const sql = yield* SqlClient.SqlClient
      yield* audit.record({
        actor: "telegram",
        actorId: "666\u0000",
        action: "button.noop:\u0000\ud800",
        payload: { data: "a\u0000b\udc00", "k\u0000ey": ["\ud83d"], nested: { ok: "🚀 fine", backslash: "\\u0000 stays text" } },
        result: "denied\u0000"
      })
      const rows = yield* sql<{ actor_id: string; action: string; result: string; payload: unknown }>`
        SELECT actor_id, action, result, payload FROM audit_log WHERE actor = 'telegram'`
      expect(rows).toEqual([{
        actor_id: "666\ufffd",
        action: "button.noop:\ufffd\ufffd",
        result: "denied\ufffd",
        payload: { data: "a\ufffdb\ufffd", "k\ufffdey": ["\ufffd"], nested: { ok: "🚀 fine", backslash: "\\u0000 stays text" } }
      }])
    }))
})
