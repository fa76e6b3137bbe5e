/**
 * What the parts of order execution share (planning, settling, submitting, the executor itself):
 * the services they call, the circuit breaker around every exchange call, the order's age, the
 * wait between attempts and the failure counter.
 *
 * Invariants: every exchange call goes through `guard` (or `guardCached` for calls the exchange
 * layer may answer from its cache: a cache hit is no sign the exchange is healthy); the age of an
 * order counts from when it last became `pending` (else from its creation); waits double from
 * `retryBaseMs` and never exceed 15 s (or the exchange's own Retry-After when longer).
 */
import { Clock, Duration, Effect, Metric } from "effect"
import { AppConfig } from "../config.ts"
import type { Order } from "../domain/order.ts"
import type { ExchangePositionSide, SignalPositionSide } from "../domain/vocabulary.ts"
import { Exchange } from "../exchange/Exchange.ts"
import { Notifier } from "../notify/Notifier.ts"
import { BotSettings } from "../settings/BotSettings.ts"
import { orderSubmitFailures, taggedBy } from "../telemetry/metrics.ts"
import { Breaker, exchangeVerdict } from "./Breaker.ts"
import { FillEvents } from "./FillEvents.ts"
import { OrderRepo } from "./OrderRepo.ts"

export interface ExecutorOptions {
  /** First wait between attempts after a transient failure (doubles, capped at 15 s). */
  readonly retryBaseMs?: number
  /** Waits while a MARKET order is still NEW at the exchange right after placing it. */
  readonly settlePollMs?: ReadonlyArray<number>
}

/** The side a fill is booked on: hedge legs long/short, one-way (BOTH) is a net position (null). */
export const bookedSide = (positionSide: ExchangePositionSide): SignalPositionSide =>
  positionSide === "LONG" ? "long" : positionSide === "SHORT" ? "short" : null

export const makeExecution = (options: ExecutorOptions) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const exchange = yield* Exchange
    const repo = yield* OrderRepo
    const breaker = yield* Breaker
    const settings = yield* BotSettings
    const notifier = yield* Notifier
    const fills = yield* FillEvents
    const retryBaseMs = options.retryBaseMs ?? 1_000
    const submitFailuresBy = taggedBy(orderSubmitFailures)

    const guard = <A, E extends { readonly _tag: string }, R>(call: Effect.Effect<A, E, R>) => breaker.guard(call, exchangeVerdict)
    const guardCached = <A, E extends { readonly _tag: string }, R>(call: Effect.Effect<A, E, R>) =>
      breaker.guard(call, exchangeVerdict, { cached: true })

    return {
      config,
      exchange,
      repo,
      settings,
      notifier,
      fills,
      maxAgeMs: config.orders.signalMaxAgeSeconds * 1000,
      settlePollMs: options.settlePollMs ?? [250, 500, 1_000, 2_000],
      guard,
      guardCached,
      ageMs: (order: Order) => Effect.map(Clock.currentTimeMillis, (now) => now - (order.pendingSince ?? order.createdAt).getTime()),
      backoff: (n: number, retryAfterMs: number | undefined) =>
        Effect.sleep(Duration.millis(Math.max(Math.min(retryBaseMs * 2 ** n, 15_000), retryAfterMs ?? 0))),
      failure: (symbol: string, kind: "transient" | "permanent" | "unknown") => Metric.update(submitFailuresBy({ symbol, kind }), 1)
    }
  })

export type Execution = Effect.Success<ReturnType<typeof makeExecution>>
