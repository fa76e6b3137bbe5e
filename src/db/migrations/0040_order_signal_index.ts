/**
 * `orders (signal_id, id)` replaces `orders (signal_id)`.
 *
 * "A signal's first order" (`WHERE signal_id = $1 ORDER BY id LIMIT 1`, in every signal read and
 * in the webhook's answer to a duplicate) could be planned as a walk of `orders_pkey` in id order,
 * filtering on signal_id until the first hit — every order older than the signal's was read (seen:
 * 38,000 rows, 21 ms, per duplicate alert). With both columns in one index the first order is one
 * index probe, whatever the planner's estimates.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

const statements: ReadonlyArray<string> = [
  `CREATE INDEX orders_signal_id_idx ON orders (signal_id, id)`,
  `DROP INDEX orders_signal_idx`
]

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const statement of statements) {
    yield* sql.unsafe(statement)
  }
})
