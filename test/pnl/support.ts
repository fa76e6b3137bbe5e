/**
 * PnL test helpers: rows inserted the way the order actor writes them (signal → order → fill), a
 * fake Exchange (mark prices, balances) that counts its calls, a "process" (PnlService with its own
 * FillEvents and its own metric registry, so a rebuild looks like a restart), gauge readers, and the
 * service's records in their wire form (through the HTTP contract's encoders).
 */
import { BigDecimal, Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import type { ExchangeBalance } from "../../src/exchange/Exchange.ts"
import { Exchange, ExchangeTransientError, PriceUnavailable } from "../../src/exchange/Exchange.ts"
import { FillEvents, type RecordedFill } from "../../src/orders/FillEvents.ts"
import { PnlService, type PnlServiceOptions, type PnlServiceShape } from "../../src/pnl/PnlService.ts"
import type { Period } from "../../src/pnl/records.ts"
import { encodeAccount, encodeBalances, encodePosition, encodeReport } from "../../src/api/Pnl.ts"
import { realisedPnl, realisedPnlTotal } from "../../src/telemetry/metrics.ts"

let keySeq = 0
const nextKey = (prefix: string) => `${prefix}-${process.pid}-${Date.now()}-${++keySeq}`

export interface OrderSpec {
  readonly symbol: string
  readonly action: "buy" | "sell"
  readonly positionSide?: "long" | "short" | null
  readonly leverage?: number | null
}

/** A signal and its filled order; the order id. */
export const insertOrder = (spec: OrderSpec) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [signal] = yield* sql<{ id: string }>`
      INSERT INTO signals (idempotency_key, symbol, action, position_side, raw_payload)
      VALUES (${nextKey("sig")}, ${spec.symbol}, ${spec.action}, ${spec.positionSide ?? null}, '{}'::jsonb)
      RETURNING id::text AS id`
    const [order] = yield* sql<{ id: string }>`
      INSERT INTO orders (signal_id, symbol, action, position_side, status, leverage)
      VALUES (${signal!.id}::bigint, ${spec.symbol}, ${spec.action}, ${spec.positionSide ?? null}, 'filled',
              ${spec.leverage ?? null}::integer)
      RETURNING id::text AS id`
    return order!.id
  })

export interface FillSpec extends OrderSpec {
  readonly quantity: string
  readonly price: string
  readonly fee?: string
  readonly feeAsset?: string
  readonly filledAt?: Date
  /** Defaults to a new order. */
  readonly orderId?: string
}

/** Inserts a fill (and its order unless given), as the order actor does; the RecordedFill. */
export const insertFill = (spec: FillSpec) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const orderId = spec.orderId ?? (yield* insertOrder(spec))
    const filledAt = spec.filledAt ?? new Date()
    const fee = spec.fee ?? "0"
    const feeAsset = spec.feeAsset ?? "USDT"
    const [fill] = yield* sql<{ id: string }>`
      INSERT INTO fills (order_id, fill_key, symbol, action, position_side, quantity, price, fee, fee_asset, filled_at)
      VALUES (${orderId}::bigint, ${nextKey("fill")}, ${spec.symbol}, ${spec.action}, ${spec.positionSide ?? null},
              ${spec.quantity}::numeric, ${spec.price}::numeric, ${fee}::numeric, ${feeAsset},
              ${filledAt.toISOString()}::timestamptz)
      RETURNING id::text AS id`
    const recorded: RecordedFill = {
      fillId: fill!.id,
      orderId,
      symbol: spec.symbol,
      action: spec.action,
      positionSide: spec.positionSide ?? null,
      quantity: spec.quantity,
      price: spec.price,
      fee,
      feeAsset,
      filledAt
    }
    return recorded
  })

export interface FakeExchangeState {
  /** symbol → mark price, or an error to fail with, or "hang". */
  readonly marks: Map<string, string | "fail" | "hang">
  balances: ReadonlyArray<ExchangeBalance> | "fail"
  readonly markCalls: Array<string>
  balanceCalls: number
}

export const fakeExchangeState = (marks: Record<string, string | "fail" | "hang"> = {}): FakeExchangeState => ({
  marks: new Map(Object.entries(marks)),
  balances: [],
  markCalls: [],
  balanceCalls: 0
})

/** Only the members PnL uses; anything else dies when called. */
export const layerFakeExchange = (state: FakeExchangeState) =>
  Layer.mock(Exchange)({
    name: "paper",
    markPrice: (symbol: string) =>
      Effect.suspend((): Effect.Effect<BigDecimal.BigDecimal, ExchangeTransientError | PriceUnavailable> => {
        state.markCalls.push(symbol)
        const mark = state.marks.get(symbol)
        if (mark === undefined) {
          return Effect.fail(new PriceUnavailable({ symbol, message: `no price for ${symbol}` }))
        }
        if (mark === "fail") {
          return Effect.fail(new ExchangeTransientError({ message: "503 from fake", code: undefined, retryAfterMs: undefined }))
        }
        if (mark === "hang") return Effect.never
        return Effect.succeed(BigDecimal.fromStringUnsafe(mark))
      }),
    balances: Effect.suspend(() => {
      state.balanceCalls++
      const b = state.balances
      return b === "fail"
        ? Effect.fail(new ExchangeTransientError({ message: "503 from fake", code: undefined, retryAfterMs: undefined }))
        : Effect.succeed(b)
    })
  })

export const balance = (asset: string, equity: string, available: string): ExchangeBalance => ({
  asset,
  balance: BigDecimal.fromStringUnsafe(equity),
  equity: BigDecimal.fromStringUnsafe(equity),
  available: BigDecimal.fromStringUnsafe(available),
  unrealisedPnl: BigDecimal.fromStringUnsafe("0")
})

/** Long sweep interval: tests drive catch-up themselves unless they say otherwise. */
export const TEST_OPTIONS: PnlServiceOptions = { sweepInterval: "1 hour" }

/**
 * One "process" of the PnL part: PnlService + FillEvents (fresh), reading the Exchange when given.
 * Needs AppConfig and SqlClient. Provide `registry` to the test effect too, to read its gauges.
 */
export const layerPnlProcess = (
  registry: Metric.MetricRegistry,
  options: PnlServiceOptions = TEST_OPTIONS,
  exchange?: Layer.Layer<Exchange>
) =>
  PnlService.layerWith(options).pipe(
    Layer.provideMerge(Layer.fresh(FillEvents.layer)),
    Layer.provide(exchange ?? Layer.empty),
    Layer.provide(Layer.succeed(Metric.MetricRegistry, registry)),
    Layer.fresh
  )

/** Realised gauges in a registry: per symbol and the total (undefined when never set). */
export const readGauges = (registry: Metric.MetricRegistry) =>
  Effect.gen(function*() {
    const snapshot = yield* Metric.snapshot
    const bySymbol: Record<string, number> = {}
    let total: number | undefined
    for (const s of snapshot) {
      if (s.id === realisedPnl.id) bySymbol[String(s.attributes?.["symbol"])] = (s.state as { value: number }).value
      if (s.id === realisedPnlTotal.id) total = (s.state as { value: number }).value
    }
    return { bySymbol, total }
  }).pipe(Effect.provideService(Metric.MetricRegistry, registry))

/** `GET /positions` items, as the API writes them. */
export const positionsJson = (pnl: PnlServiceShape) => Effect.map(pnl.openPositions, (ps) => ps.map((p) => encodePosition(p)))
/** The PnL part of `GET /bot/status`, as the API writes it. */
export const accountJson = (pnl: PnlServiceShape) => Effect.map(pnl.account, encodeAccount)
/** `GET /pnl?period=`, as the API writes it. */
export const summaryJson = (pnl: PnlServiceShape, period: Period) => Effect.map(pnl.periodSummary(period), encodeReport)
/** `GET /balances` items, as the API writes them. */
export const balancesJson = (pnl: PnlServiceShape) => Effect.map(pnl.balances, (list) => encodeBalances({ balances: list }).balances)
