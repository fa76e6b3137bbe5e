import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type ChildProcessApp, runChildProcessToExit, startChildProcessApp } from "../support/childProcessApp.ts"

const dirs: Array<string> = []
const tmp = () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-e2e-"))
  dirs.push(dir)
  return dir
}
let running: ChildProcessApp | undefined
afterEach(async () => {
  if (running) await running.stop("SIGKILL").catch(() => undefined)
  running = undefined
  for (const d of dirs.splice(0)) Fs.rmSync(d, { recursive: true, force: true })
})

describe("the real process (npm start)", () => {
  it("starts on the embedded database, answers /health, and exits 0 on SIGTERM", async () => {
    const dataDir = tmp()
    running = await startChildProcessApp({ env: { DATA_DIR: dataDir, LOG_LEVEL: "info" } })
    const health = await fetch(`${running.apiUrl}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: "ok" })
    expect((await fetch(`${running.botMetricsUrl}/metrics`)).status).toBe(200)
    // First start generates the tokens and prints each once, outside the JSON log.
    const out = running.stdout.join("\n")
    expect(out).toMatch(/\*\*\* API_TOKEN=\S{40,}/)
    expect(out).toMatch(/\*\*\* TRADINGVIEW_WEBHOOK_TOKEN=\S{40,}/)
    // Log lines are JSON objects with ts/level/msg (the one-time banners above are plain text).
    const logLines = running.stdout.filter((l) => l.startsWith('{"ts":'))
    expect(logLines.length).toBeGreaterThan(2)
    for (const line of logLines) expect(Object.keys(JSON.parse(line))).toEqual(expect.arrayContaining(["ts", "level", "msg"]))
    const code = await running.stop("SIGTERM")
    expect(code).toBe(0)
    running = undefined
    // The pid lock is released on a clean stop.
    expect(Fs.existsSync(Path.join(dataDir, "tvtelegrambingx.pid"))).toBe(false)

    // Second start: tokens come from the database and are not printed again.
    running = await startChildProcessApp({ env: { DATA_DIR: dataDir } })
    expect(running.stdout.join("\n")).not.toContain("*** API_TOKEN=")
    expect(await running.stop("SIGINT")).toBe(0)
    running = undefined
  }, 90_000)

  it("a bad configuration value stops start-up with one line and exit code 1", async () => {
    const result = await runChildProcessToExit({ DATA_DIR: tmp(), DEFAULT_LEVERAGE: "500", TELEGRAM_BOT_TOKEN: "123:secret-value" })
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toBe(
      "tvtelegrambingx: configuration error: DEFAULT_LEVERAGE: 500 is out of range (1..125) (example: DEFAULT_LEVERAGE=5)"
    )
    expect(result.stdout + result.stderr).not.toContain("secret-value")
  })

  it("rejects an unknown command-line argument with usage (exit 2)", async () => {
    const result = await runChildProcessToExit({ DATA_DIR: tmp() }, ["--rol", "api"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('unknown argument "--rol"')
    expect(result.stderr).toContain("usage: npm start -- [--role all|api|bot]")
  })

  it("--role bot starts only the :9000 exporter", async () => {
    running = await startChildProcessApp({ env: { DATA_DIR: tmp() }, args: ["--role", "bot"] })
    expect(running.apiUrl).toBeUndefined()
    expect((await fetch(`${running.botMetricsUrl}/health`)).status).toBe(200)
    expect(await running.stop()).toBe(0)
    running = undefined
  }, 60_000)
})
