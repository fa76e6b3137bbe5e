/**
 * Database faults on a throwaway Postgres the test starts itself (never the shared
 * server): stopped during webhook load, and frozen (a hung server / network partition, through a
 * TCP proxy). The webhook answers 201 with a stored row or 503 — never 500, never 2xx without a
 * row — and answers 503 before TradingView gives up (3 s); /ready says 503; when the database is
 * back the service recovers without a restart and the actor's sweep executes what was left pending.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { AppConfig } from "../../src/config.ts"
import { AppInfo, appLayer } from "../../src/main.ts"
import { makeFakeBingx } from "../fakes/bingx.ts"
import { liveEnv } from "../support/bingx.ts"
import { startTcpProxy } from "../support/tcpProxy.ts"
import { startThrowawayPostgres } from "../support/throwawayPostgres.ts"
import { API_TOKEN, call, sleep, until, WEBHOOK_TOKEN } from "./support.ts"

const status = (url: string) =>
  Effect.promise(() => fetch(url, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => -1))

/** Polls until `url` answers `expected` (or gives up after `ms`). */
const eventually = (url: string, expected: number, ms = 20_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    let last = -1
    while (Date.now() < deadline) {
      last = yield* status(url)
      if (last === expected) return last
      yield* Effect.sleep("200 millis")
    }
    return last
  })

const throwawayPostgres = Effect.acquireRelease(
  Effect.promise(() => startThrowawayPostgres()),
  (pg) => Effect.sync(() => pg.destroy())
)

/** The real app (role api) in this process; yields its API URL. Log lines (warn+) go to `lines`. */
const startApi = (env: Record<string, string>, lines: Array<string> = []) =>
  Effect.gen(function*() {
    const config = AppConfig.layerFrom({
      ROLE: "api",
      PORT: "0",
      HOST: "127.0.0.1",
      API_TOKEN,
      TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      LOG_LEVEL: "warn",
      WEBHOOK_RATE_LIMIT_PER_MINUTE: "0",
      ...env
    })
    const context = yield* Layer.build(appLayer({ logSink: (line) => void lines.push(line) }).pipe(Layer.provide(config)))
    return Context.get(context, AppInfo).api!.url
  })

interface Answer {
  readonly alertId: string
  readonly status: number | "no answer"
  readonly ms: number
  readonly signalId: string | undefined
}

let seq = 0
const postAlert = async (url: string, symbol = "BTCUSDT", alertId = `db-${process.pid}-${Date.now()}-${++seq}`): Promise<Answer> => {
  const started = performance.now()
  try {
    const reply = await call(`${url}/webhook/tradingview`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ secret: WEBHOOK_TOKEN, id: alertId, symbol, action: "buy", qty: symbol === "BTCUSDT" ? "0.001" : symbol === "ETHUSDT" ? "0.01" : "0.1" })
    })
    return { alertId, status: reply.status, ms: performance.now() - started, signalId: reply.json?.id }
  } catch {
    return { alertId, status: "no answer", ms: performance.now() - started, signalId: undefined }
  }
}

const operator = (url: string, path: string) => call(`${url}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })

describe("database faults (throwaway Postgres)", () => {
  it.live("Postgres stops: /ready 503, /health 200; it starts again: recovered without a restart", () =>
    Effect.gen(function*() {
      const pg = yield* throwawayPostgres
      const api = yield* startApi({ DATABASE_URL: pg.url })
      expect(yield* status(`${api}/ready`)).toBe(200)

      pg.stop("fast")
      expect(yield* eventually(`${api}/ready`, 503)).toBe(503)
      expect(yield* status(`${api}/health`)).toBe(200)

      pg.start()
      expect(yield* eventually(`${api}/ready`, 200)).toBe(200)
    }).pipe(Effect.scoped), 90_000)

  it.live("stopped under webhook load: 201 with a row or a quick 503, never 500; back: recovers, and the sweep executes the orders left pending", () =>
    Effect.gen(function*() {
      const pg = yield* throwawayPostgres
      const fake = yield* makeFakeBingx()
      const api = yield* startApi({
        ...liveEnv(fake),
        DATABASE_URL: pg.url,
        AUTO_TRADE_ENABLED: "true",
        MANUAL_CONFIRMATION_REQUIRED: "false",
        RECONCILE_INTERVAL_SECONDS: "1",
        BINGX_TIMEOUT_MS: "5000"
      })
      yield* Effect.promise(async () => {
        // Three orders still being planned when the database goes away (their price answers late).
        fake.inject("/openApi/swap/v2/quote/price", { kind: "delay", ms: 1_500 }, { times: 3 })
        const inFlight = await Promise.all(["BTCUSDT", "ETHUSDT", "SOLUSDT"].map((s) => postAlert(api, s)))
        expect(inFlight.map((a) => a.status)).toEqual([201, 201, 201])
        await until(() => fake.requests("/openApi/swap/v2/quote/price").length >= 3, 5_000, "three price requests")

        // Steady load across the outage.
        const answers: Array<Answer> = []
        let loading = true
        const load = (async () => {
          while (loading) {
            void postAlert(api).then((a) => answers.push(a))
            await sleep(50)
          }
        })()
        await sleep(300)
        pg.stop("fast")
        const downAt = answers.length
        await until(async () => (await call(`${api}/ready`)).status === 503 ? true : undefined, 10_000, "/ready 503")
        await sleep(2_000)
        pg.start()
        await until(async () => (await call(`${api}/ready`)).status === 200 ? true : undefined, 30_000, "/ready 200")
        await until(() => answers.slice(downAt).some((a) => a.status === 201) && answers.at(-1)?.status === 201, 20_000, "201 again")
        loading = false
        await load
        await sleep(500)

        const statuses = new Set(answers.map((a) => a.status))
        expect([...statuses].sort()).toEqual([201, 503])
        const unavailable = answers.filter((a) => a.status === 503)
        expect(unavailable.length).toBeGreaterThan(3)
        // Answered before TradingView gives up (3 s).
        expect(Math.max(...unavailable.map((a) => a.ms))).toBeLessThan(3_000)
        // Every 201 has its row.
        for (const a of answers.filter((a) => a.status === 201)) {
          expect((await operator(api, `/signals/${a.signalId}`)).status, a.alertId).toBe(200)
        }
        // The orders that were being planned when the database went away are executed by the sweep.
        for (const a of inFlight) {
          const signal = await operator(api, `/signals/${a.signalId}`)
          const orderId = signal.json.orders[0].id as string
          const order = await until(async () => {
            const r = await operator(api, `/orders/${orderId}`)
            return r.json.status === "filled" ? r.json : undefined
          }, 20_000, `order ${orderId} filled`)
          expect(fake.placed().filter((o) => o.clientOrderId === order.client_order_id)).toHaveLength(1)
        }
      })
    }).pipe(Effect.scoped), 120_000)

  it.live("a hung database (connections frozen, nothing refused): 503 within WEBHOOK_DATABASE_TIMEOUT_MS; the alert is stored once it answers, and a re-send is a duplicate", () =>
    Effect.gen(function*() {
      const pg = yield* throwawayPostgres
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startTcpProxy(pg.port)), (p) => Effect.promise(() => p.close()))
      const lines: Array<string> = []
      const api = yield* startApi({ DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/postgres` }, lines)
      yield* Effect.promise(async () => {
        expect((await postAlert(api)).status).toBe(201)
        proxy.freeze()
        const hung = await postAlert(api)
        expect(hung.status).toBe(503)
        expect(hung.ms).toBeLessThan(3_000)
        expect(hung.ms).toBeGreaterThanOrEqual(2_000)
        expect((await call(`${api}/ready`)).status).toBe(503)
        proxy.thaw()
        await until(async () => (await call(`${api}/ready`)).status === 200 ? true : undefined, 20_000, "/ready 200")
        // The answer was 503, but the insert went through when the database answered: the same
        // alert again is recognised (200, the stored signal), not stored twice.
        const again = await until(async () => {
          const a = await postAlert(api, "BTCUSDT", hung.alertId)
          return a.status === 200 ? a : undefined
        }, 10_000, "the re-sent alert to be a duplicate")
        expect(again.signalId).toBeDefined()
        // And the operator can see it happened.
        expect(lines.some((l) => l.includes("was not waiting any more") && l.includes("was stored after all"))).toBe(true)
        expect(lines.some((l) => l.includes("the database did not answer within 2500 ms"))).toBe(true)
        const fresh = await postAlert(api)
        expect(fresh.status).toBe(201)
      })
    }).pipe(Effect.scoped), 90_000)
})
