/**
 * Hostile input against the real process (`node src/main.ts`):
 * - a fast-check fuzzer posts FUZZ_RUNS (default 10,000) random and mutated webhook requests, and
 *   fuzzes every operator route: only 2xx/4xx answers (errors as JSON), the process stays up, its
 *   memory (RSS) stays bounded, and `__proto__` keys never reach an object's prototype;
 * - bodies over the limit are refused with 413 on every route that reads one;
 * - slow-loris: a connection that trickles its headers or its body is closed by the server;
 * - many connections: beyond maxConnections new ones are refused while the open ones are served.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { parseBody } from "../../src/domain/webhookBody.ts"
import { decodeSignals } from "../../src/domain/signal.ts"
import { testDatabaseEnv } from "../support/database.ts"
import { type FuzzRequest, operatorRequest, webhookRequest } from "./fuzz.ts"
import type { ChildProcessApp } from "../support/childProcessApp.ts"
import { API_TOKEN, makeFakeTelegram, runningApp, sleep, until, WEBHOOK_TOKEN } from "./support.ts"

const RUNS = Number(process.env.FUZZ_RUNS ?? "10000")
const WARM_UP = 2_000
const SEED = Number(process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31)))

const rssOf = (pid: number): number => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1])
  return kb * 1024
}

interface Outcome {
  readonly request: FuzzRequest
  readonly status: number | "no answer"
  readonly text: string
}

const send = async (base: string, r: FuzzRequest, bearer: boolean): Promise<Outcome> => {
  try {
    const response = await fetch(`${base}${r.path}`, {
      method: r.method,
      headers: { ...r.headers, ...(bearer ? { authorization: `Bearer ${API_TOKEN}` } : {}) },
      ...(r.body === undefined ? {} : { body: r.body as string }),
      signal: AbortSignal.timeout(20_000)
    })
    return { request: r, status: response.status, text: await response.text() }
  } catch (e) {
    return { request: r, status: "no answer", text: String((e as Error).cause ?? e) }
  }
}

/** Sends every request, `concurrency` at a time; returns the outcomes that break the rules. */
const fire = async (base: string, requests: ReadonlyArray<FuzzRequest>, bearer: boolean, concurrency = 16) => {
  const bad: Array<Outcome> = []
  const statuses = new Map<number | string, number>()
  let next = 0
  const worker = async () => {
    while (next < requests.length) {
      const r = requests[next++]!
      const o = await send(base, r, bearer)
      statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1)
      if (o.status === "no answer" || o.status >= 500) bad.push(o)
      else if (o.status >= 400 && o.status !== 431) {
        // Error answers are JSON {"error": "...", "fields": [...]} (431 comes from Node's parser).
        let error: unknown
        try {
          error = JSON.parse(o.text).error
        } catch {
          error = undefined
        }
        if (typeof error !== "string") bad.push(o)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { bad, statuses }
}

const describeBad = (bad: ReadonlyArray<Outcome>) =>
  bad.slice(0, 5).map((o) => {
    const body = typeof o.request.body === "string" ? o.request.body.slice(0, 300) : o.request.body === undefined ? "" : `<${o.request.body.length} bytes>`
    return `${o.status} ${o.request.method} ${o.request.path.slice(0, 120)} (${o.request.kind}) ${JSON.stringify(o.request.headers).slice(0, 200)} ${JSON.stringify(body)} → ${o.text.slice(0, 300)}`
  }).join("\n")

const baseEnv = {
  API_TOKEN,
  TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
  WEBHOOK_RATE_LIMIT_PER_MINUTE: "0",
  // This is about input, not latency: on a loaded machine an insert may take longer than the
  // webhook's 2.5 s database budget (its own test is in databaseFaults.test.ts).
  WEBHOOK_DATABASE_TIMEOUT_MS: "60000",
  BINGX_BASE_URL: "http://127.0.0.1:1",
  // "API listening …" (info) is how the test learns the port.
  LOG_LEVEL: "info"
}

describe("hostile input: the fuzzer", () => {
  it("in process: parsing and decoding any fuzzed body never throws and never touches Object.prototype", () => {
    fc.assert(
      fc.property(webhookRequest(WEBHOOK_TOKEN), (r) => {
        const text = typeof r.body === "string" ? r.body : Buffer.from(r.body ?? new Uint8Array()).toString("utf8")
        const parsed = parseBody(text, r.headers["content-type"])
        if (parsed.ok) {
          decodeSignals(parsed.body, { now: Date.now(), defaultLeverage: 5, maxAgeSeconds: 60, maxFutureSkewSeconds: 120 })
        }
        expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS)
        expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
      }),
      { numRuns: 2_000, seed: SEED }
    )
  }, 120_000)

  it.live(`the real process: ${RUNS} hostile webhook requests and fuzzed operator calls → only 2xx/4xx, still up, memory bounded`, () =>
    Effect.gen(function*() {
      const database = yield* testDatabaseEnv
      // The old-space cap turns a leak into a crash (caught below) instead of slow growth; with it
      // the heap stays near 60 MiB through the whole run (measured on PGlite and on Postgres).
      const app = yield* runningApp({ ...baseEnv, ...database, NODE_OPTIONS: "--max-old-space-size=128" })
      yield* Effect.promise(async () => {
        const base = app.apiUrl!
        const pid = app.child.pid!
        const hooks = fc.sample(webhookRequest(WEBHOOK_TOKEN), { numRuns: RUNS + WARM_UP, seed: SEED })
        const ops = fc.sample(operatorRequest, { numRuns: 2_000, seed: SEED + 1 })
        // Warm-up (JIT, pools, caches), then the measured run.
        const warm = await fire(base, hooks.slice(0, WARM_UP), false)
        expect(warm.bad, `seed ${SEED}\n${describeBad(warm.bad)}`).toEqual([])
        const before = rssOf(pid)
        const run = await fire(base, hooks.slice(WARM_UP), false)
        const operator = await fire(base, ops, true)
        const after = rssOf(pid)
        const summary = `seed ${SEED}: webhook ${JSON.stringify([...run.statuses])}, operator ${JSON.stringify([...operator.statuses])}, RSS ${
          Math.round(before / 2 ** 20)
        } → ${Math.round(after / 2 ** 20)} MiB`
        console.log(`fuzz: ${summary}`)
        expect(run.bad, `${summary}\n${describeBad(run.bad)}`).toEqual([])
        expect(operator.bad, `${summary}\n${describeBad(operator.bad)}`).toEqual([])
        // Real work was done: alerts were stored, and every kind of refusal was exercised.
        for (const status of [201, 400, 401, 413, 422]) expect(run.statuses.get(status) ?? 0, `${summary}: ${status}`).toBeGreaterThan(0)
        // Still up, still answering, memory bounded.
        expect(app.child.exitCode).toBeNull()
        expect((await fetch(`${base}/health`)).status).toBe(200)
        expect(after - before, summary).toBeLessThan(192 * 2 ** 20)
        // `__proto__` keys never set a prototype: an alert whose fields hide under __proto__ has none.
        const hidden = await fetch(`${base}/webhook/tradingview`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: `{"secret":"${WEBHOOK_TOKEN}","__proto__":{"symbol":"BTCUSDT","action":"buy","qty":"1"},"constructor":{"prototype":{"symbol":"X"}}}`
        })
        expect(hidden.status).toBe(422)
        expect(((await hidden.json()) as { fields: Array<{ field: string }> }).fields.map((f) => f.field)).toEqual(
          expect.arrayContaining(["symbol", "action"])
        )
      })
    }).pipe(Effect.scoped), 600_000)
})

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort()

// ------------------------------------------------------------------------------------------------
// Bodies, slow clients, many connections: one process (role all, Telegram in webhook mode so its
// public route is there too)
// ------------------------------------------------------------------------------------------------

const TG_PATH = "/tg/updates"
const TG_SECRET = "hook_secret-1"

/** A raw TCP connection to the API port; `closed` resolves with what the server sent before closing. */
const rawConnection = (port: number) =>
  new Promise<{ socket: Net.Socket; closed: Promise<{ at: number; data: string }>; received: () => string }>((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1")
    let data = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => (data += chunk))
    const closed = new Promise<{ at: number; data: string }>((res) => socket.on("close", () => res({ at: performance.now(), data })))
    socket.once("error", () => undefined)
    socket.once("connect", () => resolve({ socket, closed, received: () => data }))
    socket.once("error", reject)
  })

/** Writes `text` one byte every `everyMs` until the socket closes. */
const trickle = (socket: Net.Socket, text: string, everyMs: number) => {
  let i = 0
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer)
    socket.write(text[i % text.length]!)
    i++
  }, everyMs)
  socket.on("close", () => clearInterval(timer))
}

const withApp = (f: (app: ChildProcessApp, base: string) => Promise<void>) =>
  Effect.gen(function*() {
    const telegram = yield* makeFakeTelegram
    const database = yield* testDatabaseEnv
    const app = yield* runningApp({
      ...baseEnv,
      ...database,
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      TELEGRAM_ADMIN_IDS: "42",
      TELEGRAM_WEBHOOK_URL: `https://bot.example.com${TG_PATH}`,
      TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
      BOT_METRICS_ENABLED: "false"
    }, ["--role", "all"])
    yield* Effect.promise(() => telegram.waitFor(() => telegram.webhook, 20_000, "setWebhook"))
    yield* Effect.promise(() => f(app, app.apiUrl!))
  }).pipe(Effect.scoped)

describe("hostile input: bodies, slow clients, connections", () => {
  it.live("a body over the limit is refused with 413 on every route that reads one (declared or chunked)", () =>
    withApp(async (_app, base) => {
      const big = "x".repeat(1024 * 1024)
      const routes: ReadonlyArray<{ path: string; headers: Record<string, string> }> = [
        { path: "/webhook/tradingview", headers: {} },
        { path: TG_PATH, headers: { "x-telegram-bot-api-secret-token": TG_SECRET } },
        { path: "/bot/settings", headers: { authorization: `Bearer ${API_TOKEN}` } },
        { path: "/bot/audit", headers: { authorization: `Bearer ${API_TOKEN}` } }
      ]
      for (const route of routes) {
        for (const chunked of [false, true]) {
          const started = performance.now()
          const response = await fetch(`${base}${route.path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...route.headers },
            body: chunked
              ? new ReadableStream({
                start(controller) {
                  for (let i = 0; i < 64; i++) controller.enqueue(new TextEncoder().encode(big.slice(0, 16 * 1024)))
                  controller.close()
                }
              })
              : big,
            duplex: "half"
          } as RequestInit)
          const body = (await response.json()) as { error: string }
          expect(response.status, `${route.path} chunked=${chunked}: ${JSON.stringify(body)}`).toBe(413)
          expect(body.error).toMatch(/larger than|too large/)
          expect(performance.now() - started).toBeLessThan(5_000)
        }
      }
      // Without the bearer the operator routes do not read the body at all.
      expect((await fetch(`${base}/bot/audit`, { method: "POST", body: big })).status).toBe(401)
    }), 120_000)

  it.live("paths the router cannot match (invalid percent-encoding, over-long parameters) get the JSON 404", () =>
    withApp(async (_app, base) => {
      for (const path of ["/%E0%A4%A", "/webhook/tradingview/%E0%A4%A", "/signals/%", `/orders/${"9".repeat(1_000)}`]) {
        const response = await fetch(`${base}${path}`, { method: path.startsWith("/webhook") ? "POST" : "GET" })
        expect(response.status, path).toBe(404)
        expect(await response.json(), path).toEqual({ error: "not found", fields: [] })
      }
    }), 120_000)

  it.live("ids beyond the bigint range are not found (404), not a database failure (503)", () =>
    withApp(async (_app, base) => {
      const auth = { authorization: `Bearer ${API_TOKEN}` }
      for (const id of ["9223372036854775808", "9999999999999999999"]) {
        for (const [method, path] of [["GET", `/orders/${id}`], ["POST", `/orders/${id}/approve`], ["POST", `/orders/${id}/reject`], ["GET", `/signals/${id}`]] as const) {
          const response = await fetch(`${base}${path}`, { method, headers: auth })
          expect(response.status, `${method} ${path}`).toBe(404)
        }
      }
      expect((await fetch(`${base}/orders/9223372036854775807`, { headers: auth })).status).toBe(404)
    }), 120_000)

  it.live("slow-loris: trickled headers are cut after headersTimeout, a trickled body after requestTimeout, an idle connection too; others are served meanwhile", () =>
    withApp(async (app, base) => {
      const port = Number(new URL(base).port)
      const started = performance.now()
      const idle = await rawConnection(port)
      const headers = await rawConnection(port)
      headers.socket.write("POST /webhook/tradingview HTTP/1.1\r\nHost: 127.0.0.1\r\n")
      trickle(headers.socket, "X-Slow: aaaaaaaaaaaaaaaaaaaa", 250)
      const body = await rawConnection(port)
      body.socket.write("POST /webhook/tradingview HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
      trickle(body.socket, "a", 250)
      // While they trickle, everyone else is served.
      for (let i = 0; i < 5; i++) {
        expect((await fetch(`${base}/health`)).status).toBe(200)
        await sleep(1_000)
      }
      const [idleClosed, headersClosed] = await Promise.all([idle.closed, headers.closed])
      for (const [name, c] of [["idle", idleClosed], ["headers", headersClosed]] as const) {
        const after = c.at - started
        expect(after, name).toBeGreaterThanOrEqual(9_000)
        expect(after, name).toBeLessThan(13_000)
      }
      expect(headersClosed.data).toMatch(/^HTTP\/1.1 408/)
      expect((await fetch(`${base}/health`)).status).toBe(200)
      const bodyClosed = await body.closed
      expect(bodyClosed.at - started).toBeGreaterThanOrEqual(29_000)
      expect(bodyClosed.at - started).toBeLessThan(34_000)
      expect(bodyClosed.data).toMatch(/^HTTP\/1.1 408/)
      expect(app.child.exitCode).toBeNull()
    }), 120_000)

  it.live("many connections: beyond maxConnections (4096) new ones are refused; the open ones are served; afterwards new ones are accepted", () =>
    withApp(async (_app, base) => {
      const port = Number(new URL(base).port)
      const held: Array<Awaited<ReturnType<typeof rawConnection>>> = []
      try {
        const opening = performance.now()
        for (let batch = 0; batch < 4096; batch += 256) {
          held.push(...(await Promise.all(Array.from({ length: 256 }, () => rawConnection(port)))))
        }
        // Opened well within headersTimeout (10 s), so none of them has been cut yet.
        expect(performance.now() - opening).toBeLessThan(6_000)
        // The server holds 4096: the next connection is accepted by the kernel and dropped at once.
        const extra = await rawConnection(port)
        const dropped = await Promise.race([extra.closed.then(() => "closed"), sleep(3_000).then(() => "open")])
        expect(dropped).toBe("closed")
        // A connection already open (the latest, well within headersTimeout) is served.
        const one = held.at(-1)!
        one.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        const answered = await until(() => one.received() || undefined, 3_000, "the answer on an open connection")
        expect(answered).toMatch(/^HTTP\/1.1 200/)
        const refused = await fetch(`${base}/health`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.status, () => "refused")
        expect(refused).toBe("refused")
      } finally {
        for (const c of held) c.socket.destroy()
      }
      // Released: new connections are accepted again.
      await sleep(500)
      expect((await fetch(`${base}/health`)).status).toBe(200)
    }), 120_000)
})

