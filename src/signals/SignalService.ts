/**
 * Signals: ingest (decode → persist signal + order → enqueue → notify) and the read side the API
 * and the bot use in-process.
 *
 * `ingest` acknowledges nothing before the rows are committed. After commit, `pending` orders go on
 * the bounded `SignalQueue` (never waiting: a full queue leaves them to the actor's DB sweep) and a
 * `SignalReceived` notification is handed to the Notifier (which never waits either). The commit and
 * these hand-offs are uninterruptible and run on their own fiber: a sender that hangs up (TradingView
 * gives up after ~3 s), or a route that stops waiting for a slow database, cannot leave a committed
 * order un-enqueued — and `ingest` itself stays interruptible, so the route can answer in time.
 */
import { Clock, Context, Data, Effect, Fiber, Layer, Metric, Option } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { AppConfig } from "../config.ts"
import {
  type CanonicalSignal,
  decodeSignals,
  MAX_FUTURE_SKEW_SECONDS,
  staleReason
} from "../domain/signal.ts"
import { plainOrNull } from "../domain/decimal.ts"
import type { FieldProblem } from "../domain/vocabulary.ts"
import { jsonForPostgres, type ParsedBody } from "../domain/webhookBody.ts"
import { Notifier } from "../notify/Notifier.ts"
import { queuedOrder, SignalQueue } from "../orders/SignalQueue.ts"
import { BotSettings, initialOrderStatus } from "../settings/BotSettings.ts"
import { signalIngestDuration, signalsIngested, taggedBy } from "../telemetry/metrics.ts"
import { type ListQuery, type NewSignalRow, SignalRepo, type SignalView } from "./SignalRepo.ts"

/** The alert cannot become a signal; `fields` says why (answered 422). */
export class SignalInvalid extends Data.TaggedError("SignalInvalid")<{
  readonly message: string
  readonly fields: ReadonlyArray<FieldProblem>
}> {}

export interface IngestResult {
  /** created: at least one new row; duplicate: every row existed; stale: new but expired. */
  readonly outcome: "created" | "duplicate" | "stale"
  /** In the order of the alert's actions (existing rows for duplicates). */
  readonly signals: ReadonlyArray<SignalView>
  /** The alert used an `actions` list (the answer is then `{"signals": [...]}`). */
  readonly list: boolean
}

const toRow = (s: CanonicalSignal, order: NewSignalRow["order"]): NewSignalRow => ({
  idempotencyKey: s.idempotencyKey,
  symbol: s.symbol,
  action: s.action,
  positionSide: s.positionSide,
  reduceOnly: s.reduceOnly,
  quantity: plainOrNull(s.quantity),
  marginUsdt: plainOrNull(s.marginUsdt),
  price: plainOrNull(s.price),
  leverage: s.leverage,
  marginMode: s.marginMode,
  stopLoss: plainOrNull(s.stopLoss),
  takeProfit: plainOrNull(s.takeProfit),
  signalTime: s.timestamp === null ? null : new Date(s.timestamp).toISOString(),
  order
})

export class SignalService extends Context.Service<SignalService, {
  readonly ingest: (body: ParsedBody) => Effect.Effect<IngestResult, SignalInvalid | SqlError>
  readonly list: (query: ListQuery) => Effect.Effect<ReadonlyArray<SignalView>, SqlError>
  readonly get: (id: string) => Effect.Effect<Option.Option<SignalView>, SqlError>
  /** The most recent signals (the bot's reports), newest first. */
  readonly recent: (limit: number) => Effect.Effect<ReadonlyArray<SignalView>, SqlError>
}>()("tvtelegrambingx/SignalService") {
  static readonly make = Effect.gen(function*() {
    const config = yield* AppConfig
    const repo = yield* SignalRepo
    const settings = yield* BotSettings
    const queue = yield* SignalQueue
    const notifier = yield* Notifier
    const maxAgeSeconds = config.orders.signalMaxAgeSeconds
    const ingestedBy = taggedBy(signalsIngested)
    const ingestDurationBy = taggedBy(signalIngestDuration)

    /** After commit: enqueue pending orders, notify, count. Never waits on the queue or Telegram. */
    const afterCommit = Effect.fnUntraced(function*(created: ReadonlyArray<SignalView>) {
      for (const s of created) {
        if (s.orderStatus === "pending" && s.orderId !== null) {
          const accepted = yield* queue.offer(yield* queuedOrder({ orderId: s.orderId, symbol: s.symbol }))
          if (!accepted) {
            yield* Effect.logWarning(`signal queue full: order ${s.orderId} waits for the order actor's database sweep`)
          }
        }
        yield* notifier.notify({
          _tag: "SignalReceived",
          signalId: s.id,
          orderId: s.orderId ?? "",
          symbol: s.symbol,
          action: s.action,
          positionSide: s.positionSide,
          reduceOnly: s.reduceOnly,
          quantity: plainOrNull(s.quantity),
          price: plainOrNull(s.price),
          orderStatus: s.orderStatus ?? "pending"
        })
        yield* Metric.update(ingestedBy({ symbol: s.symbol, action: s.action }), 1)
        yield* Effect.logInfo(
          `signal ${s.id} stored: ${s.symbol} ${s.action}${s.positionSide ? ` ${s.positionSide}` : ""}` +
            `${s.reduceOnly ? " reduce-only" : ""} quantity=${plainOrNull(s.quantity) ?? `(margin ${plainOrNull(s.marginUsdt)} USDT)`}` +
            ` → order ${s.orderId} ${s.orderStatus}`
        ).pipe(Effect.annotateLogs({ signal_id: s.id, order_id: s.orderId, symbol: s.symbol }))
      }
    })

    const ingest = Effect.fn("SignalService.ingest")(function*(body: ParsedBody) {
      const started = yield* Clock.currentTimeNanos
      const now = yield* Clock.currentTimeMillis
      const current = yield* settings.current
      const decoded = decodeSignals(body, {
        now,
        defaultLeverage: current.leverage,
        maxAgeSeconds,
        maxFutureSkewSeconds: MAX_FUTURE_SKEW_SECONDS
      })
      if (!decoded.ok) {
        const names = [...new Set(decoded.problems.map((p) => p.field))].join(", ")
        return yield* new SignalInvalid({ message: `invalid signal: check ${names}`, fields: decoded.problems })
      }
      const { signals, stale, ageSeconds, list: isList, timestampField } = decoded.value
      const first = signals[0]!
      yield* Effect.annotateCurrentSpan({
        "signal.symbol": first.symbol,
        "signal.action": first.action,
        "signal.count": signals.length,
        "signal.stale": stale
      })

      const initial = stale
        ? { status: "expired" as const, reason: staleReason(ageSeconds ?? 0, maxAgeSeconds, timestampField) }
        : initialOrderStatus(current)
      const rows = signals.map((s) =>
        toRow(s, {
          status: initial.status,
          reason: initial.reason,
          // The leverage used for margin sizing travels with the order, so execution matches it.
          leverage: s.leverage ?? s.sizedWithLeverage,
          // Stop-loss / take-profit belong to the opening order, not to a close.
          stopLoss: s.reduceOnly ? null : plainOrNull(s.stopLoss),
          takeProfit: s.reduceOnly ? null : plainOrNull(s.takeProfit)
        })
      )
      const receivedAt = new Date(now)
      const owner = settings.owner

      // The commit and its hand-offs run uninterruptibly on their own fiber: once started they
      // finish even when the caller stops waiting (the sender hung up, or the route answered 503
      // after WEBHOOK_DATABASE_TIMEOUT_MS). What became of such an abandoned alert is logged.
      let abandoned = false
      const commit = Effect.uninterruptible(Effect.gen(function*() {
        const inserted = yield* repo.insert(rows, {
          userId: owner.userId,
          botSessionId: owner.botSessionId,
          receivedAt,
          rawPayload: jsonForPostgres(body.raw)
        })
        const byKey = new Map(inserted.map((r) => [r.idempotencyKey, r]))
        const created: Array<SignalView> = []
        for (const s of signals) {
          const hit = byKey.get(s.idempotencyKey)
          if (hit === undefined) continue
          created.push({
            id: hit.id,
            idempotencyKey: s.idempotencyKey,
            symbol: s.symbol,
            action: s.action,
            positionSide: s.positionSide,
            reduceOnly: s.reduceOnly,
            quantity: s.quantity,
            marginUsdt: s.marginUsdt,
            price: s.price,
            leverage: s.leverage,
            marginMode: s.marginMode,
            stopLoss: s.stopLoss,
            takeProfit: s.takeProfit,
            timestamp: s.timestamp === null ? null : new Date(s.timestamp),
            receivedAt,
            orderId: hit.orderId,
            orderStatus: hit.orderStatus
          })
        }
        yield* afterCommit(created)
        return created
      })).pipe(
        Effect.tap((created) =>
          abandoned
            ? Effect.logWarning(
              `an alert whose sender was not waiting any more (503 after WEBHOOK_DATABASE_TIMEOUT_MS, or it hung up) was stored after all: signal(s) ${
                created.map((c) => c.id).join(", ") || "none new"
              }`
            )
            : Effect.void
        ),
        Effect.tapCause((cause) =>
          abandoned
            ? Effect.logWarning("an alert whose sender was not waiting any more (503 after WEBHOOK_DATABASE_TIMEOUT_MS, or it hung up) was not stored", cause)
            : Effect.void
        )
      )
      const result = yield* Fiber.join(yield* Effect.forkDetach(commit)).pipe(
        Effect.onInterrupt(() => Effect.sync(() => void (abandoned = true)))
      )

      const missing = rows.filter((r) => !result.some((c) => c.idempotencyKey === r.idempotencyKey))
      const existing = missing.length === 0 ? [] : yield* repo.findByKeys(missing.map((r) => r.idempotencyKey))
      const all = new Map([...existing, ...result].map((s) => [s.idempotencyKey, s]))
      const ordered = rows.flatMap((r) => {
        const s = all.get(r.idempotencyKey)
        return s === undefined ? [] : [s]
      })
      if (missing.length > 0) {
        yield* Effect.logInfo(
          `duplicate alert: ${missing.length} of ${rows.length} signal(s) already stored (signal ${
            existing.map((s) => s.id).join(", ")
          }); nothing new created`
        )
      }
      const outcome = result.length === 0 ? "duplicate" : stale ? "stale" : "created"
      yield* Effect.annotateCurrentSpan({
        "signal.outcome": outcome,
        "signal.ids": ordered.map((s) => s.id).join(","),
        "order.ids": ordered.map((s) => s.orderId ?? "").join(",")
      })
      const elapsed = Number((yield* Clock.currentTimeNanos) - started) / 1e9
      yield* Metric.update(ingestDurationBy({ symbol: first.symbol }), elapsed)
      return { outcome, signals: ordered, list: isList } satisfies IngestResult
    })

    const list = Effect.fn("SignalService.list")(function*(query: ListQuery) {
      return yield* repo.list(query)
    })
    const get = Effect.fn("SignalService.get")(function*(id: string) {
      return yield* repo.get(id)
    })
    const recent = Effect.fn("SignalService.recent")(function*(limit: number) {
      return yield* repo.list({ limit })
    })

    return SignalService.of({ ingest, list, get, recent })
  })

  /** Needs AppConfig, BotSettings, SignalQueue, Notifier and SqlClient. */
  static readonly layer = Layer.effect(SignalService, SignalService.make).pipe(Layer.provide(SignalRepo.layer))
  /** With a given repository (tests). */
  static readonly layerNoDeps = Layer.effect(SignalService, SignalService.make)
}
