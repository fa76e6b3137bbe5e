/**
 * The bot on the real services, for the scenario suites (scenarios.ts, liveScenarios.ts): the
 * Telegram fake, the BingX fake (TRADING_MODE=live), a fresh database, and the app in one of the
 * two layouts:
 * - `apiAndBotProcesses`: `node src/main.ts --role api` and `node src/main.ts --role bot` as two
 *   processes; the bot reaches the api through an HTTP proxy (it sees each approve/reject request;
 *   cutting it is the api being unreachable);
 * - `allRoleInProcess`: `appLayer` with `--role all` in this process (the bot on
 *   `BotBackend.layerLocal`); its database is reached through a TCP proxy (cutting it is the
 *   outage the in-process backend can have).
 * Each harness is a fresh stack (a migrated PGlite copy, or a new database on TEST_DATABASE_URL).
 *
 * `BackendControl` over the real backend: signals are created by POSTing the webhook with
 * confirmations on (and it waits until their approval messages reached the admins, so the next
 * reply a test waits for is not a notification); settings and orders are read over the API;
 * approve/reject calls are counted where they arrive (the proxy; in-process: `order.approve` /
 * `order.reject` rows in audit_log); the bot's audit trail is the api's (`audit_log` rows in-process,
 * the api process's audit log lines for the process pair: the process has the database).
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AppConfig } from "../../src/config.ts"
import { isFinal, type OrderStatus } from "../../src/domain/order.ts"
import { AppInfo, appLayer } from "../../src/main.ts"
import { FakeBingx } from "../fakes/bingx.ts"
import { FakeTelegram, type FakeMessage } from "../fakes/telegram.ts"
import { UNREACHABLE } from "../support/inProcessApp.ts"
import { liveEnv } from "../support/bingx.ts"
import { freshDatabaseEnv, proxiedDatabase } from "../support/database.ts"
import { type ChildProcessApp, startChildProcessApp } from "../support/childProcessApp.ts"
import { startHttpProxy } from "../support/httpProxy.ts"
import { ADMIN_IDS, ALICE, API_TOKEN, type AwaitingOrder, type BackendControl, BOB, type BotHarness, FAST } from "./harness.ts"

export const WEBHOOK_TOKEN = "live-webhook-token-0123456789"

export interface Reply {
  readonly status: number
  readonly body: any
}

/** A harness on the real services, with what the live scenarios need besides `BackendControl`. */
export interface LiveHarness extends BotHarness {
  readonly exchange: FakeBingx
  /** An operator call to the API (bearer API_TOKEN), straight to the api (not through any proxy). */
  readonly api: (method: "GET" | "POST", path: string, body?: unknown) => Promise<Reply>
  /** POSTs a TradingView alert (a unique `id` is added, so equal alerts are not duplicates). */
  readonly webhook: (alert: Readonly<Record<string, unknown>>) => Promise<Reply>
  /** Waits until the order is final (filled, rejected, expired, failed…); the order then. */
  readonly finalOrder: (orderId: string) => Promise<any>
  /** The backend's log lines so far (JSON; the api process's stdout in the process layout). */
  readonly logs: () => ReadonlyArray<string>
}

export type LiveHarnessFactory = (env?: Readonly<Record<string, string>>) => Promise<LiveHarness>

const buttonsOf = (m: FakeMessage) => (m.reply_markup?.inline_keyboard ?? []).flat().map((b) => b.callback_data)

let alertSeq = 0

const request = async (url: string, method: string, body: unknown, headers: Record<string, string>): Promise<Reply> => {
  const response = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: text.length === 0 ? undefined : JSON.parse(text) }
}

const poll = async <A>(probe: () => Promise<A | undefined>, timeoutMs: number, what: string): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

interface Parts {
  readonly telegram: FakeTelegram
  readonly exchange: FakeBingx
  readonly apiUrl: string
  readonly decisionCalls: BackendControl["decisionCalls"]
  readonly age: BackendControl["age"]
  readonly audits: BackendControl["audits"]
  readonly setUnavailable: BackendControl["setUnavailable"]
  readonly logs: () => ReadonlyArray<string>
  readonly close: () => Promise<void>
}

/** The harness over a started stack: the parts every layout shares. */
const liveHarness = (p: Parts): LiveHarness => {
  const api = (method: "GET" | "POST", path: string, body?: unknown) =>
    request(`${p.apiUrl}${path}`, method, body, { authorization: `Bearer ${API_TOKEN}` })
  const webhook = (alert: Readonly<Record<string, unknown>>) =>
    request(`${p.apiUrl}/webhook/tradingview/${WEBHOOK_TOKEN}`, "POST", { id: `alert-${process.pid}-${++alertSeq}`, ...alert }, {})
  const order = async (id: string) => {
    const reply = await api("GET", `/orders/${id}`)
    if (reply.status !== 200) throw new Error(`GET /orders/${id} answered ${reply.status}: ${JSON.stringify(reply.body)}`)
    return reply.body
  }
  const finalOrder = (id: string) =>
    poll(async () => {
      const o = await order(id)
      return isFinal(o.status as OrderStatus) ? o : undefined
    }, 30_000, `order ${id} to reach a final status`)

  const backend: BackendControl = {
    addSignalAwaitingApproval: async (symbol, quantity): Promise<AwaitingOrder> => {
      const reply = await webhook({ symbol, action: "buy", quantity })
      if (reply.status !== 201 || reply.body.order_status !== "awaiting_approval") {
        throw new Error(`the webhook did not create an order awaiting approval: ${reply.status} ${JSON.stringify(reply.body)}`)
      }
      const orderId: string = reply.body.order_id
      for (const admin of [ALICE, BOB]) {
        await p.telegram.waitFor(
          () => p.telegram.messages(admin.id).some((m) => buttonsOf(m).includes(`approve:${orderId}`)),
          15_000,
          `the approval message of order ${orderId} in ${admin.username}'s chat`
        )
      }
      return { signalId: reply.body.id, orderId, symbol, action: "buy", quantity: reply.body.quantity, price: reply.body.price }
    },
    settings: async () => {
      const reply = await api("GET", "/bot/status")
      if (reply.status !== 200) throw new Error(`GET /bot/status answered ${reply.status}`)
      return reply.body
    },
    orderStatus: async (id) => (await order(id)).status,
    decisionCalls: p.decisionCalls,
    age: p.age,
    audits: p.audits,
    setUnavailable: p.setUnavailable,
    executes: true,
    settle: async (id) => (await finalOrder(id)).status,
    exchangeOrders: async (id) =>
      p.exchange.requests("/openApi/swap/v2/trade/order", "POST").filter((r) => r.params["clientOrderId"]?.endsWith(`-${id}`)).length
  }
  return {
    telegram: p.telegram,
    exchange: p.exchange,
    backend,
    // The backend's own Notifier announced the signal when the webhook stored it.
    announce: async () => {},
    api,
    webhook,
    finalOrder,
    logs: p.logs,
    close: p.close
  }
}

/** Services and their answers, released in reverse order even when a step fails. */
const cleanup = () => {
  const steps: Array<() => Promise<unknown>> = []
  return {
    add: (step: () => Promise<unknown>) => void steps.push(step),
    run: async () => {
      const errors: Array<unknown> = []
      for (const step of steps.reverse()) {
        try {
          await step()
        } catch (e) {
          errors.push(e)
        }
      }
      if (errors.length > 0) throw errors[0]
    }
  }
}

const telegramEnv = (telegram: FakeTelegram) => ({
  TELEGRAM_BOT_TOKEN: telegram.token,
  TELEGRAM_API_ROOT: telegram.apiRoot,
  TELEGRAM_ADMIN_IDS: ADMIN_IDS
})

const startFakes = async (release: ReturnType<typeof cleanup>) => {
  const telegram = await FakeTelegram.start()
  release.add(() => telegram.close())
  const exchange = new FakeBingx()
  await exchange.start()
  release.add(() => exchange.stop())
  return { telegram, exchange }
}

/** An audit log line of the api process (AuditLog.record writes the row and this INFO line). */
const auditLines = (app: ChildProcessApp) =>
  app.stdout.flatMap((line) => {
    if (!line.includes("\"audit_actor\":\"telegram\"")) return []
    const record = JSON.parse(line) as { msg: unknown; audit_actor_id: string | null }
    const match = /^audit: telegram (\S+) → (.*)$/s.exec(String(record.msg))
    return match === null ? [] : [{ actorId: record.audit_actor_id ?? "", action: match[1]!, result: match[2]! }]
  })

/**
 * `--role api` and `--role bot` as two processes, started together: until the api listens, the
 * proxy refuses the bot's calls as a port nobody listens on would (the bot's start-up message
 * waits for the backend).
 */
export const apiAndBotProcesses: LiveHarnessFactory = async (env = {}) => {
  const release = cleanup()
  try {
    const { telegram, exchange } = await startFakes(release)
    const database = await freshDatabaseEnv()
    release.add(database.release)
    const proxy = await startHttpProxy()
    release.add(proxy.close)
    const apiStarting = startChildProcessApp({
      args: ["--role", "api"],
      env: {
        API_TOKEN,
        TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
        ...telegramEnv(telegram),
        ...liveEnv(exchange),
        ...database.env,
        TELEMETRY_OTLP_ENDPOINT: UNREACHABLE,
        LOG_LEVEL: "info",
        ...env
      }
    })
    const botStarting = startChildProcessApp({
      args: ["--role", "bot"],
      env: {
        ...telegramEnv(telegram),
        BACKEND_BASE_URL: proxy.url,
        API_TOKEN,
        TELEMETRY_OTLP_ENDPOINT: UNREACHABLE,
        LOG_LEVEL: "info",
        ...env
      }
    })
    const exitCodes: Array<string> = []
    const stop = (name: string, app: ChildProcessApp) => async () => {
      const code = await app.stop("SIGTERM")
      if (code !== 0) exitCodes.push(`${name} exited with ${code}\n${app.stderr.join("\n")}`)
    }
    const [api, bot] = await Promise.allSettled([apiStarting, botStarting])
    if (api.status === "fulfilled") release.add(stop("--role api", api.value))
    if (bot.status === "fulfilled") release.add(stop("--role bot", bot.value))
    if (api.status === "rejected") throw api.reason
    if (bot.status === "rejected") throw bot.reason
    const apiProcess = api.value
    proxy.setTarget(apiProcess.apiUrl!)
    const approvalTimeoutMs = Number(env["APPROVAL_TIMEOUT_SECONDS"] ?? 300) * 1000
    return liveHarness({
      telegram,
      exchange,
      apiUrl: apiProcess.apiUrl!,
      decisionCalls: async (id, decision) =>
        proxy.forwarded.filter((r) => r.method === "POST" && r.path === `/orders/${id}/${decision}`).length,
      age: async (id) => {
        // The api process owns its database: wait until the order is older than its approval timeout.
        if (approvalTimeoutMs > 30_000) {
          throw new Error("age() needs APPROVAL_TIMEOUT_SECONDS of at most 30 for the process layout")
        }
        const reply = await request(`${apiProcess.apiUrl}/orders/${id}`, "GET", undefined, { authorization: `Bearer ${API_TOKEN}` })
        const wait = new Date(reply.body.created_at).getTime() + approvalTimeoutMs + 200 - Date.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      },
      audits: async () => auditLines(apiProcess),
      setUnavailable: async (down) => proxy.setDown(down),
      logs: () => apiProcess.stdout,
      close: async () => {
        await release.run()
        if (exitCodes.length > 0) throw new Error(exitCodes.join("\n"))
      }
    })
  } catch (e) {
    await release.run().catch(() => {})
    throw e
  }
}

/** `--role all` in this process: `appLayer` with the bot on the in-process backend. */
export const allRoleInProcess: LiveHarnessFactory = async (env = {}) => {
  const release = cleanup()
  try {
    const { telegram, exchange } = await startFakes(release)
    const database = await proxiedDatabase()
    release.add(database.release)
    const dataDir = database.env["DATA_DIR"] ?? Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-all-"))
    if (database.env["DATA_DIR"] === undefined) release.add(async () => Fs.rmSync(dataDir, { recursive: true, force: true }))
    const logs: Array<string> = []
    const config = AppConfig.layerFrom({
      ROLE: "all",
      HOST: "127.0.0.1",
      PORT: "0",
      BOT_METRICS_HOST: "127.0.0.1",
      BOT_METRICS_PORT: "0",
      API_TOKEN,
      TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      ...telegramEnv(telegram),
      ...liveEnv(exchange),
      DATA_DIR: dataDir,
      BACKEND_BASE_URL: UNREACHABLE,
      TELEMETRY_OTLP_ENDPOINT: UNREACHABLE,
      LOG_LEVEL: "info",
      ...env
    })
    const app = appLayer({
      database: database.layer,
      telegram: FAST,
      announceToken: () => {},
      printAlertSetup: () => {},
      logSink: (line) => void logs.push(line)
    }).pipe(Layer.provide(config))
    const scope = await Effect.runPromise(Scope.make())
    release.add(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    const context = await Effect.runPromise(Layer.buildWithScope(app, scope)) as Context.Context<AppInfo | SqlClient.SqlClient>
    const sql = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
      Effect.runPromise(Effect.provideContext(Effect.flatMap(SqlClient.SqlClient, f), context))
    return liveHarness({
      telegram,
      exchange,
      apiUrl: Context.get(context, AppInfo).api!.url,
      decisionCalls: async (id, decision) => {
        const [row] = await sql((q) =>
          q<{ n: string }>`SELECT count(*)::text AS n FROM audit_log
            WHERE action = ${`order.${decision}`} AND payload->>'order_id' = ${id}`
        )
        return Number(row!.n)
      },
      age: async (id) => {
        await sql((q) => q`UPDATE orders SET created_at = created_at - interval '1 day' WHERE id = ${id}::bigint`)
      },
      audits: () =>
        sql((q) =>
          q<{ actorId: string; action: string; result: string }>`
            SELECT actor_id AS "actorId", action, result FROM audit_log
            WHERE actor = 'telegram' AND action NOT IN ('settings.update', 'order.approve', 'order.reject')
            ORDER BY id`
        ),
      setUnavailable: async (down) => database.proxy.setDown(down),
      logs: () => logs,
      close: release.run
    })
  } catch (e) {
    await release.run().catch(() => {})
    throw e
  }
}
