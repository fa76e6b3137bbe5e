/**
 * Where each fill's price came from: `fills.price_source` and `paper_orders.price_source`,
 * `exchange` (a market price) or `alert` (a paper order filled at the signal's price because the
 * BingX public price could not be had, PAPER_PRICE_FALLBACK=alert).
 *
 * Every fill recorded from now on carries one. Rows written before are NULL ("not recorded"),
 * except live BingX fills (`fill_key` `bingx:…`), which can only have had the exchange's price.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

const statements: ReadonlyArray<string> = [
  `ALTER TABLE fills ADD COLUMN price_source text CHECK (price_source IN ('exchange', 'alert'))`,
  `ALTER TABLE paper_orders ADD COLUMN price_source text CHECK (price_source IN ('exchange', 'alert'))`,
  `UPDATE fills SET price_source = 'exchange' WHERE fill_key LIKE 'bingx:%'`
]

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const statement of statements) {
    yield* sql.unsafe(statement)
  }
})
