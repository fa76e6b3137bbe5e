/**
 * Load generators:
 * - `closedLoop`: autocannon with a fixed number of connections for a fixed time (throughput and
 *   latency under saturation). Latencies are taken from autocannon's per-response event (exact
 *   fractional milliseconds; its own histogram rounds to whole ms), status codes are counted.
 * - `openLoop`: a fixed request rate, independent of the answers (end-to-end latency at a given
 *   signal rate); every request's send time and answer are kept.
 */
import autocannon from "autocannon"
import * as Http from "node:http"
import { type LatencySummary, summarise } from "./util.ts"

export interface ClosedLoopOptions {
  readonly url: string
  readonly method?: "GET" | "POST"
  readonly headers?: Record<string, string>
  /** `[<id>]` is replaced by a fresh unique id in every request. */
  readonly body?: string
  readonly connections: number
  readonly seconds: number
}

export interface ClosedLoopResult {
  readonly connections: number
  readonly seconds: number
  readonly requests: number
  /** Answered requests per second. */
  readonly rps: number
  readonly latencyMs: LatencySummary
  /** Non-2xx answers + transport errors + timeouts. */
  readonly errors: number
  readonly statuses: Record<string, number>
}

export const closedLoop = async (options: ClosedLoopOptions): Promise<ClosedLoopResult> => {
  const latencies: Array<number> = []
  const statuses: Record<string, number> = {}
  const instance: autocannon.Instance = (autocannon as unknown as (o: autocannon.Options) => autocannon.Instance)({
    url: options.url,
    method: options.method ?? "GET",
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body, idReplacement: true }),
    connections: options.connections,
    duration: options.seconds,
    pipelining: 1,
    timeout: 10
  })
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime)
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
  })
  const result = await (instance as unknown as PromiseLike<autocannon.Result>)
  const non2xx = Object.entries(statuses).reduce((n, [s, c]) => (s.startsWith("2") ? n : n + c), 0)
  return {
    connections: options.connections,
    seconds: result.duration,
    requests: latencies.length,
    rps: latencies.length / result.duration,
    latencyMs: summarise(latencies),
    errors: non2xx + result.errors,
    statuses
  }
}

export interface OpenLoopRequest {
  readonly i: number
  /** performance.now() just before the request was written. */
  readonly sentAt: number
  answeredAt: number | undefined
  status: number | undefined
  body: string | undefined
  error: string | undefined
}

/**
 * Sends `rate` requests per second for `seconds`, each `POST url` with `bodyOf(i)`, on a
 * keep-alive pool; waits for the answers (up to `settleMs` after the last send).
 */
export const openLoop = async (options: {
  readonly url: string
  readonly rate: number
  readonly seconds: number
  readonly bodyOf: (i: number) => string
  readonly settleMs?: number
}): Promise<ReadonlyArray<OpenLoopRequest>> => {
  const agent = new Http.Agent({ keepAlive: true, maxSockets: 512 })
  const total = Math.round(options.rate * options.seconds)
  const intervalMs = 1000 / options.rate
  const sent: Array<OpenLoopRequest> = []
  const pending = new Set<Promise<void>>()
  const fire = (i: number) => {
    const body = options.bodyOf(i)
    const record: OpenLoopRequest = { i, sentAt: performance.now(), answeredAt: undefined, status: undefined, body: undefined, error: undefined }
    sent.push(record)
    const p = new Promise<void>((resolve) => {
      const req = Http.request(options.url, {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }
      }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          record.answeredAt = performance.now()
          record.status = res.statusCode
          record.body = Buffer.concat(chunks).toString("utf8")
          resolve()
        })
      })
      req.on("error", (e) => {
        record.error = e.message
        resolve()
      })
      req.end(body)
    })
    pending.add(p)
    void p.then(() => pending.delete(p))
  }
  const started = performance.now()
  for (let i = 0; i < total; i++) {
    // Schedule against the start time, so timer drift does not lower the rate.
    const due = started + i * intervalMs
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    fire(i)
  }
  const settle = new Promise((r) => setTimeout(r, options.settleMs ?? 10_000))
  await Promise.race([Promise.all(pending), settle])
  agent.destroy()
  return sent
}
