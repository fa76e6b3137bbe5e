import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, Tracer } from "effect"
import { encodePositions } from "../../src/api/Pnl.ts"
import { AppConfig } from "../../src/config.ts"
import { parseUnsafe } from "../../src/domain/decimal.ts"
import { BotBackend, MemoryBackend } from "../../src/bot/BotBackend.ts"
import { FakeBackend } from "../fakes/backend.ts"

const TOKEN = "test-api-token"
const actor = { userId: 42, username: "alice" }

/** A memory backend served over HTTP, and the bot's HTTP layer pointed at it. */
const setup = (env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const memory = new MemoryBackend()
    const fake = yield* Effect.acquireRelease(Effect.promise(() => FakeBackend.start(memory, TOKEN)), (f) => Effect.promise(() => f.close()))
    const layer = BotBackend.layerHttp.pipe(
      Layer.provide(AppConfig.layerFrom({ BACKEND_BASE_URL: fake.url, API_TOKEN: TOKEN, BOT_BACKEND_TIMEOUT: "0.5", ...env }))
    )
    const backend = yield* Layer.build(layer).pipe(Effect.map((ctx) => ctx.mapUnsafe.get(BotBackend.key) as BotBackend["Service"]))
    return { memory, fake, backend }
  })

const counterValue = (id: string, attributes: Record<string, string>) =>
  Effect.map(Metric.snapshot, (all) => {
    const hit = all.find((s) =>
      s.id === id && Object.entries(attributes).every(([k, v]) => String((s.attributes ?? {})[k]) === v) &&
      Object.keys(s.attributes ?? {}).length === Object.keys(attributes).length
    )
    return hit === undefined ? 0 : Number((hit.state as { count: number | bigint }).count)
  })

describe("BotBackend.layerHttp", () => {
  it.live("decodes the contract's status and sends only the changed settings", () =>
    Effect.gen(function*() {
      const { memory, fake, backend } = yield* setup()
      const state = yield* backend.status
      expect(state).toEqual(memory.state)
      const updated = yield* backend.updateSettings({ leverage: 10 }, actor)
      expect(updated.leverage).toBe(10)
      expect(memory.state.leverage).toBe(10)
      const post = fake.requestsTo("POST", "/bot/settings")
      expect(post).toHaveLength(1)
      expect(post[0]!.body).toEqual({ leverage: 10 })
      expect(post[0]!.authorized).toBe(true)
    }).pipe(Effect.scoped))

  it.live("maps 422 to Invalid with the server's fields", () =>
    Effect.gen(function*() {
      const { backend } = yield* setup()
      const error = yield* Effect.flip(backend.updateSettings({ leverage: 0 }, actor))
      expect(error._tag).toBe("Invalid")
      expect(error._tag === "Invalid" && error.fields).toEqual([{ field: "leverage", problem: "must be a whole number from 1 to 125" }])
    }).pipe(Effect.scoped))

  it.live("approve is one POST; a second press is a Conflict carrying the server's message", () =>
    Effect.gen(function*() {
      const { memory, fake, backend } = yield* setup()
      const { order } = memory.addSignal({ symbol: "BTC-USDT", action: "buy", quantity: "0.01" })
      const approved = yield* backend.approve(order.id, actor)
      expect(approved.status).toBe("pending")
      const again = yield* Effect.flip(backend.approve(order.id, actor))
      expect(again).toMatchObject({ _tag: "Conflict", message: `order ${order.id} is already pending` })
      expect(fake.requestsTo("POST", `/orders/${order.id}/approve`)).toHaveLength(2)
      const missing = yield* Effect.flip(backend.reject("999", actor))
      expect(missing).toMatchObject({ _tag: "NotFound", message: "order 999 not found" })
    }).pipe(Effect.scoped))

  it.live("lists signals, orders, PnL and positions with the query the contract names", () =>
    Effect.gen(function*() {
      const { memory, fake, backend } = yield* setup()
      for (let i = 0; i < 4; i++) memory.addSignal({ symbol: `S${i}-USDT`, action: "sell", quantity: "1", orderStatus: "pending" })
      const signals = yield* backend.recentSignals(3)
      expect(signals.map((s) => s.symbol)).toEqual(["S3-USDT", "S2-USDT", "S1-USDT"])
      expect(fake.requestsTo("GET", "/bot/reports")[0]!.query).toEqual({ limit: "3" })
      const orders = yield* backend.orders(2)
      expect(orders).toHaveLength(2)
      const pnl = yield* backend.pnl("week")
      expect(pnl.period).toBe("week")
      expect(fake.requestsTo("GET", "/pnl")[0]!.query).toEqual({ period: "week" })
      memory.positionList = [{
        symbol: "BTC-USDT",
        side: "long",
        quantity: parseUnsafe("0.5"),
        entryPrice: parseUnsafe("65000.5"),
        markPrice: null,
        unrealised: null,
        leverage: 5,
        openedAt: null
      }]
      // Decoded records: compared as the contract writes them (BigDecimal caches its normal form).
      expect(encodePositions({ positions: yield* backend.positions })).toEqual({
        positions: [{
          symbol: "BTC-USDT",
          side: "long",
          quantity: "0.5",
          entry_price: "65000.5",
          mark_price: null,
          unrealized_pnl: null,
          leverage: 5,
          opened_at: null
        }]
      })
    }).pipe(Effect.scoped))

  it.live("a body that does not match the contract is BackendUnavailable, not a crash", () =>
    Effect.gen(function*() {
      const { memory, backend } = yield* setup()
      memory.state = { ...memory.state, leverage: "five" as unknown as number }
      const error = yield* Effect.flip(backend.status)
      expect(error._tag).toBe("BackendUnavailable")
      expect(error.message).toContain("GET /bot/status with an unexpected body")
    }).pipe(Effect.scoped))

  it.live("timeouts, refused tokens and 5xx are BackendUnavailable with an actionable message", () =>
    Effect.gen(function*() {
      const { fake, backend } = yield* setup()
      fake.delayMs = 1_500
      const slow = yield* Effect.flip(backend.status)
      expect(slow).toMatchObject({ _tag: "BackendUnavailable" })
      expect(slow.message).toContain("did not answer GET /bot/status within")
      fake.delayMs = 0
      fake.failWith = 503
      expect((yield* Effect.flip(backend.status)).message).toBe("injected 503")
      fake.failWith = undefined
      const { backend: wrongToken } = yield* setup({ API_TOKEN: "wrong" })
      expect((yield* Effect.flip(wrongToken.status)).message).toContain("refused the bot's API_TOKEN (401)")
    }).pipe(Effect.scoped))

  it.live("an unreachable backend is BackendUnavailable naming the URL", () =>
    Effect.gen(function*() {
      const { fake } = yield* setup()
      const url = fake.url
      yield* Effect.promise(() => fake.close())
      const { backend } = yield* setup({ BACKEND_BASE_URL: url })
      const error = yield* Effect.flip(backend.status)
      expect(error._tag).toBe("BackendUnavailable")
      expect(error.message).toContain(`backend unreachable at ${url}`)
    }).pipe(Effect.scoped))

  it.live("metrics use the route template; spans are BackendClient.get/post", () =>
    Effect.gen(function*() {
      const { memory, backend } = yield* setup()
      const { order } = memory.addSignal({ symbol: "ETH-USDT", action: "buy" })
      const labels = { method: "POST", path: "/orders/{id}/approve", status: "200" }
      const before = yield* counterValue("tvtelegrambingx_bot_backend_requests_total", labels)
      const spans: Array<string> = []
      const tracer = Tracer.make({
        span(options) {
          spans.push(options.name)
          return Tracer.nativeTracer.span(options)
        }
      })
      yield* Effect.withTracer(Effect.all([backend.approve(order.id, actor), backend.status]), tracer)
      expect(yield* counterValue("tvtelegrambingx_bot_backend_requests_total", labels)).toBe(before + 1)
      const snapshot = yield* Metric.snapshot
      const paths = snapshot.filter((s) => s.id.startsWith("tvtelegrambingx_bot_backend")).map((s) => String(s.attributes?.path))
      expect(paths).toContain("/orders/{id}/approve")
      expect(paths.some((p) => /\/orders\/\d+/.test(p))).toBe(false)
      const histogram = snapshot.find((s) =>
        s.id === "tvtelegrambingx_bot_backend_request_duration_seconds" && s.attributes?.path === "/bot/status"
      )
      expect(Number((histogram?.state as { count: number }).count)).toBeGreaterThan(0)
      expect(spans).toContain("BackendClient.post")
      expect(spans).toContain("BackendClient.get")
    }).pipe(Effect.scoped))

  it.live("audit posts the entry; a backend that is down does not fail the caller", () =>
    Effect.gen(function*() {
      const { memory, fake, backend } = yield* setup()
      yield* backend.audit({ actor, action: "command./status", payload: { chat_id: 42 }, result: "ok" })
      expect(memory.audits).toEqual([{ actor, action: "command./status", payload: { chat_id: 42 }, result: "ok" }])
      expect(fake.requestsTo("POST", "/bot/audit")[0]!.body).toEqual({
        actor_id: "42",
        username: "alice",
        action: "command./status",
        payload: { chat_id: 42 },
        result: "ok"
      })
      fake.failWith = 503
      yield* backend.audit({ actor, action: "command./help", payload: {}, result: "ok" })
      expect(memory.audits).toHaveLength(1)
    }).pipe(Effect.scoped))
})
