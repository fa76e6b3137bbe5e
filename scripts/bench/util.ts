/**
 * Small helpers of the benchmark: free ports, percentiles, a keep-alive HTTP client, and what
 * Linux says about a process (`/proc/<pid>/status` and `/proc/<pid>/stat`).
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** The q-quantile (0..1) of `values` (nearest rank on a sorted copy); NaN when empty. */
export const quantile = (sorted: ArrayLike<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

export interface LatencySummary {
  readonly count: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

/** Summary of latencies in milliseconds. */
export const summarise = (values: ReadonlyArray<number>): LatencySummary => {
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!
  }
}

export interface HttpAnswer {
  readonly status: number
  readonly body: string
}

/**
 * One request on a connection of its own (control requests are rare; a pooled connection could be
 * closed by the server's keep-alive timeout just as it is reused). Rejects on a transport error or
 * after `timeoutMs`.
 */
export const request = (
  url: string,
  options: {
    readonly method?: string
    readonly headers?: Readonly<Record<string, string>>
    readonly body?: string
    readonly timeoutMs?: number
  } = {}
): Promise<HttpAnswer> =>
  new Promise((resolve, reject) => {
    const req = Http.request(url, {
      method: options.method ?? "GET",
      agent: false,
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(options.body)) }),
        ...options.headers
      },
      timeout: options.timeoutMs ?? 10_000
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", reject)
    })
    req.on("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} ${url}: no answer within ${options.timeoutMs ?? 10_000} ms`)))
    req.on("error", reject)
    req.end(options.body)
  })

/** Polls `url` until it answers 200; resolves with the milliseconds waited. */
export const waitFor200 = async (url: string, timeoutMs: number, everyMs = 10): Promise<number> => {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    try {
      const answer = await request(url, { timeoutMs: 1_000 })
      if (answer.status === 200) return performance.now() - started
    } catch {
      // not listening yet
    }
    await sleep(everyMs)
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`)
}

// ------------------------------------------------------------------------------------------------
// Process figures (Linux /proc)
// ------------------------------------------------------------------------------------------------

/** Resident set size of `pid` in MiB (VmRSS), undefined when the process is gone. */
export const rssMiB = (pid: number): number | undefined => {
  try {
    const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux the bench runs on). */
const USER_HZ = 100

/** CPU time (user + system) `pid` has used so far, in seconds. */
export const cpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const utime = Number(fields[11])
    const stime = Number(fields[12])
    return (utime + stime) / USER_HZ
  } catch {
    return undefined
  }
}

/** Samples the RSS of `pid` every `everyMs` until stopped; `stop()` gives the peak (MiB). */
export const sampleRss = (pid: number, everyMs = 100) => {
  let peak = rssMiB(pid) ?? 0
  const timer = setInterval(() => {
    const v = rssMiB(pid)
    if (v !== undefined && v > peak) peak = v
  }, everyMs)
  return {
    stop: (): number => {
      clearInterval(timer)
      const v = rssMiB(pid)
      if (v !== undefined && v > peak) peak = v
      return peak
    }
  }
}

export const round = (n: number, digits = 1): number => {
  if (!Number.isFinite(n)) return n
  const f = 10 ** digits
  return Math.round(n * f) / f
}
