/**
 * PnL ledger state.
 * - `pnl_positions`: one row per (symbol, slot) — slot `net` is a one-way position (its side flips
 *   through zero), `long` / `short` are hedge-mode legs — with the open quantity and its exact cost
 *   basis (entry price = cost / quantity), realised PnL (before fees), fees and fill count.
 * - `fills.pnl_applied_at`: set in the same transaction that updates `pnl_positions`, so each fill
 *   is applied exactly once; `fills.realised_pnl` and `fills.pnl_closed_quantity` keep what the
 *   fill realised and how much it closed (> 0 = a realising fill) for reports.
 * - `pnl_ledger_lock`: one row, locked by every application transaction, so fills are applied one
 *   at a time, in id order, even by several processes on one database.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

const statements: ReadonlyArray<string> = [
  `CREATE TABLE pnl_positions (
    symbol text NOT NULL,
    slot text NOT NULL CHECK (slot IN ('net', 'long', 'short')),
    side text CHECK (side IN ('long', 'short')),
    quantity numeric NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    cost numeric NOT NULL DEFAULT 0,
    realised numeric NOT NULL DEFAULT 0,
    fees numeric NOT NULL DEFAULT 0,
    fills bigint NOT NULL DEFAULT 0,
    leverage integer,
    opened_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, slot),
    CONSTRAINT pnl_positions_side_when_open CHECK ((side IS NULL) = (quantity = 0)),
    CONSTRAINT pnl_positions_hedge_side CHECK (slot = 'net' OR side IS NULL OR side = slot)
  )`,
  `ALTER TABLE fills ADD COLUMN pnl_applied_at timestamptz`,
  `ALTER TABLE fills ADD COLUMN pnl_closed_quantity numeric`,
  `CREATE INDEX fills_pnl_unapplied_idx ON fills (id) WHERE pnl_applied_at IS NULL`,
  `CREATE TABLE pnl_ledger_lock (id integer PRIMARY KEY CHECK (id = 1))`,
  `INSERT INTO pnl_ledger_lock (id) VALUES (1)`
]

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const statement of statements) {
    yield* sql.unsafe(statement)
  }
})
