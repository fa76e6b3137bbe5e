/**
 * The processes under test: the app (`node src/main.ts`, exactly what `npm start` runs) and the
 * bare baseline (`scripts/bench/baseline.ts`), each its own child process with its output in a
 * log file (as a container runtime would collect it), on a port chosen beforehand.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { freePort, sleep, waitFor200 } from "./util.ts"

export const ROOT = Path.resolve(import.meta.dirname, "../..")

/**
 * The Node flags of `npm start` (package.json `scripts.start`: `node <flags> src/main.ts`), so the
 * benchmark runs the app exactly as it is deployed (the Dockerfile ENTRYPOINT uses the same flags;
 * test/scripts/bench.test.ts keeps the two in step).
 */
export const startNodeFlags = (root: string = ROOT): ReadonlyArray<string> => {
  const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as { scripts?: Record<string, string> }
  const words = (pkg.scripts?.start ?? "").trim().split(/\s+/)
  const main = words.indexOf("src/main.ts")
  if (words[0] !== "node" || main < 0) throw new Error(`package.json scripts.start is not "node [flags] src/main.ts": ${pkg.scripts?.start}`)
  return words.slice(1, main)
}
const MAIN = Path.join(ROOT, "src/main.ts")
const BASELINE = Path.join(ROOT, "scripts/bench/baseline.ts")

export interface Child {
  readonly name: string
  readonly pid: number
  readonly url: string
  readonly logFile: string
  /** ms from spawn until it answered (GET /health 200 for the app, the listen line for the baseline). */
  readonly startMs: number
  readonly stop: () => Promise<number | null>
}

const spawnLogged = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, logFile: string): ChildProcess => {
  Fs.mkdirSync(Path.dirname(logFile), { recursive: true })
  const fd = Fs.openSync(logFile, "w")
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", fd, fd]
  })
  Fs.closeSync(fd)
  return child
}

const stopper = (child: ChildProcess, name: string) => (): Promise<number | null> => {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.stderr.write(`${name} did not stop within 20 s of SIGTERM; killing it\n`)
      child.kill("SIGKILL")
    }, 20_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve(code)
    })
    child.kill("SIGTERM")
  })
}

const tail = (file: string) => {
  try {
    return Fs.readFileSync(file, "utf8").split("\n").slice(-30).join("\n")
  } catch {
    return ""
  }
}

/** Starts the app and resolves once `GET /health` answers 200. */
export const startApp = async (options: {
  readonly env: Readonly<Record<string, string>>
  readonly logFile: string
  /** Node flags after those of `npm start` (e.g. --cpu-prof). */
  readonly nodeArgs?: ReadonlyArray<string>
  readonly timeoutMs?: number
}): Promise<Child> => {
  const port = await freePort()
  const started = performance.now()
  const child = spawnLogged([...startNodeFlags(), ...(options.nodeArgs ?? []), MAIN], {
    HOST: "127.0.0.1",
    BOT_METRICS_HOST: "127.0.0.1",
    BOT_METRICS_PORT: "0",
    ...options.env,
    PORT: String(port)
  }, options.logFile)
  const url = `http://127.0.0.1:${port}`
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`the app exited (${code}) before answering /health:\n${tail(options.logFile)}`)))
  )
  exited.catch(() => {})
  try {
    await Promise.race([waitFor200(`${url}/health`, options.timeoutMs ?? 60_000, 5), exited])
  } catch (e) {
    child.kill("SIGKILL")
    throw e
  }
  return {
    name: "app",
    pid: child.pid!,
    url,
    logFile: options.logFile,
    startMs: performance.now() - started,
    stop: stopper(child, "the app")
  }
}

/** Starts the bare baseline server on `databaseUrl`. */
export const startBaseline = async (options: {
  readonly databaseUrl: string
  readonly poolSize: number
  readonly token: string
  readonly logFile: string
}): Promise<Child> => {
  const port = await freePort()
  const started = performance.now()
  const child = spawnLogged([BASELINE], {
    BASELINE_DATABASE_URL: options.databaseUrl,
    BASELINE_POOL_SIZE: String(options.poolSize),
    BASELINE_TOKEN: options.token,
    BASELINE_PORT: String(port)
  }, options.logFile)
  const deadline = performance.now() + 30_000
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the baseline exited (${child.exitCode}):\n${tail(options.logFile)}`)
    if (tail(options.logFile).includes("baseline listening on")) break
    await sleep(20)
  }
  if (!tail(options.logFile).includes("baseline listening on")) {
    child.kill("SIGKILL")
    throw new Error(`the baseline did not start within 30 s:\n${tail(options.logFile)}`)
  }
  return {
    name: "baseline",
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    logFile: options.logFile,
    startMs: performance.now() - started,
    stop: stopper(child, "the baseline")
  }
}
