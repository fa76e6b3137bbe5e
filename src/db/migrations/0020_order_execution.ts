/**
 * Order execution:
 * - `orders.pending_since`: when the order last became `pending` (insert, or approval). The
 *   SIGNAL_MAX_AGE_SECONDS check counts from here (NULL = from `created_at`), so an order approved
 *   after a few minutes is not expired by the actor the moment it is approved.
 * - The paper exchange's simulated account: `paper_account` (wallet per asset), `paper_positions`
 *   (open quantity + cost basis per symbol and side), `paper_orders` (what it "executed", so an
 *   order can be found again by clientOrderId after a crash), `paper_triggers` (attached
 *   stop-loss / take-profit), `paper_settings` (margin type and leverage per symbol).
 *   Paper order ids come from a sequence above 2^53, like BingX's, so nothing downstream can get
 *   away with treating ids as JS numbers.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

const statements: ReadonlyArray<string> = [
  `ALTER TABLE orders ADD COLUMN pending_since timestamptz`,
  `CREATE INDEX orders_active_idx ON orders (status, id) WHERE status IN ('awaiting_approval', 'pending', 'submitted', 'partially_filled')`,
  `CREATE TABLE paper_account (
    asset text PRIMARY KEY,
    wallet_balance numeric NOT NULL,
    initial_balance numeric NOT NULL,
    fees numeric NOT NULL DEFAULT 0,
    realised_pnl numeric NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE paper_positions (
    symbol text NOT NULL,
    side text NOT NULL CHECK (side IN ('long', 'short')),
    quantity numeric NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    cost numeric NOT NULL DEFAULT 0,
    leverage integer NOT NULL DEFAULT 1,
    opened_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, side)
  )`,
  `CREATE SEQUENCE paper_order_id_seq START WITH 1736011869000000001`,
  `CREATE TABLE paper_orders (
    order_id text PRIMARY KEY,
    client_order_id text UNIQUE,
    symbol text NOT NULL,
    side text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    position_side text NOT NULL CHECK (position_side IN ('BOTH', 'LONG', 'SHORT')),
    kind text NOT NULL CHECK (kind IN ('market', 'stop_loss', 'take_profit')),
    reduce_only boolean NOT NULL DEFAULT false,
    quantity numeric NOT NULL,
    executed_quantity numeric NOT NULL,
    average_price numeric,
    fee numeric NOT NULL DEFAULT 0,
    realised_pnl numeric NOT NULL DEFAULT 0,
    status text NOT NULL,
    parent_client_order_id text,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX paper_orders_symbol_idx ON paper_orders (symbol, created_at)`,
  `CREATE TABLE paper_triggers (
    id bigserial PRIMARY KEY,
    symbol text NOT NULL,
    position_side text NOT NULL CHECK (position_side IN ('long', 'short')),
    kind text NOT NULL CHECK (kind IN ('stop_loss', 'take_profit')),
    trigger_price numeric NOT NULL CHECK (trigger_price > 0),
    quantity numeric NOT NULL CHECK (quantity > 0),
    parent_client_order_id text,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'triggered', 'cancelled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz
  )`,
  `CREATE INDEX paper_triggers_active_idx ON paper_triggers (symbol) WHERE status = 'active'`,
  `CREATE TABLE paper_settings (
    symbol text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (symbol, key)
  )`
]

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const statement of statements) {
    yield* sql.unsafe(statement)
  }
})
