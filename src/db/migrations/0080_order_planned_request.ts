/**
 * `orders.planned`: the exchange request the order plan produced, written with the
 * `pending → submitted` transition (JSON: decimals as strings). A re-send after an unknown outcome
 * sends exactly this request — same quantity, stop-loss, take-profit and price hint as the first
 * attempt — instead of rebuilding it from the order's columns. NULL for orders never submitted.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE orders ADD COLUMN planned jsonb`)
})
