/**
 * The benchmark's own database on a Postgres server: created fresh for the run (so nothing of
 * anyone's data is touched), emptied between measurements, seeded for the growth test, dropped at
 * the end.
 */
import pg from "pg"

export interface BenchDatabase {
  readonly url: string
  readonly name: string
  readonly drop: () => Promise<void>
}

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** Creates `tvtb_bench_<time>_<pid>` on the server of `serverUrl` (a database there we may connect to). */
export const createBenchDatabase = async (serverUrl: string): Promise<BenchDatabase> => {
  const name = `tvtb_bench_${Date.now().toString(36)}_${process.pid}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: serverUrl })
      await c.connect()
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    }
  }
}

export const withClient = async <A>(url: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/**
 * Empties the signal and order tables (the owner user/session rows stay) and refreshes statistics.
 * Requests still in flight from the previous run may hold row locks: a deadlock is retried.
 */
export const emptySignals = (url: string) =>
  withClient(url, async (c) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await c.query("SET lock_timeout = '5s'")
        await c.query("TRUNCATE fills, orders, signals CASCADE")
        break
      } catch (e) {
        const code = (e as { code?: string }).code
        // 40P01 deadlock, 55P03 lock timeout
        if (attempt >= 5 || (code !== "40P01" && code !== "55P03")) throw e
        await new Promise((r) => setTimeout(r, 200 * attempt))
      }
    }
    await c.query("ANALYZE signals, orders")
  })

export const countSignals = (url: string) =>
  withClient(url, async (c) => Number((await c.query<{ n: string }>("SELECT count(*)::text AS n FROM signals")).rows[0]!.n))

/**
 * `n` signals with one order each, as the app stores them (8 symbols, both actions, received over
 * the last `n` seconds, orders `filled`/`skipped`), in two INSERT … SELECT generate_series
 * statements, then ANALYZE. Keys ascend with the ids (index pages fill in order, as in production,
 * where ids and times only grow). Returns the seconds it took.
 */
export const seedSignals = (url: string, n: number) =>
  withClient(url, async (c) => {
    const started = performance.now()
    const owner = await c.query<{ user_id: string; bot_session_id: string }>(
      "SELECT u.id::text AS user_id, b.id::text AS bot_session_id FROM users u JOIN bot_sessions b ON b.user_id = u.id ORDER BY b.id LIMIT 1"
    )
    const userId = owner.rows[0]?.user_id ?? null
    const sessionId = owner.rows[0]?.bot_session_id ?? null
    await c.query("SET synchronous_commit = off")
    await c.query("SET maintenance_work_mem = '256MB'")
    await c.query(
      `INSERT INTO signals (idempotency_key, user_id, bot_session_id, source, symbol, action, reduce_only, quantity,
         leverage, received_at, raw_payload)
       SELECT 'seed:' || lpad(g::text, 10, '0'), $2::bigint, $3::bigint, 'tradingview',
         (ARRAY['BTC-USDT','ETH-USDT','SOL-USDT','XRP-USDT','BNB-USDT','DOGE-USDT','ADA-USDT','LINK-USDT'])[1 + g % 8],
         CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END, false, 0.001 * (1 + g % 10), 5,
         now() - make_interval(secs => $1::int - g),
         '{"format": "json", "body": {"symbol": "BTCUSDT", "action": "buy", "quantity": "0.001", "secret": "[redacted]"}}'::jsonb
       FROM generate_series(1, $1::int) AS g`,
      [n, userId, sessionId]
    )
    await c.query(
      `INSERT INTO orders (signal_id, user_id, bot_session_id, symbol, action, reduce_only, status, quantity,
         filled_quantity, leverage, reason, created_at, updated_at, completed_at)
       SELECT s.id, s.user_id, s.bot_session_id, s.symbol, s.action, false,
         CASE WHEN s.id % 3 = 0 THEN 'filled' ELSE 'skipped' END, s.quantity,
         CASE WHEN s.id % 3 = 0 THEN s.quantity ELSE 0 END, 5,
         CASE WHEN s.id % 3 = 0 THEN NULL ELSE 'auto-trade is off' END, s.received_at, s.received_at, s.received_at
       FROM signals s`
    )
    await c.query("ANALYZE signals, orders")
    return (performance.now() - started) / 1000
  })

/** The plan of the app's `GET /signals?limit=50` query (SignalRepo.list) on the current data. */
export const explainList = (url: string, limit = 50) =>
  withClient(url, async (c) => {
    const result = await c.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
       SELECT s.id::text AS id, s.idempotency_key, s.symbol, s.action, s.position_side, s.reduce_only,
         s.quantity::text AS quantity, s.margin_usdt::text AS margin_usdt, s.price::text AS price, s.leverage,
         s.margin_mode, s.stop_loss::text AS stop_loss, s.take_profit::text AS take_profit,
         s.signal_time, s.received_at, o.id::text AS order_id, o.status AS order_status
       FROM signals s
       LEFT JOIN LATERAL (SELECT id, status FROM orders WHERE signal_id = s.id ORDER BY id LIMIT 1) o ON true
       WHERE true AND true
       ORDER BY s.received_at DESC, s.id DESC
       LIMIT $1`,
      [limit]
    )
    return result.rows.map((r) => r["QUERY PLAN"])
  })
