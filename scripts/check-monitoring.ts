/**
 * Validates monitoring/ against the tools and against the app:
 *
 *   npm run check-monitoring                       # starts the app itself (temp DATA_DIR, free ports)
 *   npm run check-monitoring -- --backend http://backend.internal:8000 --bot http://bot.internal:9000
 *
 * 1. promtool check config / check rules / test rules; amtool check-config and the seed's routing;
 * 2. the dashboard: JSON, a datasource variable used by every panel, every query parses (promtool);
 * 3. otel-collector.yaml: OTLP in; Prometheus, Tempo and Loki out;
 * 4. every metric name referenced by the rules, their unit tests and the dashboard is exported by
 *    the running app (:8000/metrics and :9000/metrics; `_bucket/_sum/_count` map to histograms).
 *
 * Needs promtool and amtool (Debian: `apt-get install prometheus prometheus-alertmanager`).
 * Exit code 0 when everything passes, 1 otherwise.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseExposition, type Exposition } from "./lib/exposition.ts"
import {
  collectorProblems,
  dashboardAsRules,
  dashboardProblems,
  readDashboard,
  referencedNames,
  unexported
} from "./lib/monitoring.ts"

const root = Path.resolve(import.meta.dirname, "..")
const monitoring = Path.join(root, "monitoring")

let failures = 0
const ok = (what: string) => process.stdout.write(`  ok    ${what}\n`)
const fail = (what: string, detail?: string) => {
  failures++
  process.stdout.write(`  FAIL  ${what}\n${detail === undefined ? "" : detail.replace(/^/gm, "        ") + "\n"}`)
}
const section = (title: string) => process.stdout.write(`\n${title}\n`)

const hasTool = (tool: string) => ChildProcess.spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0

const run = (what: string, command: string, args: ReadonlyArray<string>): string | undefined => {
  const result = ChildProcess.spawnSync(command, args, { cwd: root, encoding: "utf8" })
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim()
  if (result.status === 0) {
    ok(what)
    return output
  }
  fail(what, output || String(result.error ?? `exit code ${result.status}`))
  return undefined
}

// --- arguments -----------------------------------------------------------------------------------
const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const i = args.indexOf(name)
  if (i !== -1) return args[i + 1]
  const eq = args.find((a) => a.startsWith(`${name}=`))
  return eq?.slice(name.length + 1)
}
const given = { backend: option("--backend"), bot: option("--bot") }
if ((given.backend === undefined) !== (given.bot === undefined)) {
  process.stderr.write("check-monitoring: give both --backend and --bot, or neither (the app is then started here)\n")
  process.exit(2)
}

// --- 1. Prometheus and Alertmanager ---------------------------------------------------------------
section("Prometheus rules and configuration (promtool)")
const tools = { promtool: hasTool("promtool"), amtool: hasTool("amtool") }
if (!tools.promtool) fail("promtool is not installed", "apt-get install -y prometheus   (or run .ci/monitoring.sh)")
else {
  run("promtool check config monitoring/prometheus.yaml", "promtool", ["check", "config", "monitoring/prometheus.yaml"])
  run("promtool check rules monitoring/alerting-rules.yaml", "promtool", ["check", "rules", "monitoring/alerting-rules.yaml"])
  run("promtool test rules monitoring/alerting-rules.test.yaml", "promtool", ["test", "rules", "monitoring/alerting-rules.test.yaml"])
}

section("Alertmanager configuration (amtool)")
/** The routing the original project's operators rely on: alert → receiver that must be among its receivers. */
const SEED_ROUTES: ReadonlyArray<{ labels: Record<string, string>; receiver: string }> = [
  { labels: { alertname: "TradingViewSignalBacklog", severity: "warning", team: "trading-automation" }, receiver: "trading-automation-oncall" },
  { labels: { alertname: "BingXOrderFailures", severity: "critical", team: "exchange-integration" }, receiver: "exchange-integration-team" },
  { labels: { alertname: "BotBackendReachability", severity: "critical", team: "platform" }, receiver: "platform-oncall" }
]
if (!tools.amtool) fail("amtool is not installed", "apt-get install -y prometheus-alertmanager   (or run .ci/monitoring.sh)")
else {
  if (run("amtool check-config monitoring/alertmanager.yaml", "amtool", ["check-config", "monitoring/alertmanager.yaml"]) !== undefined) {
    for (const { labels, receiver } of SEED_ROUTES) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`)
      const result = ChildProcess.spawnSync(
        "amtool",
        ["config", "routes", "test", "--config.file=monitoring/alertmanager.yaml", ...pairs],
        { cwd: root, encoding: "utf8" }
      )
      const receivers = (result.stdout ?? "").trim().split(",").map((s) => s.trim())
      if (result.status === 0 && receivers.includes(receiver)) ok(`${labels["alertname"]} → ${receiver}`)
      else fail(`${labels["alertname"]} → ${receiver}`, `routed to: ${(result.stdout ?? "").trim()}${result.stderr ?? ""}`)
    }
  }
}

// --- 2. dashboard ---------------------------------------------------------------------------------
section("Grafana dashboard")
const dashboardFile = Path.join(monitoring, "grafana", "tvtelegrambingx-overview.json")
let dashboard: ReturnType<typeof readDashboard> | undefined
try {
  dashboard = readDashboard(dashboardFile)
  ok(`grafana/tvtelegrambingx-overview.json parses (${dashboard.expressions.length} queries)`)
} catch (e) {
  fail("grafana/tvtelegrambingx-overview.json parses", String(e))
}
if (dashboard !== undefined) {
  const problems = dashboardProblems(dashboard)
  if (problems.length === 0) ok("datasource variable used by every panel")
  else fail("dashboard structure", problems.join("\n"))
  if (tools.promtool) {
    const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "check-monitoring-"))
    const file = Path.join(tmp, "dashboard-queries.yaml")
    Fs.writeFileSync(file, dashboardAsRules(dashboard))
    const result = ChildProcess.spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" })
    if (result.status === 0) ok("every dashboard query is valid PromQL (promtool)")
    else fail("every dashboard query is valid PromQL (promtool)", `${result.stdout}${result.stderr}`)
    Fs.rmSync(tmp, { recursive: true, force: true })
  }
}

// --- 3. collector ---------------------------------------------------------------------------------
section("OpenTelemetry Collector configuration")
try {
  const problems = collectorProblems(Path.join(monitoring, "otel-collector.yaml"))
  if (problems.length === 0) ok("otel-collector.yaml: OTLP in; Prometheus, Tempo, Loki out")
  else fail("otel-collector.yaml", problems.join("\n"))
} catch (e) {
  fail("otel-collector.yaml parses", String(e))
}

// --- 4. names against the running app -------------------------------------------------------------
section("Metric names against the running app")

interface Started {
  readonly backend: string
  readonly bot: string
  readonly stop: () => Promise<void>
}

/** Starts `node src/main.ts --role all` on free loopback ports with a temp DATA_DIR (embedded DB). */
const startApp = (): Promise<Started> =>
  new Promise((resolve, reject) => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "check-monitoring-data-"))
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !/^(DATABASE_|POSTGRES_|TELEMETRY_|TELEGRAM_|BINGX_|TRADING_MODE$)/.test(k)) env[k] = v
    }
    Object.assign(env, {
      ROLE: "all",
      HOST: "127.0.0.1",
      PORT: "0",
      BOT_METRICS_HOST: "127.0.0.1",
      BOT_METRICS_PORT: "0",
      BOT_METRICS_ENABLED: "true",
      DATA_DIR: dataDir,
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      TRADING_MODE: "paper",
      TELEMETRY_ENABLED: "false",
      // nothing to call out to: no Telegram token is set, and BingX points at a dead loopback port
      BINGX_BASE_URL: "http://127.0.0.1:1",
      API_TOKEN: Crypto.randomBytes(24).toString("hex"),
      TRADINGVIEW_WEBHOOK_TOKEN: Crypto.randomBytes(24).toString("hex")
    })
    const child = ChildProcess.spawn(process.execPath, ["src/main.ts", "--role", "all"], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    let buffered = ""
    const found: { backend?: string; bot?: string } = {}
    const cleanup = () => Fs.rmSync(dataDir, { recursive: true, force: true })
    const stop = () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) {
          cleanup()
          return done()
        }
        const killer = setTimeout(() => child.kill("SIGKILL"), 15_000)
        child.once("exit", () => {
          clearTimeout(killer)
          cleanup()
          done()
        })
        child.kill("SIGTERM")
      })
    const timer = setTimeout(() => {
      void stop().then(() => reject(new Error(`the app did not report its listeners within 90 s\n${stderr}`)))
    }, 90_000)
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      let newline: number
      while ((newline = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        const msg = (() => {
          try {
            return String(JSON.parse(line).msg ?? "")
          } catch {
            return line
          }
        })()
        const api = /^API listening on (https?:\/\/\S+)/.exec(msg)
        const bot = /^bot metrics exporter listening on (https?:\/\/\S+?)\/metrics/.exec(msg)
        if (api) found.backend = api[1]!
        if (bot) found.bot = bot[1]!
        if (found.backend !== undefined && found.bot !== undefined) {
          clearTimeout(timer)
          resolve({ backend: found.backend, bot: found.bot, stop })
        }
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      cleanup()
      reject(new Error(`the app exited (code ${code}) before it was ready\n${stderr}`))
    })
  })

const scrape = async (base: string): Promise<Exposition> => {
  const response = await fetch(`${base}/metrics`)
  const body = await response.text()
  if (response.status !== 200) throw new Error(`GET ${base}/metrics answered ${response.status}: ${body.slice(0, 300)}`)
  return parseExposition(body)
}

const checkNames = async () => {
  let started: Started | undefined
  try {
    let targets: { backend: string; bot: string }
    if (given.backend !== undefined && given.bot !== undefined) {
      targets = { backend: given.backend.replace(/\/+$/, ""), bot: given.bot.replace(/\/+$/, "") }
    } else {
      started = await startApp()
      targets = started
      ok(`app started: backend ${started.backend}, bot exporter ${started.bot}`)
    }
    const backend = await scrape(targets.backend)
    const bot = await scrape(targets.bot)
    ok(`scraped ${targets.backend}/metrics (${backend.families.size} families) and ${targets.bot}/metrics (${bot.families.size} families)`)
    const refs = referencedNames(monitoring)
    const missing = unexported(refs, [backend, bot])
    const distinct = new Set(refs.map((r) => r.name))
    if (missing.length === 0) ok(`all ${distinct.size} metric names referenced by rules, rule tests and dashboard are exported`)
    else {
      fail(
        "metric names referenced but not exported by the app",
        missing.map((r) => `${r.name}   (${r.where})`).join("\n")
      )
    }
  } catch (e) {
    fail("scrape the running app", e instanceof Error ? e.message : String(e))
  } finally {
    await started?.stop()
  }
}

await checkNames()

process.stdout.write(failures === 0 ? "\ncheck-monitoring: all checks passed\n" : `\ncheck-monitoring: ${failures} check(s) failed\n`)
process.exitCode = failures === 0 ? 0 : 1
