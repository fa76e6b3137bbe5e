/**
 * Authentication and authorisation:
 * - the token helpers compare in constant time (digests, every candidate checked) and no secret is
 *   compared any other way in src/;
 * - EVERY operator endpoint (walked from the HttpApi contract, each behind its bearer middleware)
 *   answers 401 without the bearer token, with a wrong one, with the webhook token, or with another
 *   scheme; the public routes (the raw routes and the OpenAPI document) are exactly the intended ones;
 * - webhook token rotation across restarts of the real process: A → A + B (_NEXT) → B, after which
 *   A (the old token) is refused;
 * - no secret is ever printed: the real process runs every path that handles one (webhook tokens
 *   in path/query/body/header, the bearer, signed BingX calls and their errors, Telegram calls while
 *   Telegram is down) at LOG_LEVEL=debug, and its output is searched for each secret;
 * - TRADINGVIEW_IP_ALLOWLIST holds, X-Forwarded-For is ignored without TRUST_PROXY (so it can
 *   neither open the allowlist nor dodge the per-address rate limit);
 * - forged Telegram callback data (fuzzed) from an admin or a stranger changes nothing it should
 *   not, is always answered, and is audited with who sent it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import fc from "fast-check"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { FAST } from "../bot/harness.ts"
import { AppConfig } from "../../src/config.ts"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Api, apiOf } from "../../src/api/Api.ts"
import { Operator } from "../../src/api/middleware.ts"
import { OPENAPI_PATH } from "../../src/api/server.ts"
import { SignalsApi } from "../../src/api/Signals.ts"
import { declaredRoutes } from "../../src/http/respond.ts"
import { matchesAny, tokensEqual } from "../../src/security/tokens.ts"
import { makeFakeBingx } from "../fakes/bingx.ts"
import type { FakeMessage } from "../fakes/telegram.ts"
import { FakeTelegram } from "../fakes/telegram.ts"
import { liveEnv } from "../support/bingx.ts"
import { tempDir, testDatabaseEnv } from "../support/database.ts"
import { startInProcessApp } from "../support/inProcessApp.ts"
import { API_TOKEN, call, makeFakeTelegram, runningApp, sleep, until, WEBHOOK_TOKEN, WEBHOOK_TOKEN_NEXT } from "./support.ts"

const SRC = Path.resolve(import.meta.dirname, "../../src")

const sourceFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(Path.join(dir, e.name)) : e.name.endsWith(".ts") ? [Path.join(dir, e.name)] : []
  )

describe("token comparison", () => {
  it("tokensEqual: equal only when equal — any length, unicode, empty — and never throws on a length difference", () => {
    expect(tokensEqual("abc", "abc")).toBe(true)
    expect(tokensEqual("abc", "abd")).toBe(false)
    expect(tokensEqual("abc", "abcd")).toBe(false)
    expect(tokensEqual("", "abc")).toBe(false)
    expect(tokensEqual("", "")).toBe(true)
    expect(tokensEqual("ключ-🔑", "ключ-🔑")).toBe(true)
    expect(tokensEqual("ключ-🔑", "ключ-🔐")).toBe(false)
    expect(tokensEqual("x".repeat(100_000), "x".repeat(100_000))).toBe(true)
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => tokensEqual(a, b) === (a === b)))
  })

  it("matchesAny checks every accepted token (no early exit that would time which one matched)", () => {
    const read: Array<number> = []
    const tokens = ["first-token", "second-token", "third-token"].map((t) => Redacted.make(t))
    const watched = new Proxy(tokens, {
      get(target, key, receiver) {
        if (typeof key === "string" && /^\d+$/.test(key)) read.push(Number(key))
        return Reflect.get(target, key, receiver)
      }
    })
    expect(matchesAny("first-token", watched)).toBe(true)
    expect(read).toEqual([0, 1, 2])
    read.length = 0
    expect(matchesAny("nope", watched)).toBe(false)
    expect(read).toEqual([0, 1, 2])
    expect(matchesAny("third-token", tokens)).toBe(true)
    expect(matchesAny("anything", [])).toBe(false)
  })

  it("code review, enforced: no secret in src/ is compared with === / !== or a hand-written loop", () => {
    const offenders: Array<string> = []
    for (const file of sourceFiles(SRC)) {
      const text = Fs.readFileSync(file, "utf8")
      const rel = Path.relative(SRC, file)
      text.split("\n").forEach((line, i) => {
        if (/Redacted\.value\([^)]*\)\s*[!=]==|[!=]==\s*Redacted\.value\(/.test(line)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`)
        if (/timingSafeEqual/.test(line) && rel !== Path.join("security", "tokens.ts")) offenders.push(`${rel}:${i + 1}: ${line.trim()}`)
      })
    }
    expect(offenders).toEqual([])
    // The two places that check a caller's token use the constant-time helpers.
    expect(Fs.readFileSync(Path.join(SRC, "http/respond.ts"), "utf8")).toMatch(/tokensEqual\(given, Redacted\.value\(apiToken\)\)/)
    expect(Fs.readFileSync(Path.join(SRC, "signals/routes.ts"), "utf8")).toMatch(/matchesAny\(token, secrets\.webhookTokens\)/)
  })
})

/** The app in this process (role all, Telegram in webhook mode: every route there is is served). */
const allRoutesApp = Effect.gen(function*() {
  const telegram = yield* makeFakeTelegram
  const app = yield* startInProcessApp({
    ROLE: "all",
    API_TOKEN,
    TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    LOG_LEVEL: "none",
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_ROOT: telegram.apiRoot,
    TELEGRAM_ADMIN_IDS: "42",
    TELEGRAM_WEBHOOK_URL: "https://bot.example.com/tg/updates",
    TELEGRAM_WEBHOOK_SECRET: "hook_secret-1"
  }, { telegram: FAST })
  return app.info
})

const concrete = (path: string) => path.replace(/:[A-Za-z]+/g, "1").replace("/*", "/anything")

interface Endpoint {
  readonly method: string
  readonly path: string
  readonly guarded: boolean
}

/** Every endpoint of a contract, walked from its definition, and whether the bearer middleware guards it. */
const endpointsOf = <Id extends string, Groups extends HttpApiGroup.Constraint>(api: HttpApi.HttpApi<Id, Groups>): ReadonlyArray<Endpoint> => {
  const found: Array<Endpoint> = []
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, middleware }) =>
      found.push({ method: endpoint.method, path: endpoint.path, guarded: middleware.has(Operator as never) })
  })
  return found
}

describe("the contract's endpoints", () => {
  it("every endpoint of the operator API is behind the bearer middleware", () => {
    const unguarded = endpointsOf(Api).filter((e) => !e.guarded)
    expect(unguarded).toEqual([])
    expect(endpointsOf(Api).length).toBeGreaterThanOrEqual(15)
  })

  it("the walk catches an endpoint added without the middleware", () => {
    const sneaky = HttpApiGroup.make("sneaky").add(HttpApiEndpoint.get("peek", "/peek"))
    const unguarded = endpointsOf(apiOf(SignalsApi, sneaky)).filter((e) => !e.guarded)
    expect(unguarded).toEqual([{ method: "GET", path: "/peek", guarded: false }])
  })
})

describe("the operator API", () => {
  it.live("EVERY operator route refuses a request without the right bearer token (401); the public routes are exactly the intended ones", () =>
    Effect.gen(function*() {
      const info = yield* allRoutesApp
      const api = info.api!.url
      // Operator endpoints are walked from the contract; everything else served is a raw public route.
      const operatorRoutes = endpointsOf(Api)
      expect(operatorRoutes.every((r) => r.guarded)).toBe(true)
      const publicRoutes = [...declaredRoutes.map((r) => `${r.method} ${r.path}`), `GET ${OPENAPI_PATH}`].sort()
      expect(publicRoutes).toEqual([
        "* /*",
        "GET /health",
        "GET /metrics",
        "GET /openapi.json",
        "GET /ready",
        "POST /tg/updates",
        "POST /webhook/tradingview",
        "POST /webhook/tradingview/:token"
      ])
      // The OpenAPI document (public) lists exactly the operator endpoints the app serves.
      const openapi = yield* Effect.promise(() => call(`${api}${OPENAPI_PATH}`, {}))
      expect(openapi.status).toBe(200)
      const documented = Object.entries((openapi.json as { paths: Record<string, Record<string, unknown>> }).paths)
        .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`))
        .sort()
      expect(documented).toEqual(operatorRoutes.map((r) => `${r.method} ${r.path}`).sort())
      expect(operatorRoutes.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
        "GET /balances",
        "GET /bot/reports",
        "GET /bot/status",
        "GET /orders",
        "GET /orders/:id",
        "GET /pnl",
        "GET /positions",
        "GET /reports/pnl.csv",
        "GET /signals",
        "GET /signals/:id",
        "GET /system",
        "POST /bot/audit",
        "POST /bot/settings",
        "POST /orders/:id/approve",
        "POST /orders/:id/reject"
      ])
      const attempts: ReadonlyArray<readonly [string, Record<string, string>]> = [
        ["no Authorization", {}],
        ["a wrong token", { authorization: "Bearer not-the-api-token" }],
        ["the webhook token", { authorization: `Bearer ${WEBHOOK_TOKEN}` }],
        ["an empty bearer", { authorization: "Bearer " }],
        ["another scheme", { authorization: `Basic ${Buffer.from(`x:${API_TOKEN}`).toString("base64")}` }],
        ["the token with a prefix", { authorization: `Bearer x${API_TOKEN}` }],
        ["a query parameter", {}]
      ]
      yield* Effect.promise(async () => {
        for (const route of operatorRoutes) {
          const path = concrete(route.path)
          for (const [what, headers] of attempts) {
            const url = what === "a query parameter" ? `${api}${path}?token=${API_TOKEN}&api_token=${API_TOKEN}` : `${api}${path}`
            const r = await call(url, {
              method: route.method,
              headers: { "content-type": "application/json", ...headers },
              ...(route.method === "POST" ? { body: JSON.stringify({ paused: true }) } : {})
            })
            expect(r.status, `${route.method} ${path} with ${what}`).toBe(401)
            expect(r.headers.get("www-authenticate")).toBe("Bearer")
            expect(r.json.error).toContain("bearer token")
          }
          // With the token the route is reached (its own answer, never 401).
          const ok = await call(`${api}${path}`, {
            method: route.method,
            headers: { "content-type": "application/json", authorization: `Bearer ${API_TOKEN}` },
            ...(route.method === "POST" ? { body: "{}" } : {})
          })
          expect(ok.status, `${route.method} ${path} with the token`).not.toBe(401)
          expect(ok.status, `${route.method} ${path} with the token: ${ok.text}`).toBeLessThan(500)
        }
        // Nothing changed through the refused calls.
        const status = await call(`${api}/bot/status`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
        expect(status.json.paused).toBe(false)
      })
    }).pipe(Effect.scoped), 120_000)
})

describe("webhook tokens", () => {
  it.live("rotation across restarts: A → A + B (_NEXT) → B; afterwards the old token A is refused (401)", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir()
      const database = process.env.TEST_DATABASE_URL === undefined ? { DATA_DIR: dataDir } : yield* testDatabaseEnv
      const post = (url: string, token: string, where: "body" | "path" | "query" | "header") =>
        call(
          `${url}/webhook/tradingview${where === "path" ? `/${token}` : where === "query" ? `?token=${token}` : ""}`,
          {
            method: "POST",
            headers: { "content-type": "application/json", ...(where === "header" ? { "x-tradingview-token": token } : {}) },
            body: JSON.stringify({
              ...(where === "body" ? { secret: token } : {}),
              id: `rot-${Math.random()}`,
              symbol: "BTCUSDT",
              action: "buy",
              qty: "0.001"
            })
          }
        ).then((r) => r.status)
      const statuses = async (url: string, token: string) =>
        Promise.all((["body", "path", "query", "header"] as const).map((w) => post(url, token, w)))
      const run = (tokens: Record<string, string>, check: (url: string) => Promise<void>) =>
        Effect.scoped(Effect.gen(function*() {
          const app = yield* runningApp({ ...database, API_TOKEN, LOG_LEVEL: "info", BINGX_BASE_URL: "http://127.0.0.1:1", ...tokens })
          yield* Effect.promise(() => check(app.apiUrl!))
        }))
      const A = WEBHOOK_TOKEN
      const B = WEBHOOK_TOKEN_NEXT
      yield* run({ TRADINGVIEW_WEBHOOK_TOKEN: A }, async (url) => {
        expect(await statuses(url, A)).toEqual([201, 201, 201, 201])
        expect(await statuses(url, B)).toEqual([401, 401, 401, 401])
      })
      yield* run({ TRADINGVIEW_WEBHOOK_TOKEN: A, TRADINGVIEW_WEBHOOK_TOKEN_NEXT: B }, async (url) => {
        expect(await statuses(url, A)).toEqual([201, 201, 201, 201])
        expect(await statuses(url, B)).toEqual([201, 201, 201, 201])
      })
      yield* run({ TRADINGVIEW_WEBHOOK_TOKEN: B }, async (url) => {
        expect(await statuses(url, B)).toEqual([201, 201, 201, 201])
        expect(await statuses(url, A)).toEqual([401, 401, 401, 401])
        // Near misses are refused too.
        expect(await statuses(url, `${B}x`)).toEqual([401, 401, 401, 401])
        expect(await statuses(url, B.slice(0, -1))).toEqual([401, 401, 401, 401])
        expect(await statuses(url, B.toUpperCase())).toEqual([401, 401, 401, 401])
      })
    }).pipe(Effect.scoped), 180_000)
})

describe("secrets in logs", () => {
  it.live("no secret is ever printed: every path that handles one, at LOG_LEVEL=debug", () =>
    Effect.gen(function*() {
      const secrets = {
        api: "api-SECRET-7f3a9c1e5b2d4f60",
        webhook: "hook-SECRET-2b8e4d6f1a3c5e70",
        next: "next-SECRET-9d1f3b5a7c2e4a80",
        bingxKey: "bxkey-SECRET-4c6e8a0b2d4f6a81",
        bingxSecret: "bxsec-SECRET-6a8c0e2f4b6d8a92",
        telegramSecret: "TGSECRET-1e3c5a7b9d2f4a6c8e0b",
        hook: "tghook-SECRET_5b7d9f1a3c"
      }
      const fake = yield* makeFakeBingx({ apiKey: secrets.bingxKey, secret: secrets.bingxSecret })
      const telegram = yield* Effect.acquireRelease(
        Effect.promise(() => FakeTelegram.start({ token: `123456:${secrets.telegramSecret}` })),
        (t) => Effect.promise(() => t.close())
      )
      const database = yield* testDatabaseEnv
      const app = yield* runningApp({
        ...liveEnv(fake),
        ...database,
        BINGX_API_KEY: secrets.bingxKey,
        BINGX_API_SECRET: secrets.bingxSecret,
        API_TOKEN: secrets.api,
        TRADINGVIEW_WEBHOOK_TOKEN: secrets.webhook,
        TRADINGVIEW_WEBHOOK_TOKEN_NEXT: secrets.next,
        TELEGRAM_BOT_TOKEN: `123456:${secrets.telegramSecret}`,
        TELEGRAM_API_ROOT: telegram.apiRoot,
        TELEGRAM_ADMIN_IDS: "42",
        AUTO_TRADE_ENABLED: "true",
        MANUAL_CONFIRMATION_REQUIRED: "false",
        WEBHOOK_RATE_LIMIT_PER_MINUTE: "0",
        LOG_LEVEL: "debug"
      }, ["--role", "all"])
      yield* Effect.promise(async () => {
        const url = app.apiUrl!
        await telegram.waitFor(() => telegram.messages(42).length > 0, 20_000, "the start-up message")
        const alert = (extra: Record<string, unknown>) => ({ id: `log-${Math.random()}`, symbol: "BTCUSDT", action: "buy", qty: "0.001", ...extra })
        const posts: Array<Promise<unknown>> = []
        const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
          posts.push(call(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }))
        // Accepted: the token in the body (every field name), the path, the query, the header; the _NEXT token.
        for (const field of ["secret", "token", "passphrase", "key"]) post("/webhook/tradingview", alert({ [field]: secrets.webhook }))
        post(`/webhook/tradingview/${secrets.webhook}`, alert({}))
        post(`/webhook/tradingview?token=${secrets.webhook}`, alert({}))
        post("/webhook/tradingview", alert({}), { "x-tradingview-token": secrets.webhook })
        post("/webhook/tradingview", alert({ secret: secrets.next }))
        // Refused for other reasons while carrying the real token (the refusal is logged).
        post("/webhook/tradingview", { secret: secrets.webhook, symbol: "BTCUSDT", action: "hodl" })
        post(`/webhook/tradingview/${secrets.webhook}`, "not json at all")
        post("/webhook/tradingview", `{"secret": "${secrets.webhook}", "price": {{close}}}`)
        // A stored payload with the token in a nested field.
        post("/webhook/tradingview", alert({ secret: secrets.webhook, meta: { api_token: secrets.api, note: "x" } }))
        await Promise.all(posts)
        // The bearer: right, wrong, and an operator call that fails validation.
        await call(`${url}/signals`, { headers: { authorization: `Bearer ${secrets.api}` } })
        await call(`${url}/signals?limit=-1`, { headers: { authorization: `Bearer ${secrets.api}` } })
        await call(`${url}/signals`, { headers: { authorization: `Bearer ${secrets.api}x` } })
        // BingX refuses one order (the error is logged) and the others are signed and filled.
        fake.inject("/openApi/swap/v2/trade/order", { kind: "code", code: 100001, msg: "Signature verification failed" }, { method: "POST" })
        await until(() => fake.placed().length >= 5, 20_000, "orders placed")
        // Telegram down: the client's network errors (whose URLs carry the bot token) are logged.
        telegram.setDown(true)
        post("/webhook/tradingview", alert({ secret: secrets.webhook }))
        await Promise.all(posts)
        await until(() => telegram.calls.filter((c) => c.outcome === "cut").length >= 3, 20_000, "calls cut")
        telegram.setDown(false)
        await sleep(1_000)
        const output = [...app.stdout, ...app.stderr].join("\n")
        expect(output.length).toBeGreaterThan(10_000)
        // The debug log really covered these paths.
        expect(output).toMatch(/webhook rejected \(invalid/)
        expect(output).toMatch(/Telegram unreachable|network error/)
        for (const [name, value] of Object.entries(secrets)) {
          const at = output.indexOf(value)
          expect(at, `${name} printed: …${output.slice(Math.max(0, at - 200), at + 100)}…`).toBe(-1)
        }
      })
    }).pipe(Effect.scoped), 120_000)
})

describe("addresses: allowlist, proxies, rate limit", () => {
  it.live("without TRUST_PROXY, X-Forwarded-For neither opens TRADINGVIEW_IP_ALLOWLIST nor escapes the per-address rate limit", () =>
    Effect.gen(function*() {
      const run = (env: Record<string, string>, check: (url: string) => Promise<void>) =>
        Effect.scoped(Effect.gen(function*() {
          const database = yield* testDatabaseEnv
          const app = yield* runningApp({
            ...database,
            API_TOKEN,
            TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
            LOG_LEVEL: "info",
            BINGX_BASE_URL: "http://127.0.0.1:1",
            ...env
          })
          yield* Effect.promise(() => check(app.apiUrl!))
        }))
      const post = (url: string, headers: Record<string, string> = {}) =>
        call(`${url}/webhook/tradingview`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ secret: WEBHOOK_TOKEN, id: `ip-${Math.random()}`, symbol: "BTCUSDT", action: "buy", qty: "0.001" })
        })
      // Only TradingView's addresses: a loopback caller claiming one through X-Forwarded-For stays out.
      yield* run({ TRADINGVIEW_IP_ALLOWLIST: "tradingview" }, async (url) => {
        const direct = await post(url)
        expect(direct.status).toBe(403)
        expect(direct.json.error).toContain("address 127.0.0.1 is not in TRADINGVIEW_IP_ALLOWLIST")
        for (const xff of ["52.89.214.238", "1.2.3.4, 52.89.214.238", "52.89.214.238, 34.212.75.30"]) {
          expect((await post(url, { "x-forwarded-for": xff, "x-real-ip": "52.89.214.238" })).status, xff).toBe(403)
        }
      })
      // The allowlist lets the right address in; the rate limit counts it however it dresses up.
      yield* run({ TRADINGVIEW_IP_ALLOWLIST: "127.0.0.1", WEBHOOK_RATE_LIMIT_PER_MINUTE: "5" }, async (url) => {
        const statuses: Array<number> = []
        for (let i = 0; i < 8; i++) statuses.push((await post(url, { "x-forwarded-for": `10.0.0.${i}`, "x-real-ip": `10.1.0.${i}` })).status)
        expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429])
        const limited = await post(url)
        expect(limited.status).toBe(429)
        expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      })
    }).pipe(Effect.scoped), 120_000)
})

describe("Telegram: strangers and forged buttons", () => {
  it.live("forged callback data (fuzzed) from an admin or a stranger: always answered, audited with the sender, nothing changed it should not", () =>
    Effect.gen(function*() {
      const telegram = yield* makeFakeTelegram
      const app = yield* startInProcessApp({
        ROLE: "all",
        API_TOKEN,
        TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
        LOG_LEVEL: "none",
        AUTO_TRADE_ENABLED: "true",
        MANUAL_CONFIRMATION_REQUIRED: "true",
        TELEGRAM_BOT_TOKEN: telegram.token,
        TELEGRAM_API_ROOT: telegram.apiRoot,
        TELEGRAM_ADMIN_IDS: "42"
      }, { telegram: FAST })
      const api = app.api!
      const sql = Context.get(app.context, SqlClient.SqlClient)
      const admin = { id: 42, username: "alice", first_name: "Alice" }
      const stranger = { id: 666, username: "mallory", first_name: "Mallory" }
      const result = yield* Effect.promise(async () => {
        await telegram.waitFor(() => telegram.messages(42).some((m) => m.text.includes("Bot started")), 20_000, "start-up message")
        // One order waits for approval: its message carries the real buttons.
        const reply = await call(`${api}/webhook/tradingview`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ secret: WEBHOOK_TOKEN, id: "forge-1", symbol: "BTCUSDT", action: "buy", qty: "0.001" })
        })
        expect(reply.json.order_status).toBe("awaiting_approval")
        const orderId = reply.json.order_id as string
        const message = await telegram.waitFor(
          () => telegram.messages(42).find((m: FakeMessage) => m.text.includes(`#${orderId}`)),
          10_000,
          "the approval message"
        )
        const forged = fc.sample(
          fc.oneof(
            fc.string({ unit: "binary", maxLength: 80 }),
            fc.tuple(
              fc.constantFrom("approve:", "reject:", "leverage:", "margin:", "toggle:", "noop:", "refresh:", "approve", ""),
              fc.oneof(
                fc.constantFrom("9999999999999999999", "99999999999999999999", "0", "-1", "1e3", "126", "0x10", "cross ", "ISOLATED",
                  `${orderId} `, ` ${orderId}`, `${orderId};DROP TABLE orders`, `${orderId}\u0000`, "auto_trade_", "manuall"),
                fc.string({ maxLength: 30 })
              )
            ).map(([a, b]) => `${a}${b}`)
          ),
          { numRuns: 60, seed: 42 }
        ).concat([
          "approve:9999999999999999999", "reject:9223372036854775808", "approve:0", `approve:${orderId}\u0000`, "leverage:126",
          "leverage:0", "margin:hedge", "approve:1 OR 1=1", "\u0000", "\ud800", "x".repeat(300)
        ]).filter((d) => d !== `approve:${orderId}` && d !== `reject:${orderId}`)
        const presses: Array<{ user: number; id: string; data: string }> = []
        for (const data of forged) {
          for (const user of [admin, stranger]) {
            presses.push({ user: user.id, id: telegram.press(user, message, data), data })
          }
        }
        await telegram.waitFor(() => presses.every((p) => telegram.callbackAnswers.has(p.id)), 60_000, "every press answered")
        return { orderId, presses, forged }
      })
      const { orderId, presses } = result
      // Strangers are refused with an alert; admins get an answer for every press.
      for (const p of presses.filter((p) => p.user === 666)) {
        expect(telegram.callbackAnswers.get(p.id)).toMatchObject({ show_alert: true })
      }
      // The order still waits for a decision: no forged data approved or rejected it.
      const [order] = yield* sql<{ status: string }>`SELECT status FROM orders WHERE id = ${orderId}::bigint`
      expect(order!.status).toBe("awaiting_approval")
      // Settings only ever hold valid values (a forged leverage or margin never got through).
      const [settings] = yield* sql<{ leverage: number; margin_mode: string }>`SELECT leverage, margin_mode FROM bot_sessions LIMIT 1`
      expect(settings!.leverage).toBeGreaterThanOrEqual(1)
      expect(settings!.leverage).toBeLessThanOrEqual(125)
      expect(["isolated", "cross"]).toContain(settings!.margin_mode)
      // Every press is audited with who pressed it; the stranger's as denied.
      const audits = yield* Effect.gen(function*() {
        for (let i = 0; i < 200; i++) {
          const rows = yield* sql<{ actor_id: string; action: string; result: string }>`
            SELECT actor_id, action, result FROM audit_log WHERE actor = 'telegram' AND (action LIKE 'button.%' OR action = 'unauthorized.callback')`
          if (rows.length >= presses.length) return rows
          yield* Effect.sleep("50 millis")
        }
        return yield* Effect.die(new Error("audit rows missing"))
      })
      const denied = audits.filter((a) => a.actor_id === "666")
      expect(denied).toHaveLength(presses.length / 2)
      expect(new Set(denied.map((a) => `${a.action} ${a.result}`))).toEqual(new Set(["unauthorized.callback denied"]))
      const byAdmin = audits.filter((a) => a.actor_id === "42")
      expect(byAdmin).toHaveLength(presses.length / 2)
      // A forged order id (even one beyond the bigint range) never reaches the database as a query
      // that fails: it is invalid or not found.
      expect(byAdmin.filter((a) => /out of range|database|sql/i.test(a.result)), JSON.stringify(byAdmin)).toEqual([])
    }).pipe(Effect.scoped), 120_000)
})
