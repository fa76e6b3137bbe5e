/**
 * The crash loop, shared by test/reliability/crash.test.ts (a few kills, in CI) and
 * scripts/chaos.ts (many kills, locally).
 *
 * The real process (`node src/main.ts --role api`, live trading against the loopback BingX fake,
 * auto-trade on, no confirmation) runs under a steady webhook load and is killed with SIGKILL at
 * random points — sometimes while it is still starting, mostly while it is busy — and restarted
 * each time on the same database. After the last kill it runs until every order is settled, is
 * stopped cleanly, and the database and the fake exchange are checked:
 *  - every acknowledged (2xx) signal is stored, with its order;
 *  - every order is final (nothing left pending/submitted), and none was lost: with
 *    SIGNAL_MAX_AGE_SECONDS far above the run time, every order is `filled`;
 *  - the exchange saw each clientOrderId placed at most once and never refused one as repeated
 *    (101481); every order it placed is a filled order of ours with exactly its quantity and one
 *    fill.
 */
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { type ChildProcess, spawn } from "node:child_process"
import { AppConfig } from "../../src/config.ts"
import * as Database from "../../src/db/Database.ts"
import { type FakeBingx } from "../fakes/bingx.ts"
import { liveEnv } from "../support/bingx.ts"
import { MAIN } from "../support/childProcessApp.ts"

export const WEBHOOK_TOKEN = "chaos-webhook-token-0123456789"
export const API_TOKEN = "chaos-api-token-0123456789"
const SYMBOLS = [
  { symbol: "BTCUSDT", qty: "0.001" },
  { symbol: "ETHUSDT", qty: "0.01" },
  { symbol: "SOLUSDT", qty: "0.1" }
] as const

/** A small seeded PRNG (mulberry32): a failing run can be repeated with CHAOS_SEED. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// ------------------------------------------------------------------------------------------------
// The process
// ------------------------------------------------------------------------------------------------

/** One run of the real process; `url` is set once it listens. */
export class AppRun {
  readonly child: ChildProcess
  readonly lines: Array<string> = []
  url: string | undefined
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private readonly listening: Promise<string>

  constructor(env: Readonly<Record<string, string>>) {
    this.child = spawn(process.execPath, [MAIN, "--role", "api"], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        HOST: "127.0.0.1",
        PORT: "0",
        ...env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })))
    this.listening = new Promise((resolve, reject) => {
      let buffer = ""
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString("utf8")
        let i: number
        while ((i = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, i)
          buffer = buffer.slice(i + 1)
          if (this.lines.length < 20_000) this.lines.push(line)
          const m = /API listening on (https?:\/\/\S+) /.exec(line)
          if (m !== null && this.url === undefined) {
            this.url = m[1]!
            resolve(this.url)
          }
        }
      }
      this.child.stdout!.on("data", onData)
      this.child.stderr!.on("data", (c: Buffer) => this.lines.push(`[stderr] ${c.toString("utf8").trimEnd()}`))
      void this.exited.then(({ code, signal }) => reject(new Error(`exited (${code ?? signal}) before listening`)))
    })
    this.listening.catch(() => undefined)
  }

  /** Resolves with the API URL, or rejects when the process exits first or `timeoutMs` passes. */
  ready(timeoutMs = 60_000): Promise<string> {
    return Promise.race([
      this.listening,
      sleep(timeoutMs).then(() => {
        throw new Error(`did not listen within ${timeoutMs} ms\n${this.lines.slice(-30).join("\n")}`)
      })
    ])
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill("SIGKILL")
    await this.exited
  }

  /** SIGTERM and wait (SIGKILL after `timeoutMs`); resolves with the exit code. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (this.alive) this.child.kill("SIGTERM")
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs)
    const { code } = await this.exited
    clearTimeout(timer)
    return code
  }
}

// ------------------------------------------------------------------------------------------------
// The load
// ------------------------------------------------------------------------------------------------

export interface Sent {
  readonly alertId: string
  readonly symbol: string
  /** HTTP status, or undefined when no answer arrived (connection refused/reset, timeout). */
  status: number | undefined
  signalId: string | undefined
  orderId: string | undefined
  orderStatus: string | undefined
}

/** Posts one alert every `intervalMs` to whatever `target()` says is up (at most `maxInFlight` at once). */
export class WebhookLoad {
  readonly sent: Array<Sent> = []
  private running = true
  private inFlight = 0
  private loop: Promise<void> | undefined
  private n = 0
  private readonly target: () => string | undefined
  private readonly intervalMs: number
  private readonly maxInFlight: number

  constructor(target: () => string | undefined, intervalMs: number, maxInFlight = 16) {
    this.target = target
    this.intervalMs = intervalMs
    this.maxInFlight = maxInFlight
  }

  start(): void {
    this.loop = (async () => {
      while (this.running) {
        const url = this.target()
        if (url !== undefined && this.inFlight < this.maxInFlight) void this.post(url)
        await sleep(this.intervalMs)
      }
      while (this.inFlight > 0) await sleep(10)
    })()
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }

  get acknowledged(): Array<Sent> {
    return this.sent.filter((s) => s.status !== undefined && s.status >= 200 && s.status < 300)
  }

  private async post(url: string): Promise<void> {
    const pick = SYMBOLS[this.n % SYMBOLS.length]!
    const alertId = `chaos-${process.pid}-${Date.now()}-${++this.n}`
    const record: Sent = { alertId, symbol: pick.symbol, status: undefined, signalId: undefined, orderId: undefined, orderStatus: undefined }
    this.sent.push(record)
    this.inFlight++
    try {
      const response = await fetch(`${url}/webhook/tradingview`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ secret: WEBHOOK_TOKEN, id: alertId, symbol: pick.symbol, action: "buy", qty: pick.qty }),
        signal: AbortSignal.timeout(10_000)
      })
      const text = await response.text()
      record.status = response.status
      if (response.status >= 200 && response.status < 300) {
        const body = JSON.parse(text) as { id: string; order_id: string; order_status: string }
        record.signalId = body.id
        record.orderId = body.order_id
        record.orderStatus = body.order_status
      }
    } catch {
      // No answer: the process died (or was not there yet). Not acknowledged.
    } finally {
      this.inFlight--
    }
  }
}

// ------------------------------------------------------------------------------------------------
// The loop
// ------------------------------------------------------------------------------------------------

export interface ChaosOptions {
  /** Database environment of the app: `{DATA_DIR}` (embedded) or `{DATABASE_URL}`. */
  readonly database: Readonly<Record<string, string>>
  readonly fake: FakeBingx
  readonly kills: number
  readonly seed: number
  /** Milliseconds between webhook posts (default 40 → 25 per second). */
  readonly intervalMs?: number
  /** Longest wait before the next kill once the process listens (default 2500 ms). */
  readonly maxUptimeMs?: number
  /** How long the final run may take to settle every order (default 60 s). */
  readonly settleTimeoutMs?: number
  readonly log?: (line: string) => void
}

export interface OrderRow {
  readonly id: string
  readonly signal_id: string
  readonly symbol: string
  readonly status: string
  readonly quantity: string | null
  readonly filled_quantity: string
  readonly client_order_id: string | null
  readonly reason: string | null
  readonly fills: string
  readonly fill_quantity: string | null
}

export interface ChaosReport {
  readonly seed: number
  readonly kills: number
  /** Kills that hit a process before it was listening. */
  readonly killsDuringStart: number
  readonly sent: number
  readonly acknowledged: ReadonlyArray<Sent>
  readonly signals: ReadonlyArray<{ readonly id: string; readonly idempotency_key: string }>
  readonly orders: ReadonlyArray<OrderRow>
  /** POSTs of an order at the fake, per clientOrderId. */
  readonly posts: ReadonlyMap<string, number>
  /** Orders the fake accepted, per clientOrderId. */
  readonly placed: ReadonlyMap<string, { readonly count: number; readonly quantity: string }>
  /** POSTs answered 101481 (clientOrderId repeated). */
  readonly repeatedClientOrderIds: number
  /** Orders looked up by clientOrderId (an outcome the process did not see before it was killed). */
  readonly lookedUp: number
  /** The last lines of the final run, for failure messages. */
  readonly tail: ReadonlyArray<string>
}

/** Reads what the runs left in the database (the app is stopped: the embedded lock is free). */
export const readDatabase = (database: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const signals = yield* sql<{ id: string; idempotency_key: string }>`
      SELECT id::text AS id, idempotency_key FROM signals ORDER BY id`
    const orders = yield* sql<OrderRow>`
      SELECT o.id::text AS id, o.signal_id::text AS signal_id, o.symbol, o.status, o.quantity::text AS quantity,
        o.filled_quantity::text AS filled_quantity, o.client_order_id, o.reason,
        (SELECT count(*) FROM fills f WHERE f.order_id = o.id)::text AS fills,
        (SELECT sum(f.quantity) FROM fills f WHERE f.order_id = o.id)::text AS fill_quantity
      FROM orders o ORDER BY o.id`
    return { signals, orders }
  }).pipe(
    Effect.provide(Database.layer.pipe(Layer.provide(AppConfig.layerFrom({ LOG_LEVEL: "none", ...database })))),
    Effect.scoped
  )

/** Counts pending/submitted/partially_filled orders through the API (the app is running). */
const openOrders = async (url: string): Promise<number> => {
  let open = 0
  for (const status of ["pending", "submitted", "partially_filled"]) {
    const response = await fetch(`${url}/orders?status=${status}&limit=500`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
      signal: AbortSignal.timeout(10_000)
    })
    if (response.status !== 200) throw new Error(`GET /orders answered ${response.status}`)
    open += ((await response.json()) as { orders: Array<unknown> }).orders.length
  }
  return open
}

export const appEnv = (options: ChaosOptions): Record<string, string> => ({
  ...liveEnv(options.fake, {
    // Generous: an answer lost in a kill is found by its clientOrderId at the next start.
    BINGX_TIMEOUT_MS: "3000"
  }),
  ...options.database,
  API_TOKEN,
  TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
  AUTO_TRADE_ENABLED: "true",
  MANUAL_CONFIRMATION_REQUIRED: "false",
  // Far above the run time: an order that is not filled in the end was lost, not expired.
  SIGNAL_MAX_AGE_SECONDS: "3600",
  RECONCILE_INTERVAL_SECONDS: "2",
  WEBHOOK_RATE_LIMIT_PER_MINUTE: "0",
  BOT_METRICS_ENABLED: "false",
  TELEMETRY_ENABLED: "false",
  LOG_LEVEL: "info"
})

export const runChaos = async (options: ChaosOptions): Promise<ChaosReport> => {
  const log = options.log ?? (() => {})
  const random = prng(options.seed)
  const env = appEnv(options)
  const maxUptime = options.maxUptimeMs ?? 2_500
  let current: AppRun | undefined
  const load = new WebhookLoad(() => current?.url, options.intervalMs ?? 40)
  // Some order placements are executed at once but answered late: kills land between the two.
  const lateAnswers = setInterval(() => {
    options.fake.inject("/openApi/swap/v2/trade/order", { kind: "executeThenDelay", ms: 150 + Math.floor(random() * 400) }, {
      method: "POST"
    })
  }, 300)
  let killsDuringStart = 0
  load.start()
  try {
    for (let k = 0; k < options.kills; k++) {
      current = new AppRun(env)
      const duringStart = random() < 0.2
      if (duringStart) {
        // Somewhere in start-up: opening the database, migrations, the first sweep.
        await Promise.race([current.ready().catch(() => undefined), sleep(Math.floor(random() * 1_500))])
        if (current.url === undefined) killsDuringStart++
      } else {
        await current.ready()
        await sleep(200 + Math.floor(random() * maxUptime))
      }
      await current.kill()
      log(`kill ${k + 1}/${options.kills}: ${load.sent.length} sent, ${load.acknowledged.length} acknowledged, ${options.fake.placed().length} placed`)
    }
    // The last run: load for a moment more, then settle everything.
    current = new AppRun(env)
    await current.ready()
    await sleep(1_000)
    await load.stop()
    clearInterval(lateAnswers)
    const deadline = Date.now() + (options.settleTimeoutMs ?? 60_000)
    let open = await openOrders(current.url!)
    while (open > 0 && Date.now() < deadline) {
      await sleep(250)
      open = await openOrders(current.url!)
    }
    log(`settled: ${open} open order(s) left`)
    const code = await current.stop()
    if (code !== 0) throw new Error(`the final run exited with ${code}\n${current.lines.slice(-30).join("\n")}`)
  } finally {
    clearInterval(lateAnswers)
    await load.stop()
    await current?.kill()
  }

  const db = await Effect.runPromise(readDatabase(options.database))
  const orderPosts = options.fake.requests("/openApi/swap/v2/trade/order", "POST")
  const posts = new Map<string, number>()
  for (const p of orderPosts) {
    const cid = (p.params["clientOrderId"] ?? "").toLowerCase()
    posts.set(cid, (posts.get(cid) ?? 0) + 1)
  }
  const placed = new Map<string, { count: number; quantity: string }>()
  for (const o of options.fake.placed()) {
    const cid = o.clientOrderId ?? ""
    const seen = placed.get(cid)
    placed.set(cid, { count: (seen?.count ?? 0) + 1, quantity: o.quantity })
  }
  return {
    seed: options.seed,
    kills: options.kills,
    killsDuringStart,
    sent: load.sent.length,
    acknowledged: load.acknowledged,
    signals: db.signals,
    orders: db.orders,
    posts,
    placed,
    repeatedClientOrderIds: orderPosts.filter((p) => p.answer?.code === 101481).length,
    lookedUp: new Set(
      options.fake.requests("/openApi/swap/v2/trade/order", "GET").map((r) => r.params["clientOrderId"]).filter((c) => c !== undefined)
    ).size,
    tail: current?.lines.slice(-40) ?? []
  }
}

/** Every violated guarantee, as sentences (empty = all held). */
export const violations = (report: ChaosReport): Array<string> => {
  const out: Array<string> = []
  const signalIds = new Set(report.signals.map((s) => s.id))
  const ordersBySignal = new Map(report.orders.map((o) => [o.signal_id, o]))
  for (const a of report.acknowledged) {
    if (a.signalId === undefined || !signalIds.has(a.signalId)) {
      out.push(`acknowledged alert ${a.alertId} (HTTP ${a.status}, signal ${a.signalId}) is not in the database`)
    } else if (!ordersBySignal.has(a.signalId)) {
      out.push(`acknowledged signal ${a.signalId} has no order`)
    }
  }
  const keys = new Set(report.signals.map((s) => s.idempotency_key))
  if (keys.size !== report.signals.length) out.push("a signal was stored twice")
  for (const o of report.orders) {
    if (o.status !== "filled") {
      out.push(`order ${o.id} ${o.symbol} ended ${o.status} (${o.reason ?? "no reason"}): lost or not settled`)
      continue
    }
    const atExchange = o.client_order_id === null ? undefined : report.placed.get(o.client_order_id)
    if (atExchange === undefined) out.push(`filled order ${o.id} (${o.client_order_id}) was never placed at the exchange`)
    else if (atExchange.quantity !== o.quantity) {
      out.push(`order ${o.id}: placed ${atExchange.quantity} at the exchange, ${o.quantity} in the database`)
    }
    if (o.fills !== "1" || o.fill_quantity === null || Number(o.fill_quantity) !== Number(o.quantity)) {
      out.push(`order ${o.id}: ${o.fills} fill(s) for ${o.fill_quantity} (quantity ${o.quantity})`)
    }
  }
  for (const [cid, p] of report.placed) {
    if (p.count > 1) out.push(`clientOrderId ${cid} was placed ${p.count} times at the exchange`)
  }
  const ours = new Set(report.orders.map((o) => o.client_order_id))
  for (const cid of report.placed.keys()) {
    if (!ours.has(cid)) out.push(`the exchange has order ${cid} that no order of ours claims`)
  }
  if (report.repeatedClientOrderIds > 0) {
    out.push(`${report.repeatedClientOrderIds} order POST(s) were refused as a repeated clientOrderId (101481)`)
  }
  return out
}

/** One line about the run. */
export const summary = (r: ChaosReport): string =>
  `seed ${r.seed}: ${r.kills} kills (${r.killsDuringStart} during start-up), ${r.sent} alerts sent, ` +
  `${r.acknowledged.length} acknowledged, ${r.signals.length} signals and ${r.orders.length} orders stored, ` +
  `${r.placed.size} orders placed at the exchange (${[...r.posts.values()].reduce((a, b) => a + b, 0)} POSTs), ` +
  `${r.lookedUp} looked up by clientOrderId after a kill`
