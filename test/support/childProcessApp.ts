/**
 * The one child-process starter: the real service as its own process (what `npm start` runs:
 * `node src/main.ts`), on 127.0.0.1 with ports chosen by the OS; its JSON log lines tell where it
 * listens. For start-up, signals, exit codes, memory limits and crashes; for everything else the
 * in-process app (inProcessApp.ts) is faster and lets the test read the app's services.
 * - `startChildProcessApp`: started and listening (a promise); `stop` sends a signal, SIGKILL if it hangs;
 * - `childProcessApp`: the same in an Effect scope, stopped with the scope;
 * - `runChildProcessToExit`: runs the CLI to its end (start-up errors, `--help`).
 * The child gets only PATH, HOME and what the test gives (no variable of this process leaks in).
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"

export const MAIN = Path.resolve(import.meta.dirname, "../../src/main.ts")

export interface ChildProcessApp {
  readonly child: ChildProcess
  /** Every stdout line so far. */
  readonly stdout: Array<string>
  readonly stderr: Array<string>
  /** http://127.0.0.1:port of :8000 (undefined for --role bot). */
  readonly apiUrl: string | undefined
  readonly botMetricsUrl: string | undefined
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  readonly stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>
  readonly exited: Promise<number | null>
}

export interface ChildProcessOptions {
  readonly env: Readonly<Record<string, string>>
  readonly args?: ReadonlyArray<string>
  /** Resolve once these listeners are up (default: depends on --role / ROLE). */
  readonly waitFor?: ReadonlyArray<"api" | "bot">
  readonly timeoutMs?: number
  readonly cwd?: string
}

const API_RE = /API listening on (https?:\/\/[^\s]+) /
const BOT_RE = /bot metrics exporter listening on (https?:\/\/[^\s]+)\/metrics/

export const startChildProcessApp = (options: ChildProcessOptions): Promise<ChildProcessApp> =>
  new Promise((resolve, reject) => {
    const role = (() => {
      const args = options.args ?? []
      const i = args.indexOf("--role")
      return i >= 0 ? args[i + 1] : options.env.ROLE ?? "all"
    })()
    const waitFor = options.waitFor ?? (role === "api" ? ["api"] : role === "bot" ? ["bot"] : ["api", "bot"])
    const child = spawn(process.execPath, [MAIN, ...(options.args ?? [])], {
      cwd: options.cwd ?? Path.resolve(import.meta.dirname, "../.."),
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        HOST: "127.0.0.1",
        BOT_METRICS_HOST: "127.0.0.1",
        PORT: "0",
        BOT_METRICS_PORT: "0",
        ...options.env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    let apiUrl: string | undefined
    let botMetricsUrl: string | undefined
    const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`app did not start within ${options.timeoutMs ?? 60_000} ms\n${stdout.join("\n")}\n${stderr.join("\n")}`))
    }, options.timeoutMs ?? 60_000)
    const ready = () => waitFor.every((w) => (w === "api" ? apiUrl : botMetricsUrl) !== undefined)
    const app: ChildProcessApp = {
      child,
      stdout,
      stderr,
      get apiUrl() {
        return apiUrl
      },
      get botMetricsUrl() {
        return botMetricsUrl
      },
      exited,
      stop: (signal = "SIGTERM", timeoutMs = 20_000) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal)
        return Promise.race([
          exited,
          new Promise<number | null>((_, rej) =>
            setTimeout(() => {
              child.kill("SIGKILL")
              rej(new Error(`app did not exit within ${timeoutMs} ms after ${signal}`))
            }, timeoutMs)
          )
        ])
      }
    }
    const lines = (stream: NodeJS.ReadableStream, into: Array<string>, onLine?: (l: string) => void) => {
      let buffer = ""
      stream.setEncoding("utf8")
      stream.on("data", (chunk: string) => {
        buffer += chunk
        let i: number
        while ((i = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, i)
          buffer = buffer.slice(i + 1)
          into.push(line)
          onLine?.(line)
        }
      })
    }
    lines(child.stdout!, stdout, (line) => {
      apiUrl ??= API_RE.exec(line)?.[1]
      botMetricsUrl ??= BOT_RE.exec(line)?.[1]
      if (ready()) {
        clearTimeout(timer)
        resolve(app)
      }
    })
    lines(child.stderr!, stderr)
    void exited.then((code) => {
      clearTimeout(timer)
      if (!ready()) reject(new Error(`app exited with ${code} before starting\n${stdout.join("\n")}\n${stderr.join("\n")}`))
    })
  })

/** Runs the CLI to completion (for start-up errors); resolves with its exit code and output. */
export const runChildProcessToExit = (env: Readonly<Record<string, string>>, args: ReadonlyArray<string> = [], timeoutMs = 30_000) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: Path.resolve(import.meta.dirname, "../.."),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PORT: "0", BOT_METRICS_PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`did not finish within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** `startChildProcessApp` in a scope: stopped (SIGTERM, then SIGKILL if it hangs) when the scope closes. */
export const childProcessApp = (options: ChildProcessOptions) =>
  Effect.acquireRelease(
    Effect.promise(() => startChildProcessApp(options)),
    (app) => Effect.promise(() => app.stop("SIGTERM", 20_000).catch(() => app.stop("SIGKILL")))
  )
