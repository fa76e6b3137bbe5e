/**
 * The bare baseline of the webhook benchmark: what the same work costs with nothing but
 * `node:http` and the `pg` driver. Started as its own process by scripts/bench.ts:
 *
 *   BASELINE_DATABASE_URL=postgres://… BASELINE_POOL_SIZE=10 BASELINE_TOKEN=… node scripts/bench/baseline.ts
 *
 * Per `POST /webhook/tradingview`: read the body, `JSON.parse`, check the token, take symbol,
 * action, quantity and id, then the SAME two inserts as the app — a `signals` row (deduplicated on
 * `idempotency_key`) and its `orders` row, with the app's columns and values — in one transaction:
 * one statement (`WITH s AS (INSERT … ON CONFLICT DO NOTHING RETURNING id) INSERT INTO orders …`),
 * prepared once per connection. 201 + ids as JSON; 200 for a duplicate. It is the fastest honest
 * way to do this work, so the app/baseline ratio says what the framework, validation, metrics and
 * tracing cost. Prints `baseline listening on http://127.0.0.1:<port>` when ready.
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import pg from "pg"

const url = process.env.BASELINE_DATABASE_URL
if (url === undefined) {
  process.stderr.write("baseline: BASELINE_DATABASE_URL is not set\n")
  process.exit(2)
}
const token = process.env.BASELINE_TOKEN ?? ""
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.BASELINE_POOL_SIZE ?? "10") })

// The owner the app created on its first start (the app's rows carry the same ids).
const owner = await pool.query<{ user_id: string; bot_session_id: string }>(
  "SELECT u.id::text AS user_id, b.id::text AS bot_session_id FROM users u JOIN bot_sessions b ON b.user_id = u.id ORDER BY b.id LIMIT 1"
)
const userId = owner.rows[0]?.user_id ?? null
const botSessionId = owner.rows[0]?.bot_session_id ?? null

const INSERT = {
  name: "baseline_ingest",
  text: `WITH s AS (
      INSERT INTO signals (idempotency_key, user_id, bot_session_id, source, symbol, action, reduce_only, quantity,
        received_at, raw_payload)
      VALUES ($1, $2, $3, 'tradingview', $4, $5, false, $6::numeric, $7::timestamptz, $8::jsonb)
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING id
    )
    INSERT INTO orders (signal_id, user_id, bot_session_id, symbol, action, reduce_only, status, quantity, reason,
      created_at, updated_at, completed_at)
    SELECT s.id, $2, $3, $4, $5, false, 'skipped', $6::numeric, 'auto-trade is off', $7::timestamptz,
      $7::timestamptz, $7::timestamptz
    FROM s
    RETURNING id::text AS order_id, signal_id::text AS id`
}

/** `BTCUSDT` / `btc-usdt` → `BTC-USDT` (the app's canonical form, for the common quotes). */
const symbolOf = (raw: string): string => {
  const s = raw.toUpperCase().replace(/[^A-Z0-9]/g, "")
  for (const quote of ["USDT", "USDC"]) if (s.endsWith(quote) && s.length > quote.length) return `${s.slice(0, -quote.length)}-${quote}`
  return s
}

const answer = (res: Http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const server = Http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/webhook/tradingview") return answer(res, 404, { error: "not found" })
  const chunks: Array<Buffer> = []
  req.on("data", (c: Buffer) => chunks.push(c))
  req.on("end", () => {
    let body: Record<string, unknown>
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>
    } catch {
      return answer(res, 400, { error: "body is not JSON" })
    }
    if (body.secret !== token) return answer(res, 401, { error: "invalid token" })
    const { symbol, action, quantity, id } = body
    if (typeof symbol !== "string" || (action !== "buy" && action !== "sell") || typeof quantity !== "string" || typeof id !== "string") {
      return answer(res, 422, { error: "invalid signal" })
    }
    const { secret: _secret, ...stored } = body
    pool.query<{ id: string; order_id: string }>({
      ...INSERT,
      values: [`id:${id}`, userId, botSessionId, symbolOf(symbol), action, quantity, new Date().toISOString(), JSON.stringify(stored)]
    }).then(
      (result) => {
        const row = result.rows[0]
        if (row === undefined) answer(res, 200, { duplicate: true })
        else answer(res, 201, { id: row.id, order_id: row.order_id, symbol: symbolOf(symbol), action, quantity })
      },
      (e: unknown) => answer(res, 503, { error: e instanceof Error ? e.message : String(e) })
    )
  })
})
server.keepAliveTimeout = 5_000

server.listen(Number(process.env.BASELINE_PORT ?? "0"), "127.0.0.1", () => {
  process.stdout.write(`baseline listening on http://127.0.0.1:${(server.address() as Net.AddressInfo).port}\n`)
})

const stop = () => {
  server.closeAllConnections()
  server.close(() => void pool.end().then(() => process.exit(0)))
}
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
