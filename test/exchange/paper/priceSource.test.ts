/**
 * Where a paper fill's price comes from, with a reachable, an unreachable and a hanging BingX public
 * API: the source is on the order (and its row), alert prices are used only with
 * PAPER_PRICE_FALLBACK=alert and warned about, an unknown contract is refused when the contract
 * list answers, and a hanging API costs one bounded timeout.
 */
import { expect, layer } from "@effect/vitest"
import { BigDecimal, Effect, Layer, Logger, References, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig } from "../../../src/config.ts"
import { Exchange, type PlaceOrderRequest } from "../../../src/exchange/Exchange.ts"
import { ExchangeEvents } from "../../../src/exchange/ExchangeEvents.ts"
import * as Paper from "../../../src/exchange/paper/PaperExchange.ts"
import { PUBLIC_TIMEOUT_MS, SLOW_MS } from "../../../src/exchange/paper/PublicMarket.ts"
import { type FakeBingx, makeFakeBingx } from "../../fakes/bingx.ts"
import { layerTestDatabase, resetTables } from "../../support/database.ts"

const D = BigDecimal.fromStringUnsafe
const OFFLINE = "http://127.0.0.1:1"
const PRICE = "/openApi/swap/v2/quote/price"
const CONTRACTS = "/openApi/swap/v2/quote/contracts"
/** A hanging API may cost one timeout per order, plus scheduling and database time. */
const BOUND_MS = PUBLIC_TIMEOUT_MS + 700

interface Line {
  readonly level: string
  readonly message: string
}

const run = <A, E>(
  env: (fake: FakeBingx) => Record<string, string>,
  f: (fake: FakeBingx, lines: ReadonlyArray<Line>) => Effect.Effect<A, E, Exchange | SqlClient.SqlClient | Scope.Scope>,
  setup: (fake: FakeBingx) => void = () => {}
) =>
  Effect.gen(function*() {
    yield* resetTables
    const fake = yield* makeFakeBingx()
    setup(fake)
    const lines: Array<Line> = []
    const capture = Layer.mergeAll(
      Logger.layer([
        Logger.make((o) => {
          const m = o.message
          lines.push({ level: o.logLevel, message: Array.isArray(m) ? m.map(String).join(" ") : String(m) })
        })
      ]),
      Layer.succeed(References.MinimumLogLevel, "Debug")
    )
    const paper = Paper.layer.pipe(
      Layer.provideMerge(ExchangeEvents.layer),
      Layer.provideMerge(AppConfig.layerFrom(env(fake)))
    )
    return yield* f(fake, lines).pipe(Effect.provide(paper), Effect.provide(capture))
  }).pipe(Effect.scoped)

const buy = (clientOrderId: string, extra: Partial<PlaceOrderRequest> = {}): PlaceOrderRequest => ({
  symbol: "BTC-USDT",
  side: "BUY",
  positionSide: "BOTH",
  type: "MARKET",
  quantity: D("0.01"),
  clientOrderId,
  reduceOnly: false,
  priceHint: D("1.5"),
  ...extra
})

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const result = yield* Effect.result(effect)
    return { result, ms: Date.now() - started }
  })

const storedSource = (clientOrderId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ price_source: string | null }>`SELECT price_source FROM paper_orders WHERE client_order_id = ${clientOrderId}`
    return rows.map((r) => r.price_source)
  })

/** Waits until a log line matching `test` was written (the start-up notice is written in the background). */
const lineMatching = (lines: ReadonlyArray<Line>, test: (l: Line) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      const hit = lines.find(test)
      if (hit !== undefined) return hit
      yield* Effect.sleep("20 millis")
    }
    return undefined
  })

layer(layerTestDatabase, { excludeTestServices: true, timeout: 120_000 })("paper fills: price source", (it) => {
  it.effect("reachable API: fills at the market price, source exchange, on the order and its row; no warning", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url, PAPER_PRICE_FALLBACK: "alert" }), (_fake, lines) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const order = yield* exchange.placeOrder(buy("tvb-s-1"))
        expect(BigDecimal.format(order.averagePrice!)).toBe("65000.5")
        expect(order.priceSource).toBe("exchange")
        expect(yield* storedSource("tvb-s-1")).toEqual(["exchange"])
        expect((yield* exchange.queryOrder("BTC-USDT", { clientOrderId: "tvb-s-1" })).priceSource).toBe("exchange")
        expect(lines.filter((l) => l.message.includes("alert's price") && l.message.includes("filled"))).toEqual([])
      })))

  it.effect("an unknown contract is refused when the contract list answers, even with an alert price allowed", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url, PAPER_PRICE_FALLBACK: "alert" }), () =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const error = yield* Effect.flip(exchange.placeOrder(buy("tvb-s-2", { symbol: "FOOBAR-USDT" })))
        expect(error).toMatchObject({ _tag: "ExchangeRejectedError", code: 109400 })
        expect(error.message).toContain("FOOBAR-USDT is not in the contract list")
        expect((yield* Effect.flip(exchange.contract("FOOBAR-USDT")))._tag).toBe("ExchangeRejectedError")
        expect(yield* storedSource("tvb-s-2")).toEqual([])
        expect(yield* exchange.positions()).toEqual([])
      })))

  it.effect("unreachable API, PAPER_PRICE_FALLBACK=alert: fills at the alert's price, source alert, a warning at start and on the fill", () =>
    run(() => ({ BINGX_BASE_URL: OFFLINE, PAPER_PRICE_FALLBACK: "alert" }), (_fake, lines) =>
      Effect.gen(function*() {
        const startup = yield* lineMatching(lines, (l) => l.message.startsWith("paper exchange: the BingX public API"))
        expect(startup).toMatchObject({ level: "Warn" })
        expect(startup!.message).toContain("could not be reached")
        expect(startup!.message).toContain("paper orders fill at the alert's price")
        const exchange = yield* Exchange
        const { result, ms } = yield* timed(exchange.placeOrder(buy("tvb-s-3")))
        expect(result._tag).toBe("Success")
        if (result._tag === "Success") {
          expect(BigDecimal.format(result.success.averagePrice!)).toBe("1.5")
          expect(result.success.priceSource).toBe("alert")
        }
        expect(ms).toBeLessThan(BOUND_MS)
        expect(yield* storedSource("tvb-s-3")).toEqual(["alert"])
        const warning = lines.find((l) => l.message.startsWith("paper order tvb-s-3"))
        expect(warning).toMatchObject({ level: "Warn" })
        expect(warning!.message).toContain("filled at the alert's price 1.5, not a market price")
        expect(warning!.message).toContain("PAPER_PRICE_FALLBACK=alert")
        // The failed request was logged with what happened; the reads right after it do not knock again.
        expect(lines.some((l) => l.level === "Warn" && l.message.includes(`BingX public API ${CONTRACTS} at ${OFFLINE} could not be reached`)))
          .toBe(true)
        expect(lines.some((l) => l.level === "Debug" && l.message.includes(`BingX public API ${PRICE} (BTC-USDT) not asked`))).toBe(true)
      })))

  it.effect("unreachable API, PAPER_PRICE_FALLBACK=refuse (the default): refused with the reason and the setting", () =>
    run(() => ({ BINGX_BASE_URL: OFFLINE }), (_fake, lines) =>
      Effect.gen(function*() {
        const startup = yield* lineMatching(lines, (l) => l.message.startsWith("paper exchange: the BingX public API"))
        expect(startup).toMatchObject({ level: "Warn" })
        expect(startup!.message).toContain("paper orders are rejected (PAPER_PRICE_FALLBACK=refuse")
        const exchange = yield* Exchange
        const error = yield* Effect.flip(exchange.placeOrder(buy("tvb-s-4")))
        expect(error._tag).toBe("PriceUnavailable")
        expect(error.message).toContain(`no live price for BTC-USDT: the BingX public API (BINGX_BASE_URL=${OFFLINE})`)
        expect(error.message).toContain("could not be reached")
        expect(error.message).toContain("PAPER_PRICE_FALLBACK=refuse (set PAPER_PRICE_FALLBACK=alert")
        expect(yield* storedSource("tvb-s-4")).toEqual([])
      })))

  it.effect("hanging API: each order waits at most one timeout; alert fills marked, refusals say it did not answer", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url, PAPER_PRICE_FALLBACK: "alert", BINGX_TIMEOUT_MS: "10000" }), (fake, lines) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        // The start-up probe runs into the hang first: wait for its verdict.
        const startup = yield* lineMatching(lines, (l) => l.message.startsWith("paper exchange: the BingX public API"))
        expect(startup!.message).toContain(`did not answer within ${PUBLIC_TIMEOUT_MS} ms`)
        const first = yield* timed(exchange.placeOrder(buy("tvb-s-5")))
        expect(first.ms).toBeLessThan(BOUND_MS)
        expect(first.result._tag === "Success" && first.result.success.priceSource).toBe("alert")
        const second = yield* timed(exchange.placeOrder(buy("tvb-s-6", { symbol: "ETH-USDT", priceHint: undefined })))
        expect(second.ms).toBeLessThan(BOUND_MS)
        expect(second.result._tag === "Failure" && second.result.failure).toMatchObject({ _tag: "PriceUnavailable" })
        if (second.result._tag === "Failure") expect(second.result.failure.message).toContain(`did not answer within ${PUBLIC_TIMEOUT_MS} ms`)
        expect(yield* storedSource("tvb-s-5")).toEqual(["alert"])
        expect(fake.requests(CONTRACTS).length + fake.requests(PRICE).length).toBeGreaterThan(0)
      }), (fake) => {
      fake.inject(PRICE, { kind: "hang" }, { times: 100 })
      fake.inject(CONTRACTS, { kind: "hang" }, { times: 100 })
    }))

  it.effect("a hanging price after a live read within ORDER_PRICE_MAX_AGE_MS: the live price, source exchange (never labelled alert)", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url, PAPER_PRICE_FALLBACK: "refuse" }), (fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const live = yield* exchange.lastPrice("BTC-USDT")
        fake.inject(PRICE, { kind: "hang" }, { times: 100 })
        const { result, ms } = yield* timed(exchange.placeOrder(buy("tvb-s-7", { priceHint: live })))
        expect(ms).toBeLessThan(BOUND_MS)
        expect(result._tag).toBe("Success")
        if (result._tag === "Success") {
          expect(result.success.priceSource).toBe("exchange")
          expect(BigDecimal.format(result.success.averagePrice!)).toBe("65000.5")
        }
      })))

  it.effect("a slow answer is used (source exchange) and logged with the time it took", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url }), (fake, lines) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        fake.inject(PRICE, { kind: "delay", ms: SLOW_MS + 200 })
        const order = yield* exchange.placeOrder(buy("tvb-s-9"))
        expect(order.priceSource).toBe("exchange")
        const slow = lines.find((l) => l.message.includes(`BingX public API ${PRICE} (BTC-USDT) at ${fake.url} was slow: answered in`))
        expect(slow).toMatchObject({ level: "Warn" })
      })))

  it.effect("a repeated clientOrderId answers the stored order without asking for a price", () =>
    run((fake) => ({ BINGX_BASE_URL: fake.url }), (fake) =>
      Effect.gen(function*() {
        const exchange = yield* Exchange
        const first = yield* exchange.placeOrder(buy("tvb-s-8"))
        fake.inject(PRICE, { kind: "http", status: 503 }, { times: 100 })
        const again = yield* exchange.placeOrder(buy("tvb-s-8"))
        expect(again.orderId).toBe(first.orderId)
        expect(again.priceSource).toBe("exchange")
      })))
})
