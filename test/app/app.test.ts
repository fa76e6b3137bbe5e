import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { EmbeddedDatabase } from "../../src/db/Database.ts"
import type { AppInfo } from "../../src/main.ts"
import { tempDir } from "../support/database.ts"
import { startInProcessApp } from "../support/inProcessApp.ts"

const API_TOKEN = "test-api-token-0123456789"

/** Starts the real app composition for `role` on free ports, runs `f` with its AppInfo, stops it. */
const withApp = <A, E>(
  role: "all" | "api" | "bot",
  f: (info: AppInfo["Service"]) => Effect.Effect<A, E>,
  env: Record<string, string> = {}
) =>
  Effect.gen(function*() {
    const app = yield* startInProcessApp({
      ROLE: role,
      API_TOKEN,
      TRADINGVIEW_WEBHOOK_TOKEN: "test-webhook-token",
      LOG_LEVEL: "none",
      ...(role === "bot" ? { DATA_DIR: yield* tempDir() } : {}),
      ...env
    })
    // Inside the app: `f` sees its services (e.g. EmbeddedDatabase).
    return yield* Effect.provide(f(app.info), app.context)
  }).pipe(Effect.scoped)

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const res = await fetch(url, { headers })
    return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() }
  })

describe("the app in each role", () => {
  it.live("role all: API and bot exporter; health, ready, metrics on both ports; bearer auth", () =>
    withApp("all", (info) =>
      Effect.gen(function*() {
        expect(info.role).toBe("all")
        const api = info.api!.url
        const bot = info.botMetrics!.url
        expect(info.api!.port).toBeGreaterThan(0)
        expect(info.botMetrics!.port).not.toBe(info.api!.port)

        const health = yield* get(`${api}/health`)
        expect(health.status).toBe(200)
        expect(JSON.parse(health.body)).toEqual({ status: "ok" })
        expect((yield* get(`${api}/ready`)).status).toBe(200)

        const metrics = yield* get(`${api}/metrics`)
        expect(metrics.status).toBe(200)
        expect(metrics.type).toContain("text/plain")
        expect(metrics.body).toContain("# TYPE tradingview_signals_ingested_total counter")
        expect(metrics.body).toContain("process_cpu_user_seconds_total")
        expect(metrics.body).not.toContain("tvtelegrambingx_bot_updates_total")

        const botMetrics = yield* get(`${bot}/metrics`)
        expect(botMetrics.status).toBe(200)
        expect(botMetrics.body).toContain("# TYPE tvtelegrambingx_bot_updates_total counter")
        expect(botMetrics.body).not.toContain("tradingview_signals_ingested_total")
        expect((yield* get(`${bot}/health`)).status).toBe(200)
        // Routes do not leak between ports.
        expect((yield* get(`${bot}/ready`)).status).toBe(404)

        // Operator routes need the bearer token.
        const none = yield* get(`${api}/system`)
        expect(none.status).toBe(401)
        expect(JSON.parse(none.body)).toEqual({
          error: "missing or invalid bearer token: send Authorization: Bearer <API_TOKEN>",
          fields: []
        })
        expect((yield* get(`${api}/system`, { authorization: "Bearer wrong-token" })).status).toBe(401)
        expect((yield* get(`${api}/system`, { authorization: `Basic ${API_TOKEN}` })).status).toBe(401)
        const ok = yield* get(`${api}/system`, { authorization: `Bearer ${API_TOKEN}` })
        expect(ok.status).toBe(200)
        expect(JSON.parse(ok.body)).toMatchObject({ role: "all", trading_mode: "paper" })

        const missing = yield* get(`${api}/no/such/route`)
        expect(missing.status).toBe(404)
        expect(JSON.parse(missing.body).error).toBe("not found")
      })), 60_000)

  it.live("role api: only :8000", () =>
    withApp("api", (info) =>
      Effect.gen(function*() {
        expect(info.botMetrics).toBeUndefined()
        expect((yield* get(`${info.api!.url}/health`)).status).toBe(200)
        expect((yield* get(`${info.api!.url}/ready`)).status).toBe(200)
      })), 60_000)

  it.live("role bot: only :9000, and no database is opened", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const dataDir = Path.join(dir, "never-created")
      yield* withApp("bot", (info) =>
        Effect.gen(function*() {
          expect(info.api).toBeUndefined()
          const metrics = yield* get(`${info.botMetrics!.url}/metrics`)
          expect(metrics.status).toBe(200)
          expect(metrics.body).toContain("tvtelegrambingx_bot_backend_requests_total")
        }), { DATA_DIR: dataDir })
      expect(Fs.existsSync(dataDir)).toBe(false)
    }).pipe(Effect.scoped), 60_000)

  it.live("BOT_METRICS_ENABLED=false turns :9000 off", () =>
    withApp("all", (info) =>
      Effect.sync(() => {
        expect(info.botMetrics).toBeUndefined()
        expect(info.api).toBeDefined()
      }), { BOT_METRICS_ENABLED: "false" }), 60_000)

  it.live("/ready answers 503 with a reason when the database is down", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* withApp("api", (info) =>
        Effect.gen(function*() {
          expect((yield* get(`${info.api!.url}/ready`)).status).toBe(200)
          const embedded = yield* Effect.serviceOption(EmbeddedDatabase)
          expect(embedded._tag).toBe("Some")
          if (embedded._tag === "Some") yield* embedded.value.stopServing
          const ready = yield* get(`${info.api!.url}/ready`)
          expect(ready.status).toBe(503)
          expect(JSON.parse(ready.body)).toMatchObject({ status: "unavailable" })
          expect(JSON.parse(ready.body).error).toMatch(/database/)
          // Liveness is unaffected.
          expect((yield* get(`${info.api!.url}/health`)).status).toBe(200)
        }), { DATA_DIR: dir, DATABASE_URL: "" }) // the embedded database, whatever TEST_DATABASE_URL says
    }).pipe(Effect.scoped), 60_000)
})
