/**
 * The seed's tables (users, bot_sessions, signals, orders, positions, balances) plus fills,
 * audit_log and settings. Money and quantities are `numeric` (exact); ids are bigint.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

const statements: ReadonlyArray<string> = [
  `CREATE TABLE users (
    id bigserial PRIMARY KEY,
    username text NOT NULL UNIQUE,
    email text UNIQUE,
    telegram_user_id bigint UNIQUE,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE bot_sessions (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'failed')),
    auto_trade_enabled boolean NOT NULL,
    manual_confirmation_required boolean NOT NULL,
    margin_mode text NOT NULL CHECK (margin_mode IN ('isolated', 'cross')),
    leverage integer NOT NULL CHECK (leverage BETWEEN 1 AND 125),
    paused boolean NOT NULL DEFAULT false,
    context jsonb,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
  )`,
  `CREATE TABLE signals (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL,
    user_id bigint REFERENCES users(id),
    bot_session_id bigint REFERENCES bot_sessions(id),
    source text NOT NULL DEFAULT 'tradingview',
    symbol text NOT NULL,
    action text NOT NULL CHECK (action IN ('buy', 'sell')),
    position_side text CHECK (position_side IN ('long', 'short')),
    reduce_only boolean NOT NULL DEFAULT false,
    quantity numeric,
    margin_usdt numeric,
    price numeric,
    leverage integer,
    margin_mode text CHECK (margin_mode IN ('isolated', 'cross')),
    stop_loss numeric,
    take_profit numeric,
    signal_time timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    raw_payload jsonb NOT NULL,
    CONSTRAINT signals_idempotency_key_unique UNIQUE (idempotency_key)
  )`,
  `CREATE INDEX signals_received_idx ON signals (received_at DESC, id DESC)`,
  `CREATE INDEX signals_symbol_received_idx ON signals (symbol, received_at DESC, id DESC)`,
  `CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    signal_id bigint NOT NULL REFERENCES signals(id),
    user_id bigint REFERENCES users(id),
    bot_session_id bigint REFERENCES bot_sessions(id),
    symbol text NOT NULL,
    action text NOT NULL CHECK (action IN ('buy', 'sell')),
    position_side text CHECK (position_side IN ('long', 'short')),
    reduce_only boolean NOT NULL DEFAULT false,
    order_type text NOT NULL DEFAULT 'market',
    status text NOT NULL CHECK (status IN (
      'awaiting_approval', 'pending', 'submitted', 'partially_filled', 'filled',
      'rejected', 'cancelled', 'expired', 'failed', 'skipped'
    )),
    quantity numeric,
    margin_usdt numeric,
    filled_quantity numeric NOT NULL DEFAULT 0,
    price numeric,
    average_price numeric,
    leverage integer,
    margin_mode text CHECK (margin_mode IN ('isolated', 'cross')),
    stop_loss numeric,
    take_profit numeric,
    client_order_id text,
    exchange_order_id text,
    reason text,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    submitted_at timestamptz,
    completed_at timestamptz,
    CONSTRAINT orders_client_order_id_unique UNIQUE (client_order_id),
    CONSTRAINT orders_exchange_order_id_unique UNIQUE (exchange_order_id)
  )`,
  `CREATE INDEX orders_status_created_idx ON orders (status, created_at)`,
  `CREATE INDEX orders_signal_idx ON orders (signal_id)`,
  `CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC)`,
  `CREATE INDEX orders_symbol_created_idx ON orders (symbol, created_at DESC, id DESC)`,
  `CREATE TABLE fills (
    id bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders(id),
    fill_key text NOT NULL,
    symbol text NOT NULL,
    action text NOT NULL CHECK (action IN ('buy', 'sell')),
    position_side text CHECK (position_side IN ('long', 'short')),
    quantity numeric NOT NULL CHECK (quantity > 0),
    price numeric NOT NULL CHECK (price > 0),
    fee numeric NOT NULL DEFAULT 0,
    fee_asset text NOT NULL DEFAULT 'USDT',
    realised_pnl numeric,
    filled_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT fills_fill_key_unique UNIQUE (fill_key)
  )`,
  `CREATE INDEX fills_order_idx ON fills (order_id)`,
  `CREATE INDEX fills_filled_at_idx ON fills (filled_at)`,
  `CREATE TABLE positions (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id),
    bot_session_id bigint REFERENCES bot_sessions(id),
    symbol text NOT NULL,
    side text NOT NULL CHECK (side IN ('long', 'short')),
    quantity numeric NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    entry_price numeric NOT NULL DEFAULT 0,
    realised_pnl numeric NOT NULL DEFAULT 0,
    fees numeric NOT NULL DEFAULT 0,
    leverage integer,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'liquidated')),
    opened_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT positions_user_symbol_side_unique UNIQUE (user_id, symbol, side)
  )`,
  `CREATE INDEX positions_user_status_idx ON positions (user_id, status)`,
  `CREATE TABLE balances (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id),
    asset text NOT NULL,
    free numeric NOT NULL DEFAULT 0,
    locked numeric NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT balances_user_asset_unique UNIQUE (user_id, asset)
  )`,
  `CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    actor_id text,
    action text NOT NULL,
    payload jsonb,
    result text
  )`,
  `CREATE INDEX audit_log_at_idx ON audit_log (at DESC)`,
  `CREATE TABLE settings (
    key text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`
]

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const statement of statements) {
    yield* sql.unsafe(statement)
  }
})
