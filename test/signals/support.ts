/**
 * The webhook tests' app: the in-process app (test/support/inProcessApp.ts, role api, order actor
 * off) with notifications, logs and start-up prints captured in memory; helpers to call it over
 * HTTP and to read what it stored and queued.
 */
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { type Notification, Notifier } from "../../src/notify/Notifier.ts"
import { SignalQueue, type QueuedOrder } from "../../src/orders/SignalQueue.ts"
import { startInProcessApp } from "../support/inProcessApp.ts"

export const WEBHOOK_TOKEN = "tv-test-token-0123456789"
export const NEXT_WEBHOOK_TOKEN = "tv-next-token-9876543210"
export const API_TOKEN = "api-test-token-abcdef"

export interface TestAppShape {
  readonly url: string
  readonly notifications: Array<Notification>
  readonly logs: Array<string>
  readonly printed: Array<string>
}

export class TestApp extends Context.Service<TestApp, TestAppShape>()("test/TestApp") {}

export const BASE_ENV: Readonly<Record<string, string>> = {
  ROLE: "api",
  PORT: "0",
  HOST: "127.0.0.1",
  BOT_METRICS_ENABLED: "false",
  TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
  API_TOKEN,
  LOG_LEVEL: "debug"
}

/** The app for `env` (merged over BASE_ENV; a key set to "" is removed), with the order actor off. */
export const layerTestApp = (env: Readonly<Record<string, string>> = {}) => {
  const notifications: Array<Notification> = []
  return Layer.effectContext(Effect.map(
    startInProcessApp({ ...BASE_ENV, ...env }, {
      // The order actor is off: these tests look at what ingest put on the queue.
      orders: { actor: false },
      notifier: Notifier.layerMemory(notifications)
    }),
    (app) =>
      Context.add(
        app.context,
        TestApp,
        TestApp.of({ url: app.api!, notifications, logs: app.lines as Array<string>, printed: app.printed as Array<string> })
      )
  ))
}

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: any
}

const toReply = async (r: Response): Promise<Reply> => {
  const text = await r.text()
  let json: unknown = undefined
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  return { status: r.status, headers: r.headers, text, json }
}

export const request = (path: string, init: RequestInit = {}) =>
  Effect.flatMap(TestApp, (app) => Effect.promise(() => fetch(`${app.url}${path}`, init).then(toReply)))

/** POST to the webhook: objects are sent as JSON (application/json), strings as text/plain. */
export const postWebhook = (
  body: unknown,
  options: { readonly path?: string; readonly headers?: Record<string, string>; readonly contentType?: string } = {}
) =>
  request(options.path ?? "/webhook/tradingview", {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: {
      "content-type": options.contentType ?? (typeof body === "string" ? "text/plain; charset=utf-8" : "application/json"),
      ...options.headers
    }
  })

export const operator = (path: string, init: RequestInit = {}) =>
  request(path, { ...init, headers: { authorization: `Bearer ${API_TOKEN}`, ...(init.headers as Record<string, string>) } })

/** Everything queued so far (the order actor is not running in these tests). */
export const drainQueue = Effect.gen(function*() {
  const queue = yield* SignalQueue
  const items: Array<QueuedOrder> = []
  while ((yield* queue.size) > 0) items.push(yield* queue.take)
  return items
})

export interface StoredSignal {
  readonly id: string
  readonly idempotency_key: string
  readonly symbol: string
  readonly action: string
  readonly position_side: string | null
  readonly reduce_only: boolean
  readonly quantity: string | null
  readonly margin_usdt: string | null
  readonly price: string | null
  readonly leverage: number | null
  readonly margin_mode: string | null
  readonly stop_loss: string | null
  readonly take_profit: string | null
  readonly signal_time: Date | null
  readonly raw_payload: string
  readonly user_id: string
  readonly bot_session_id: string
}

export interface StoredOrder {
  readonly id: string
  readonly signal_id: string
  readonly symbol: string
  readonly action: string
  readonly position_side: string | null
  readonly reduce_only: boolean
  readonly status: string
  readonly quantity: string | null
  readonly margin_usdt: string | null
  readonly price: string | null
  readonly leverage: number | null
  readonly margin_mode: string | null
  readonly stop_loss: string | null
  readonly take_profit: string | null
  readonly client_order_id: string | null
  readonly reason: string | null
  readonly user_id: string
  readonly bot_session_id: string
}

/** The stored signal row and its orders, straight from the database. */
export const stored = (signalId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [signal] = yield* sql<StoredSignal>`
      SELECT id::text AS id, idempotency_key, symbol, action, position_side, reduce_only, quantity::text AS quantity,
        margin_usdt::text AS margin_usdt, price::text AS price, leverage, margin_mode, stop_loss::text AS stop_loss,
        take_profit::text AS take_profit, signal_time, raw_payload::text AS raw_payload, user_id::text AS user_id,
        bot_session_id::text AS bot_session_id
      FROM signals WHERE id = ${signalId}::bigint`
    const orders = yield* sql<StoredOrder>`
      SELECT id::text AS id, signal_id::text AS signal_id, symbol, action, position_side, reduce_only, status,
        quantity::text AS quantity, margin_usdt::text AS margin_usdt, price::text AS price, leverage, margin_mode,
        stop_loss::text AS stop_loss, take_profit::text AS take_profit, client_order_id, reason,
        user_id::text AS user_id, bot_session_id::text AS bot_session_id
      FROM orders WHERE signal_id = ${signalId}::bigint ORDER BY id`
    return { signal, orders }
  })

export const count = (table: "signals" | "orders" | "audit_log") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql(table)}`, (rows) => Number(rows[0]!.n)))

/** An ISO time `secondsAgo` before now (second precision, like {{timenow}}). */
export const timenow = (secondsAgo = 0) =>
  new Date(Math.floor(Date.now() / 1000) * 1000 - secondsAgo * 1000).toISOString().replace(".000Z", "Z")

let unique = 0
/** A fresh alert id, so table rows never collide across tests sharing one app. */
export const uniqueId = (prefix = "t") => `${prefix}-${process.pid}-${Date.now()}-${++unique}`
