/**
 * Helpers of the reliability tests: the real process (`node src/main.ts`) on a fresh test database
 * with the BingX and Telegram fakes, alerts posted to its webhook, and its operator API read back.
 */
import { Effect, type Scope } from "effect"
import type { FakeBingx } from "../fakes/bingx.ts"
import { FakeTelegram } from "../fakes/telegram.ts"
import { liveEnv } from "../support/bingx.ts"
import { testDatabaseEnv } from "../support/database.ts"
import { childProcessApp, type ChildProcessApp } from "../support/childProcessApp.ts"

export const WEBHOOK_TOKEN = "rel-webhook-token-0123456789"
export const WEBHOOK_TOKEN_NEXT = "rel-webhook-next-token-9876543210"
export const API_TOKEN = "rel-api-token-0123456789abcdef"
export const ADMIN = 42

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export const until = async <A>(check: () => Promise<A | undefined | false> | A | undefined | false, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: any
}

export const call = async (url: string, init: RequestInit = {}): Promise<Reply> => {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000), ...init })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

/** A started Telegram fake, closed with the scope. */
export const makeFakeTelegram = Effect.acquireRelease(
  Effect.promise(() => FakeTelegram.start()),
  (t) => Effect.promise(() => t.close())
)

/** The real process (`--role api` unless told), listening, stopped with the scope. */
export const runningApp = (env: Readonly<Record<string, string>>, args: ReadonlyArray<string> = ["--role", "api"]) =>
  childProcessApp({ env, args, waitFor: ["api"], timeoutMs: 60_000 })

export interface LiveApp {
  readonly app: ChildProcessApp
  readonly url: string
  readonly telegram: FakeTelegram | undefined
  /** POSTs an alert (object → JSON) to the webhook with the token in the body. */
  readonly alert: (fields: Record<string, unknown>) => Promise<Reply>
  readonly operator: (path: string, init?: RequestInit) => Promise<Reply>
  /** Waits until GET /orders/{id} shows one of `statuses`; returns the order. */
  readonly settled: (orderId: string, statuses: ReadonlyArray<string>, timeoutMs?: number) => Promise<any>
}

let alertSeq = 0

/**
 * The real process (`--role api`, or `all` with the bot polling) trading live against `fake`, on a fresh test database, with
 * auto-trade on and no confirmation; Telegram notifications to the fake (admin 42) when given.
 */
export const liveApp = (
  fake: FakeBingx,
  telegram: FakeTelegram | undefined,
  env: Readonly<Record<string, string>> = {},
  role: "api" | "all" = "api"
): Effect.Effect<LiveApp, never, Scope.Scope> =>
  Effect.gen(function*() {
    const database = yield* testDatabaseEnv
    const app = yield* runningApp({
      ...liveEnv(fake),
      ...database,
      API_TOKEN,
      TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      AUTO_TRADE_ENABLED: "true",
      MANUAL_CONFIRMATION_REQUIRED: "false",
      WEBHOOK_RATE_LIMIT_PER_MINUTE: "0",
      // These tests are about the exchange and Telegram: a slow insert on a loaded machine must not
      // turn an alert into a 503 (the database budget has its own test).
      WEBHOOK_DATABASE_TIMEOUT_MS: "30000",
      BOT_METRICS_ENABLED: "false",
      LOG_LEVEL: "info",
      ...(telegram === undefined ? {} : {
        TELEGRAM_BOT_TOKEN: telegram.token,
        TELEGRAM_API_ROOT: telegram.apiRoot,
        TELEGRAM_ADMIN_IDS: String(ADMIN)
      }),
      ...env
    }, ["--role", role])
    const url = app.apiUrl!
    const operator = (path: string, init: RequestInit = {}) =>
      call(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${API_TOKEN}`, ...(init.headers as Record<string, string>) } })
    return {
      app,
      url,
      telegram,
      alert: (fields) =>
        call(`${url}/webhook/tradingview`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ secret: WEBHOOK_TOKEN, id: `rel-${process.pid}-${Date.now()}-${++alertSeq}`, ...fields })
        }),
      operator,
      settled: (orderId, statuses, timeoutMs = 20_000) =>
        until(async () => {
          const r = await operator(`/orders/${orderId}`)
          return statuses.includes(r.json?.status) ? r.json : undefined
        }, timeoutMs, `order ${orderId} to be ${statuses.join("|")}`)
    }
  })

/** The value of a metric sample on a Prometheus text page (undefined when absent). */
export const metricValue = (page: string, name: string, labels = ""): number | undefined => {
  const line = page.split("\n").find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}
