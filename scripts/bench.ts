/**
 * `npm run bench` — the performance benchmark. Unattended, about 4 minutes:
 *
 *   npm run bench                         # everything, 10 s per measurement
 *   npm run bench -- --seconds 5 --rows 200000 --only webhook,e2e
 *   npm run bench -- --profile            # the app also writes a CPU profile (bench-results/profiles)
 *
 * Options: --seconds N (per measurement, default 10), --warmup N (default 3; the end-to-end test
 * warms up twice as long: its code paths run only `rate` times a second), --rate N (signals/s
 * of the end-to-end test, default 200), --symbols N (1..8, default 4), --rows N (growth test,
 * default 1000000), --pool N (DATABASE_POOL_SIZE of app and baseline, default 10),
 * --sample-ratio R (TELEMETRY_SAMPLE_RATIO; default: unset, the production default 0.1 — the
 * webhook table also gets a c=32 row with every trace sampled, ratio 1), --only a,b (webhook, e2e,
 * resources, growth), --out FILE (default bench-results/latest.json), --profile, --node-args "…"
 * (Node/V8 flags for the app after those of `npm start`, e.g. "--max-semi-space-size=32"), --env NAME=value
 * (an app variable on top of the bench's own, repeatable: e.g. --env LOG_LEVEL=warn to see what logging costs).
 * BENCH_DATABASE_URL: a Postgres server to run on (default postgres://postgres@127.0.0.1:5432/postgres);
 * the bench creates its own fresh database there and drops it at the end.
 *
 * What runs: the app as a child process (`node <npm start flags> src/main.ts`, role all) on that database with
 * telemetry as in production (metrics on; TELEMETRY_ENABLED=true, traces/metrics/logs exported to a
 * local no-op OTLP sink), TRADING_MODE=live against a loopback fake exchange, INFO JSON logs to a
 * file; and, in the same run, the bare baseline (scripts/bench/baseline.ts: node:http + pg, the same
 * two inserts in one transaction). Every webhook body is a new alert (a unique id).
 *
 * 1. Webhook throughput, closed loop at 1, 32 and 128 connections, baseline and app alternately,
 *    tables emptied before each run.
 * 2. End-to-end: auto-trade on (MANUAL_CONFIRMATION_REQUIRED=false), a fixed signal rate, then a
 *    quarter of it; webhook sent → order request arriving at the fake exchange, plus the app's own
 *    histograms.
 * 3. Resources: RSS idle / peak under load / after load, CPU per 1,000 signals, cold start to
 *    /health on the embedded database (new DATA_DIR, existing one, existing + compile cache).
 * 4. Growth: ingest and GET /signals?limit=50 with N stored signals vs an empty table (EXPLAIN).
 * Prints the table and the targets of the issue; writes the JSON result file.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { countSignals, createBenchDatabase, emptySignals, explainList, seedSignals, withClient } from "./bench/database.ts"
import { BENCH_SYMBOLS, startFakeExchange, startOtlpSink } from "./bench/fakes.ts"
import { delta, figuresOf, type HistogramFigures, histogramsOf, type Scrape } from "./bench/histograms.ts"
import { closedLoop, type ClosedLoopResult, openLoop } from "./bench/load.ts"
import { type Child, ROOT, startApp, startBaseline, startNodeFlags } from "./bench/processes.ts"
import { cpuSeconds, type LatencySummary, request, round, rssMiB, sampleRss, sleep, summarise } from "./bench/util.ts"

// ------------------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------------------

const PHASES = ["webhook", "e2e", "resources", "growth"] as const
type Phase = (typeof PHASES)[number]

const parseOptions = (argv: ReadonlyArray<string>) => {
  const o = {
    seconds: 10,
    warmup: 3,
    rate: 200,
    symbols: 4,
    rows: 1_000_000,
    pool: 10,
    sampleRatio: undefined as string | undefined,
    only: new Set<Phase>(PHASES),
    out: Path.join(ROOT, "bench-results/latest.json"),
    profile: false,
    nodeArgs: [] as Array<string>,
    env: {} as Record<string, string>
  }
  const num = (flag: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v)
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} needs a number from ${min} to ${max}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = argv[i + 1]
    switch (flag) {
      case "--seconds":
        o.seconds = num(flag, value, 1, 600)
        i++
        break
      case "--warmup":
        o.warmup = num(flag, value, 0, 60)
        i++
        break
      case "--rate":
        o.rate = num(flag, value, 1, 10_000)
        i++
        break
      case "--symbols":
        o.symbols = num(flag, value, 1, BENCH_SYMBOLS.length)
        i++
        break
      case "--rows":
        o.rows = num(flag, value, 0, 100_000_000)
        i++
        break
      case "--pool":
        o.pool = num(flag, value, 1, 200)
        i++
        break
      case "--sample-ratio":
        num(flag, value, 0, 1)
        o.sampleRatio = value!
        i++
        break
      case "--only": {
        const wanted = (value ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0)
        const bad = wanted.filter((w) => !(PHASES as ReadonlyArray<string>).includes(w))
        if (wanted.length === 0 || bad.length > 0) throw new Error(`--only takes a list of ${PHASES.join(", ")}`)
        o.only = new Set(wanted as Array<Phase>)
        i++
        break
      }
      case "--out":
        if (value === undefined) throw new Error("--out needs a file name")
        o.out = Path.resolve(value)
        i++
        break
      case "--profile":
        o.profile = true
        break
      case "--node-args":
        if (value === undefined) throw new Error("--node-args needs a list of flags")
        o.nodeArgs = value.split(/\s+/).filter((a) => a.length > 0)
        i++
        break
      case "--env": {
        const eq = value?.indexOf("=") ?? -1
        if (value === undefined || eq < 1) throw new Error("--env needs NAME=value (e.g. --env LOG_LEVEL=warn)")
        o.env[value.slice(0, eq)] = value.slice(eq + 1)
        i++
        break
      }
      case "--help":
      case "-h":
        process.stdout.write(`${Fs.readFileSync(import.meta.filename, "utf8").split("*/")[0]}*/\n`)
        process.exit(0)
        break
      default:
        throw new Error(`unknown option ${flag} (see npm run bench -- --help)`)
    }
  }
  return o
}

let options: ReturnType<typeof parseOptions>
try {
  options = parseOptions(process.argv.slice(2))
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`)
  process.exit(2)
}

const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const resultsDir = Path.dirname(options.out)
const logsDir = Path.join(resultsDir, "logs")
const API_TOKEN = Crypto.randomBytes(16).toString("hex")
const WEBHOOK_TOKEN = Crypto.randomBytes(16).toString("hex")
const runId = Date.now().toString(36)

const log = (line: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)

const webhookBody = (symbol: string) =>
  `{"secret":"${WEBHOOK_TOKEN}","id":"bench-[<id>]","symbol":"${symbol}","action":"buy","quantity":"0.01"}`

// ------------------------------------------------------------------------------------------------
// Result shape
// ------------------------------------------------------------------------------------------------

interface WebhookRow {
  readonly connections: number
  readonly baseline: ClosedLoopResult
  readonly app: ClosedLoopResult
  readonly ratio: number
  readonly appCpuSecondsPer1000: number
  readonly baselineCpuSecondsPer1000: number
  readonly appPeakRssMiB: number
}

interface E2eRun {
  readonly rate: number
  readonly seconds: number
  readonly sent: number
  readonly answered: number
  readonly errors: number
  readonly matched: number
  readonly webhookLatencyMs: LatencySummary
  readonly signalToExchangeMs: LatencySummary
  readonly breakdown: Record<string, HistogramFigures>
  readonly appPeakRssMiB: number
  /** App CPU over the measured run per 1,000 signals (ingest + execution + PnL). */
  readonly appCpuSecondsPer1000: number
}

interface Results {
  machine: Record<string, unknown>
  options: Record<string, unknown>
  webhook: Array<WebhookRow>
  /** c=32 with TELEMETRY_SAMPLE_RATIO=1 (every trace exported), against the c=32 baseline. */
  webhookAllTraced?: { readonly app: ClosedLoopResult; readonly ratio: number; readonly appCpuSecondsPer1000: number; readonly appPeakRssMiB: number }
  e2e?: E2eRun & { readonly symbols: ReadonlyArray<string> }
  /** The end-to-end run again at a quarter of `rate`. */
  e2eQuarter?: E2eRun
  resources: {
    idleRssMiB?: number | undefined
    peakRssMiB?: number | undefined
    afterLoadRssMiB?: number | undefined
    cpuSecondsPer1000Signals?: number | undefined
    baselineCpuSecondsPer1000Signals?: number | undefined
    coldStartFreshMs?: number | undefined
    coldStartExistingMs?: number | undefined
    coldStartCachedMs?: number | undefined
  }
  growth?: {
    readonly rows: number
    readonly seedSeconds: number
    readonly ingestEmpty: ClosedLoopResult
    readonly ingestFull: ClosedLoopResult
    readonly ingestRatio: number
    readonly listEmpty: ClosedLoopResult
    readonly listFull: ClosedLoopResult
    readonly plan: ReadonlyArray<string>
    readonly planUsesIndex: boolean
  }
  targets: Array<{ readonly target: string; readonly value: string; readonly met: boolean | undefined }>
  durationSeconds: number
}

const results: Results = {
  machine: {},
  options: { ...options, only: [...options.only] },
  webhook: [],
  resources: {},
  targets: [],
  durationSeconds: 0
}

// ------------------------------------------------------------------------------------------------
// Pieces
// ------------------------------------------------------------------------------------------------

const scrape = async (app: Child, splitBy: Readonly<Record<string, string>> = {}): Promise<Scrape> => {
  const answer = await request(`${app.url}/metrics`)
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`)
  return histogramsOf(answer.body, splitBy)
}

const setSettings = async (app: Child, patch: Record<string, boolean>) => {
  const answer = await request(`${app.url}/bot/settings`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_TOKEN}` },
    body: JSON.stringify(patch)
  })
  if (answer.status !== 200) throw new Error(`POST /bot/settings answered ${answer.status}: ${answer.body}`)
}

const webhookRun = (target: Child, connections: number, seconds: number) =>
  closedLoop({
    url: `${target.url}/webhook/tradingview`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: webhookBody("BTCUSDT"),
    connections,
    seconds
  })

/** A measured run with CPU and peak RSS of `target` over it. */
const measured = async <A>(target: Child, run: () => Promise<A>) => {
  const cpuBefore = cpuSeconds(target.pid) ?? 0
  const rss = sampleRss(target.pid)
  const result = await run()
  const peak = rss.stop()
  const cpu = (cpuSeconds(target.pid) ?? 0) - cpuBefore
  return { result, cpu, peak }
}

const appEnv = (databaseUrl: string | undefined, otlpUrl: string, exchangeUrl: string, dataDir?: string): Record<string, string> => ({
  ROLE: "all",
  ENVIRONMENT: "bench",
  LOG_LEVEL: "info",
  LOG_FORMAT: "json",
  ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: String(options.pool) }),
  ...(dataDir === undefined ? {} : { DATA_DIR: dataDir }),
  API_TOKEN,
  TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
  // One client address sends everything here: the per-address limit is set out of the way (but on).
  WEBHOOK_RATE_LIMIT_PER_MINUTE: "1000000",
  TELEMETRY_ENABLED: "true",
  TELEMETRY_OTLP_ENDPOINT: otlpUrl,
  ...(options.sampleRatio === undefined ? {} : { TELEMETRY_SAMPLE_RATIO: options.sampleRatio }),
  TRADING_MODE: "live",
  BINGX_BASE_URL: exchangeUrl,
  BINGX_API_KEY: "bench-key",
  BINGX_API_SECRET: "bench-secret",
  BINGX_USER_STREAM_ENABLED: "false",
  AUTO_TRADE_ENABLED: "false",
  MANUAL_CONFIRMATION_REQUIRED: "false",
  ...options.env
})

// ------------------------------------------------------------------------------------------------
// Phases
// ------------------------------------------------------------------------------------------------

const phaseWebhook = async (app: Child, baseline: Child, databaseUrl: string) => {
  log(`1. webhook throughput: ${options.seconds} s per run, baseline and app alternately`)
  for (const connections of [1, 32, 128]) {
    const runs: Record<string, { result: ClosedLoopResult; cpu: number; peak: number }> = {}
    for (const target of [baseline, app]) {
      await emptySignals(databaseUrl)
      if (options.warmup > 0) await webhookRun(target, connections, options.warmup)
      await emptySignals(databaseUrl)
      const run = await measured(target, () => webhookRun(target, connections, options.seconds))
      runs[target.name] = run
      const stored = await countSignals(databaseUrl)
      const r = run.result
      log(
        `   c=${String(connections).padStart(3)} ${target.name.padEnd(8)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.latencyMs.p50.toFixed(2)} ms` +
          `  p99 ${r.latencyMs.p99.toFixed(2)} ms  max ${r.latencyMs.max.toFixed(1)} ms  errors ${r.errors}  stored ${stored}` +
          ` ${JSON.stringify(r.statuses)}`
      )
    }
    const a = runs.app!
    const b = runs.baseline!
    results.webhook.push({
      connections,
      baseline: b.result,
      app: a.result,
      ratio: a.result.rps / b.result.rps,
      appCpuSecondsPer1000: (a.cpu / a.result.requests) * 1000,
      baselineCpuSecondsPer1000: (b.cpu / b.result.requests) * 1000,
      appPeakRssMiB: a.peak
    })
  }
  const c32 = results.webhook.find((w) => w.connections === 32)
  if (c32 !== undefined) {
    results.resources.cpuSecondsPer1000Signals = c32.appCpuSecondsPer1000
    results.resources.baselineCpuSecondsPer1000Signals = c32.baselineCpuSecondsPer1000
  }
}

/** The webhook at c=32 with every trace sampled and exported (TELEMETRY_SAMPLE_RATIO=1). */
const phaseAllTraced = async (databaseUrl: string, otlpUrl: string, exchangeUrl: string) => {
  const c32 = results.webhook.find((w) => w.connections === 32)
  if (c32 === undefined) return
  log("1b. webhook c=32 with TELEMETRY_SAMPLE_RATIO=1 (every trace exported)")
  const app = await startApp({
    env: { ...appEnv(databaseUrl, otlpUrl, exchangeUrl), TELEMETRY_SAMPLE_RATIO: "1" },
    logFile: Path.join(logsDir, "app-all-traced.log"),
    nodeArgs: options.nodeArgs
  })
  try {
    await emptySignals(databaseUrl)
    if (options.warmup > 0) await webhookRun(app, 32, options.warmup)
    await emptySignals(databaseUrl)
    const run = await measured(app, () => webhookRun(app, 32, options.seconds))
    const r = run.result
    results.webhookAllTraced = {
      app: r,
      ratio: r.rps / c32.baseline.rps,
      appCpuSecondsPer1000: (run.cpu / r.requests) * 1000,
      appPeakRssMiB: run.peak
    }
    log(
      `   c= 32 app (ratio 1) ${r.rps.toFixed(0)} req/s  p50 ${r.latencyMs.p50.toFixed(2)} ms  p99 ${r.latencyMs.p99.toFixed(2)} ms` +
        `  errors ${r.errors}  (${results.webhookAllTraced.ratio.toFixed(2)} × the c=32 baseline)`
    )
  } finally {
    await app.stop()
  }
}

/** One end-to-end run at `rate`: what each signal took from webhook to the exchange, and the app's own histograms. */
const e2eRun = async (app: Child, exchange: Awaited<ReturnType<typeof startFakeExchange>>, rate: number, bodyOf: (i: number) => string) => {
  const split = { tvtelegrambingx_exchange_request_duration_seconds: "endpoint" }
  const before = await scrape(app, split)
  const cpuBefore = cpuSeconds(app.pid) ?? 0
  const rss = sampleRss(app.pid)
  const sent = await openLoop({
    url: `${app.url}/webhook/tradingview`,
    rate,
    seconds: options.seconds,
    bodyOf,
    settleMs: 10_000
  })
  // Orders still in flight reach the exchange shortly after their webhook answer.
  const orderIds = sent.map((r) => (r.status === 201 && r.body !== undefined ? (JSON.parse(r.body) as { order_id?: string }).order_id : undefined))
  const deadline = performance.now() + 10_000
  while (performance.now() < deadline && orderIds.some((id) => id !== undefined && !exchange.orderArrivals.has(id))) await sleep(50)
  await sleep(500)
  const peak = rss.stop()
  const cpu = (cpuSeconds(app.pid) ?? 0) - cpuBefore
  const after = await scrape(app, split)

  const d = delta(before, after)
  const webhookLatency: Array<number> = []
  const endToEnd: Array<number> = []
  let errors = 0
  sent.forEach((r, idx) => {
    if (r.answeredAt !== undefined) webhookLatency.push(r.answeredAt - r.sentAt)
    if (r.status !== 201) errors++
    const id = orderIds[idx]
    const arrived = id === undefined ? undefined : exchange.orderArrivals.get(id)
    if (arrived !== undefined) endToEnd.push(arrived - r.sentAt)
  })
  const breakdown: Record<string, HistogramFigures> = {
    "ingest (tradingview_signal_ingest_duration_seconds)": figuresOf(d.get("tradingview_signal_ingest_duration_seconds")),
    "queue wait (tvtelegrambingx_signal_queue_wait_seconds)": figuresOf(d.get("tvtelegrambingx_signal_queue_wait_seconds")),
    "exchange: price (…exchange_request_duration_seconds)": figuresOf(
      d.get("tvtelegrambingx_exchange_request_duration_seconds{endpoint=/openApi/swap/v2/quote/price}")
    ),
    "exchange: order (…exchange_request_duration_seconds)": figuresOf(
      d.get("tvtelegrambingx_exchange_request_duration_seconds{endpoint=/openApi/swap/v2/trade/order}")
    ),
    "order submit (tvtelegrambingx_order_submit_duration_seconds)": figuresOf(d.get("tvtelegrambingx_order_submit_duration_seconds"))
  }
  return {
    rate,
    seconds: options.seconds,
    sent: sent.length,
    answered: webhookLatency.length,
    errors,
    matched: endToEnd.length,
    webhookLatencyMs: summarise(webhookLatency),
    signalToExchangeMs: summarise(endToEnd),
    breakdown,
    appPeakRssMiB: peak,
    appCpuSecondsPer1000: (cpu / sent.length) * 1000
  }
}

const logE2e = (e: E2eRun) =>
  log(
    `   ${e.rate}/s: sent ${e.sent}, errors ${e.errors}, orders at the exchange ${e.matched}; webhook p50 ${e.webhookLatencyMs.p50.toFixed(2)} ms` +
      ` p99 ${e.webhookLatencyMs.p99.toFixed(2)} ms; signal → exchange p50 ${e.signalToExchangeMs.p50.toFixed(2)} ms` +
      ` p99 ${e.signalToExchangeMs.p99.toFixed(2)} ms max ${e.signalToExchangeMs.max.toFixed(1)} ms; app CPU ${e.appCpuSecondsPer1000.toFixed(2)} s per 1,000 signals`
  )

const phaseE2e = async (app: Child, exchange: Awaited<ReturnType<typeof startFakeExchange>>, databaseUrl: string) => {
  const symbols = BENCH_SYMBOLS.slice(0, options.symbols)
  const quarter = Math.max(1, Math.round(options.rate / 4))
  log(`2. end to end: ${options.rate} then ${quarter} signals/s for ${options.seconds} s each over ${symbols.join(", ")}, auto-trade on`)
  await emptySignals(databaseUrl)
  await setSettings(app, { auto_trade_enabled: true, manual_confirmation_required: false })
  const bodyOf = (prefix: string) => (i: number) =>
    `{"secret":"${WEBHOOK_TOKEN}","id":"${prefix}-${runId}-${i}","symbol":"${symbols[i % symbols.length]!.replace("-", "")}",` +
    `"action":"${i % 2 === 0 ? "buy" : "sell"}","quantity":"0.01"}`
  // Warm-up: first orders per symbol fetch contracts, position mode, margin type and leverage.
  await openLoop({
    url: `${app.url}/webhook/tradingview`,
    rate: options.rate,
    seconds: Math.max(1, options.warmup * 2),
    bodyOf: bodyOf("warm"),
    settleMs: 5_000
  })
  await sleep(1_000)
  results.e2e = { ...(await e2eRun(app, exchange, options.rate, bodyOf("e2e"))), symbols }
  logE2e(results.e2e)
  // The same at a quarter of the rate: what an order waits when the per-symbol workers keep up.
  await sleep(1_000)
  results.e2eQuarter = await e2eRun(app, exchange, quarter, bodyOf("e2e-quarter"))
  logE2e(results.e2eQuarter)
  await setSettings(app, { auto_trade_enabled: false })
}

const phaseGrowth = async (app: Child, databaseUrl: string) => {
  log(`4. growth: ${options.rows.toLocaleString("en")} stored signals vs an empty table`)
  const list = () =>
    closedLoop({
      url: `${app.url}/signals?limit=50`,
      headers: { authorization: `Bearer ${API_TOKEN}` },
      connections: 1,
      seconds: Math.max(3, Math.round(options.seconds / 2))
    })
  await emptySignals(databaseUrl)
  const listEmpty = await list()
  if (options.warmup > 0) await webhookRun(app, 32, options.warmup)
  await emptySignals(databaseUrl)
  const ingestEmpty = await webhookRun(app, 32, options.seconds)
  log(`   empty table: ingest ${ingestEmpty.rps.toFixed(0)} req/s (p99 ${ingestEmpty.latencyMs.p99.toFixed(2)} ms); GET /signals p99 ${listEmpty.latencyMs.p99.toFixed(2)} ms`)
  await emptySignals(databaseUrl)
  log(`   seeding ${options.rows.toLocaleString("en")} signals + orders …`)
  const seedSeconds = await seedSignals(databaseUrl, options.rows)
  log(`   seeded in ${seedSeconds.toFixed(1)} s`)
  const plan = await explainList(databaseUrl)
  if (options.warmup > 0) await webhookRun(app, 32, options.warmup)
  const ingestFull = await webhookRun(app, 32, options.seconds)
  const listFull = await list()
  const planUsesIndex = plan.some((l) => /Index Scan.*signals_received_idx/.test(l)) && !plan.some((l) => /Seq Scan on signals/.test(l))
  results.growth = {
    rows: options.rows,
    seedSeconds,
    ingestEmpty,
    ingestFull,
    ingestRatio: ingestFull.rps / ingestEmpty.rps,
    listEmpty,
    listFull,
    plan,
    planUsesIndex
  }
  log(
    `   ${options.rows.toLocaleString("en")} rows: ingest ${ingestFull.rps.toFixed(0)} req/s (p99 ${ingestFull.latencyMs.p99.toFixed(2)} ms);` +
      ` GET /signals p50 ${listFull.latencyMs.p50.toFixed(2)} ms p99 ${listFull.latencyMs.p99.toFixed(2)} ms; plan uses signals_received_idx: ${planUsesIndex}`
  )
}

/**
 * Spawn → first `GET /health` 200 of `node src/main.ts` on the embedded database: a new DATA_DIR
 * (PGlite runs initdb), the same DATA_DIR again, and again with Node's compile cache warm
 * (NODE_COMPILE_CACHE, as the Docker image sets it).
 */
const coldStart = async (otlpUrl: string, exchangeUrl: string) => {
  log("3. cold start to GET /health 200 on the embedded database (PGlite)")
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-bench-data-"))
  try {
    const env = appEnv(undefined, otlpUrl, exchangeUrl, Path.join(dir, "data"))
    const cached = { ...env, NODE_COMPILE_CACHE: Path.join(dir, "compile-cache") }
    const start = async (name: string, e: Record<string, string>) => {
      const app = await startApp({ env: e, logFile: Path.join(logsDir, `app-cold-${name}.log`), timeoutMs: 120_000, nodeArgs: options.nodeArgs })
      await app.stop()
      return app.startMs
    }
    const fresh = await start("fresh", cached)
    const existing = await start("existing", env)
    const warm = await start("cached", cached)
    Object.assign(results.resources, { coldStartFreshMs: fresh, coldStartExistingMs: existing, coldStartCachedMs: warm })
    log(
      `   fresh DATA_DIR ${(fresh / 1000).toFixed(2)} s, existing ${(existing / 1000).toFixed(2)} s,` +
        ` existing + compile cache ${(warm / 1000).toFixed(2)} s`
    )
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------------------

const ms = (n: number | undefined, digits = 2) => (n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(digits))

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n")
}

const evaluateTargets = () => {
  const t = results.targets
  const c32 = results.webhook.find((w) => w.connections === 32)
  if (c32 !== undefined) {
    t.push({ target: "webhook c=32 throughput ≥ 0.75 × baseline", value: `${c32.ratio.toFixed(2)} ×`, met: c32.ratio >= 0.75 })
    t.push({ target: "webhook c=32 p99 ≤ 50 ms", value: `${ms(c32.app.latencyMs.p99)} ms`, met: c32.app.latencyMs.p99 <= 50 })
    const errors = results.webhook.reduce((n, w) => n + w.app.errors, 0)
    t.push({ target: "webhook: zero errors (c=1, 32, 128)", value: String(errors), met: errors === 0 })
  }
  if (results.e2e !== undefined) {
    const p99 = results.e2e.signalToExchangeMs.p99
    const complete = results.e2e.matched === results.e2e.sent && results.e2e.errors === 0
    t.push({
      target: `signal → exchange request p99 ≤ 15 ms at ${results.e2e.rate}/s`,
      value: `${ms(p99)} ms (${results.e2e.matched}/${results.e2e.sent} orders)`,
      met: p99 <= 15 && complete
    })
  }
  if (results.e2eQuarter !== undefined) {
    const q = results.e2eQuarter
    t.push({
      target: `(for reference) signal → exchange request p99 at ${q.rate}/s`,
      value: `${ms(q.signalToExchangeMs.p99)} ms (${q.matched}/${q.sent} orders)`,
      met: undefined
    })
  }
  const r = results.resources
  if (r.idleRssMiB !== undefined) t.push({ target: "RSS idle ≤ 150 MiB", value: `${ms(r.idleRssMiB, 0)} MiB`, met: r.idleRssMiB <= 150 })
  if (r.peakRssMiB !== undefined) t.push({ target: "RSS under load ≤ 300 MiB", value: `${ms(r.peakRssMiB, 0)} MiB`, met: r.peakRssMiB <= 300 })
  if (r.coldStartExistingMs !== undefined) {
    t.push({
      target: "cold start ≤ 3 s (embedded database, existing DATA_DIR)",
      value: `${ms(r.coldStartExistingMs / 1000)} s (${ms((r.coldStartCachedMs ?? Number.NaN) / 1000)} s with compile cache)`,
      met: r.coldStartExistingMs <= 3_000
    })
  }
  if (r.coldStartFreshMs !== undefined) {
    t.push({
      target: "first start ≤ 3 s (new DATA_DIR: PGlite initdb)",
      value: `${ms(r.coldStartFreshMs / 1000)} s`,
      met: r.coldStartFreshMs <= 3_000
    })
  }
  const g = results.growth
  if (g !== undefined) {
    t.push({ target: `ingest with ${g.rows.toLocaleString("en")} signals ≥ 0.9 × empty`, value: `${g.ingestRatio.toFixed(2)} ×`, met: g.ingestRatio >= 0.9 })
    t.push({
      target: `GET /signals?limit=50 p99 ≤ 20 ms with ${g.rows.toLocaleString("en")} signals`,
      value: `${ms(g.listFull.latencyMs.p99)} ms`,
      met: g.listFull.latencyMs.p99 <= 20
    })
  }
}

const report = (): string => {
  const out: Array<string> = []
  const m = results.machine
  out.push(
    `tvtelegrambingx benchmark, ${m.date}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, load average before ${m.loadAverage}; ` +
      `Node ${m.node} (app: ${[...startNodeFlags(), ...options.nodeArgs].join(" ") || "no flags"}); ${m.postgres}; pool ${options.pool}; telemetry on (sample ratio ${options.sampleRatio ?? "0.1, the default"}); ${options.seconds} s per run`
  )
  if (results.webhook.length > 0) {
    out.push("", "1. POST /webhook/tradingview, closed loop, a new alert per request (latencies in ms)")
    const rows: Array<Array<string>> = []
    for (const w of results.webhook) {
      for (const [name, r] of [["baseline", w.baseline], ["app", w.app]] as const) {
        rows.push([
          `c=${w.connections} ${name}`,
          r.rps.toFixed(0),
          ms(r.latencyMs.p50),
          ms(r.latencyMs.p99),
          ms(r.latencyMs.max, 1),
          String(r.errors),
          name === "app" ? `${w.ratio.toFixed(2)} ×` : "",
          ms(name === "app" ? w.appCpuSecondsPer1000 : w.baselineCpuSecondsPer1000, 2)
        ])
      }
    }
    const all = results.webhookAllTraced
    if (all !== undefined) {
      rows.push([
        "c=32 app, every trace",
        all.app.rps.toFixed(0),
        ms(all.app.latencyMs.p50),
        ms(all.app.latencyMs.p99),
        ms(all.app.latencyMs.max, 1),
        String(all.app.errors),
        `${all.ratio.toFixed(2)} ×`,
        ms(all.appCpuSecondsPer1000, 2)
      ])
    }
    out.push(table(["run", "req/s", "p50", "p99", "max", "errors", "app/baseline", "CPU s/1000"], rows))
  }
  // One row of an end-to-end table: a measured latency, or an app histogram (~ = interpolated).
  const latencyRow = (label: string, l: LatencySummary) => [label, ms(l.mean), ms(l.p50), ms(l.p99), ms(l.max, 1)]
  const histogramRow = (label: string, f: HistogramFigures) => [`${label} [${f.count}]`, ms(f.meanMs), `~${ms(f.p50Ms)}`, `~${ms(f.p99Ms)}`, ""]
  const e = results.e2e
  if (e !== undefined) {
    out.push(
      "",
      `2. End to end at ${e.rate} signals/s for ${e.seconds} s (auto-trade, ${e.symbols.length} symbols, fake exchange): ` +
        `${e.sent} sent, ${e.errors} errors, ${e.matched} orders at the exchange; app CPU ${e.appCpuSecondsPer1000.toFixed(2)} s per 1,000 signals`
    )
    out.push(table(["measure (ms)", "mean", "p50", "p99", "max"], [
      latencyRow("webhook answer", e.webhookLatencyMs),
      latencyRow("signal sent → order request at exchange", e.signalToExchangeMs),
      ...Object.entries(e.breakdown).map(([k, f]) => histogramRow(k, f))
    ]))
    const q = results.e2eQuarter
    if (q !== undefined) {
      out.push(`   At ${q.rate} signals/s: ${q.sent} sent, ${q.errors} errors, ${q.matched} orders at the exchange; app CPU ${q.appCpuSecondsPer1000.toFixed(2)} s per 1,000 signals`)
      const queue = Object.entries(q.breakdown).find(([k]) => k.startsWith("queue wait"))?.[1]
      out.push(table(["measure (ms)", "mean", "p50", "p99", "max"], [
        latencyRow("webhook answer", q.webhookLatencyMs),
        latencyRow("signal sent → order request at exchange", q.signalToExchangeMs),
        ...(queue === undefined ? [] : [histogramRow("queue wait", queue)])
      ]))
    }
    out.push("   (~ = interpolated within the app's histogram buckets: 1, 2.5, 5, 10, 25 ms …)")
  }
  const r = results.resources
  out.push("", "3. Resources")
  out.push(table(["figure", "value"], [
    ["RSS idle (after start)", r.idleRssMiB === undefined ? "–" : `${ms(r.idleRssMiB, 0)} MiB`],
    ["RSS peak under load", r.peakRssMiB === undefined ? "–" : `${ms(r.peakRssMiB, 0)} MiB`],
    ["RSS idle after load", r.afterLoadRssMiB === undefined ? "–" : `${ms(r.afterLoadRssMiB, 0)} MiB`],
    ["CPU per 1,000 signals (app, c=32)", r.cpuSecondsPer1000Signals === undefined ? "–" : `${ms(r.cpuSecondsPer1000Signals)} s`],
    ["CPU per 1,000 signals (baseline, c=32)", r.baselineCpuSecondsPer1000Signals === undefined ? "–" : `${ms(r.baselineCpuSecondsPer1000Signals)} s`],
    ["cold start to /health, fresh DATA_DIR", r.coldStartFreshMs === undefined ? "–" : `${ms(r.coldStartFreshMs / 1000)} s`],
    ["cold start to /health, existing DATA_DIR", r.coldStartExistingMs === undefined ? "–" : `${ms(r.coldStartExistingMs / 1000)} s`],
    ["… with the compile cache warm (NODE_COMPILE_CACHE)", r.coldStartCachedMs === undefined ? "–" : `${ms(r.coldStartCachedMs / 1000)} s`]
  ]))
  const g = results.growth
  if (g !== undefined) {
    out.push("", `4. Growth: ${g.rows.toLocaleString("en")} stored signals (seeded in ${g.seedSeconds.toFixed(1)} s) vs an empty table`)
    out.push(table(["measure", "empty", `${g.rows.toLocaleString("en")} rows`, "ratio"], [
      ["ingest c=32 req/s", g.ingestEmpty.rps.toFixed(0), g.ingestFull.rps.toFixed(0), `${g.ingestRatio.toFixed(2)} ×`],
      ["ingest c=32 p99 ms", ms(g.ingestEmpty.latencyMs.p99), ms(g.ingestFull.latencyMs.p99), ""],
      ["GET /signals?limit=50 c=1 p50 ms", ms(g.listEmpty.latencyMs.p50), ms(g.listFull.latencyMs.p50), ""],
      ["GET /signals?limit=50 c=1 p99 ms", ms(g.listEmpty.latencyMs.p99), ms(g.listFull.latencyMs.p99), ""],
      ["GET /signals errors", String(g.listEmpty.errors), String(g.listFull.errors), ""]
    ]))
    out.push(`   plan uses signals_received_idx (no Seq Scan): ${g.planUsesIndex ? "yes" : "NO"}`)
  }
  if (results.targets.length > 0) {
    out.push("", "Targets")
    out.push(table(["target", "measured", "met"], results.targets.map((t) => [t.target, t.value, t.met === undefined ? "–" : t.met ? "yes" : "NO"])))
  }
  out.push("", `${results.durationSeconds.toFixed(0)} s in total; JSON: ${Path.relative(process.cwd(), options.out)}`)
  return out.join("\n")
}

// ------------------------------------------------------------------------------------------------
// Main
// ------------------------------------------------------------------------------------------------

const main = async () => {
  const started = performance.now()
  Fs.mkdirSync(logsDir, { recursive: true })
  const cleanup: Array<() => Promise<unknown>> = []
  const runCleanup = async () => {
    for (const f of cleanup.splice(0).reverse()) {
      try {
        await f()
      } catch (e) {
        process.stderr.write(`bench: cleanup: ${(e as Error).message}\n`)
      }
    }
  }
  process.once("SIGINT", () => void runCleanup().then(() => process.exit(130)))
  try {
    const sink = await startOtlpSink()
    cleanup.push(sink.close)
    const exchange = await startFakeExchange()
    cleanup.push(exchange.close)
    const db = await createBenchDatabase(serverUrl)
    cleanup.push(db.drop)
    const postgres = await withClient(db.url, async (c) => (await c.query<{ v: string }>("SELECT version() AS v")).rows[0]!.v)
    results.machine = {
      date: new Date().toISOString(),
      cpus: Os.cpus().length,
      cpuModel: Os.cpus()[0]?.model ?? "unknown",
      memoryGiB: round(Os.totalmem() / 2 ** 30, 1),
      loadAverage: Os.loadavg().map((l) => l.toFixed(2)).join(" "),
      node: process.version,
      appNodeFlags: [...startNodeFlags(), ...options.nodeArgs],
      postgres: postgres.split(" on ")[0],
      database: db.name
    }
    log(`database ${db.name}; OTLP sink ${sink.url}; fake exchange ${exchange.url}`)

    const needsServer = options.only.has("webhook") || options.only.has("e2e") || options.only.has("growth") || options.only.has("resources")
    if (needsServer) {
      const profileDir = Path.join(resultsDir, "profiles")
      const app = await startApp({
        env: appEnv(db.url, sink.url, exchange.url),
        logFile: Path.join(logsDir, "app.log"),
        nodeArgs: [...options.nodeArgs, ...(options.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])]
      })
      cleanup.push(app.stop)
      log(`app pid ${app.pid} on ${app.url} (up in ${(app.startMs / 1000).toFixed(2)} s)`)
      await sleep(3_000)
      results.resources.idleRssMiB = rssMiB(app.pid)
      log(`   RSS idle ${ms(results.resources.idleRssMiB, 0)} MiB`)

      if (options.only.has("webhook")) {
        const baseline = await startBaseline({ databaseUrl: db.url, poolSize: options.pool, token: WEBHOOK_TOKEN, logFile: Path.join(logsDir, "baseline.log") })
        cleanup.push(baseline.stop)
        await phaseWebhook(app, baseline, db.url)
        await baseline.stop()
      }
      if (options.only.has("e2e")) await phaseE2e(app, exchange, db.url)
      const peaks = [...results.webhook.map((w) => w.appPeakRssMiB), results.e2e?.appPeakRssMiB ?? 0]
      if (peaks.some((p) => p > 0)) results.resources.peakRssMiB = Math.max(...peaks)
      if (options.only.has("webhook") || options.only.has("e2e")) {
        await sleep(5_000)
        results.resources.afterLoadRssMiB = rssMiB(app.pid)
      }
      if (options.only.has("growth")) await phaseGrowth(app, db.url)
      await app.stop()
      if (options.profile) log(`CPU profile written to ${Path.relative(process.cwd(), profileDir)}`)
      if (options.only.has("webhook") && options.sampleRatio !== "1") await phaseAllTraced(db.url, sink.url, exchange.url)
    }
    if (options.only.has("resources")) await coldStart(sink.url, exchange.url)
    log(`OTLP sink received ${sink.received.requests} exports (${(sink.received.bytes / 2 ** 20).toFixed(1)} MiB): ${JSON.stringify(sink.received.bySignal)}`)
  } finally {
    await runCleanup()
  }
  results.durationSeconds = (performance.now() - started) / 1000
  evaluateTargets()
  Fs.mkdirSync(resultsDir, { recursive: true })
  Fs.writeFileSync(options.out, JSON.stringify(results, null, 2) + "\n")
  process.stdout.write(`\n${report()}\n`)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exit(1)
  }
)
