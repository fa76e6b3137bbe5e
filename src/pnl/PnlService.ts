/**
 * PnL, positions and balances. Takes and returns domain records (src/pnl/records.ts); the HTTP
 * edge encodes them (src/api/Pnl.ts).
 *
 * - Applies every recorded fill to the PnL book exactly once (idempotent by fill id: the fill is
 *   marked applied in the same transaction that updates its position; see PnlRepo), in id order:
 *   on each `FillEvents` message, at start, and every RECONCILE_INTERVAL_SECONDS — so a missed event
 *   or a restart loses nothing.
 * - Keeps the gauges `tvtelegrambingx_realised_pnl_usd{symbol}` and `…_realised_pnl_total_usd` equal
 *   to the stored book: set from the database at start (a restart does not reset them) and after
 *   every applied fill.
 * - Open positions (entry price = cost / quantity) with unrealised PnL at the exchange's mark price,
 *   cached for a few seconds per symbol; a mark price that cannot be read makes that position's
 *   mark price and unrealised PnL null (and it counts 0 in unrealised totals) — never a failed call.
 * - Balances from `Exchange.balances` (the paper exchange's simulated account in paper mode, BingX
 *   `/user/balance` live), cached briefly; when the exchange fails, the last answer is served for up
 *   to `balancesMaxStale`, then `BalancesUnavailable`. Mapping: free = available margin,
 *   total = equity, locked = total − free (never negative).
 * - Fee corrections: a fill booked with an estimated fee gets its exact fee later (`correctFee`);
 *   the ledger books the difference exactly once (see PnlRepo), whether the fill was applied
 *   already or not yet.
 *
 * The Exchange is read when one is provided below this layer (the paper or BingX layer); a
 * process without one logs that at start and reports no marks and no balances.
 */
import { BigDecimal, Clock, Context, Data, Duration, Effect, Layer, Metric, type Option, PubSub, Ref, Schedule, Semaphore } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { AppConfig } from "../config.ts"
import { plain, toMetricNumber, ZERO } from "../domain/decimal.ts"
import { averagePrice, unrealised as unrealisedOf } from "../domain/ledger.ts"
import { Exchange, type ExchangeShape } from "../exchange/Exchange.ts"
import { FillEvents, type RecordedFill } from "../orders/FillEvents.ts"
import { realisedPnl, realisedPnlTotal, taggedBy } from "../telemetry/metrics.ts"
import { type FillNotFound, type PnlLedgerError, PnlRepo } from "./PnlRepo.ts"
import type {
  Account,
  AppliedFill,
  Balance,
  FeeCorrection,
  OpenPosition,
  PeriodSummary,
  PnlTotals,
  ReportedFill,
  StoredSlot
} from "./records.ts"
import { type Period, periodSummary as summarise, periodWindow, type Window } from "./report.ts"

/** Balances could not be read from the exchange (and no recent answer is cached). */
export class BalancesUnavailable extends Data.TaggedError("BalancesUnavailable")<{
  readonly message: string
}> {}

export interface PnlServiceShape {
  /**
   * Makes sure `fill` (and every earlier stored fill) is applied; true when it is (now or before),
   * false when no such fill is stored yet (the periodic sweep will apply it once it is).
   */
  readonly apply: (fill: RecordedFill) => Effect.Effect<boolean, SqlError | PnlLedgerError>
  /** Applies every stored fill not applied yet, oldest first; the number applied. */
  readonly catchUp: Effect.Effect<number, SqlError | PnlLedgerError>
  /** Open positions, with marks where known (`GET /positions`). */
  readonly openPositions: Effect.Effect<ReadonlyArray<OpenPosition>, SqlError>
  readonly totals: Effect.Effect<PnlTotals, SqlError>
  /** `GET /balances` */
  readonly balances: Effect.Effect<ReadonlyArray<Balance>, BalancesUnavailable>
  /** `GET /pnl?period=` */
  readonly periodSummary: (period: Period) => Effect.Effect<PeriodSummary, SqlError>
  /** The fills of a window with their PnL, oldest first (`GET /reports/pnl.csv`). */
  readonly fillsReport: (window: Window) => Effect.Effect<ReadonlyArray<ReportedFill>, SqlError>
  /** Balances (none while the exchange cannot be read), totals and open positions, for `/bot/status`. */
  readonly account: Effect.Effect<Account, SqlError>
  /**
   * Sets a stored fill's fee to the exact figure; the book's fees change by the difference exactly
   * once (again with the same figure: no change). Before the fill is applied, it is applied with
   * the exact fee.
   */
  readonly correctFee: (
    fillId: string,
    fee: BigDecimal.BigDecimal
  ) => Effect.Effect<FeeCorrection, SqlError | FillNotFound | PnlLedgerError>
}

export interface PnlServiceOptions {
  /** How long a mark price is reused. Default 5 s. */
  readonly markPriceTtl?: Duration.Input
  /** How long balances are reused. Default 5 s. */
  readonly balancesTtl?: Duration.Input
  /** How long the last balances are served while the exchange fails. Default 5 min. */
  readonly balancesMaxStale?: Duration.Input
  /** Budget of one exchange read. Default 3 s. */
  readonly exchangeTimeout?: Duration.Input
  /** Period of the sweep for unapplied fills. Default RECONCILE_INTERVAL_SECONDS. */
  readonly sweepInterval?: Duration.Input
  /**
   * How long the applier waits after a fill event before applying, so the fills of a burst share
   * one ledger transaction. Default 20 ms; reads of the book apply pending fills themselves, so this
   * delays only the gauges.
   */
  readonly applyDelay?: Duration.Input
}

const symbolGaugeBy = taggedBy(realisedPnl)
const symbolGauge = (symbol: string) => symbolGaugeBy({ symbol })

/** Fills applied per ledger transaction at most (a burst is applied in a few transactions). */
const APPLY_BATCH = 100

export class PnlService extends Context.Service<PnlService, PnlServiceShape>()("tvtelegrambingx/PnlService") {
  static readonly make = (options: PnlServiceOptions = {}) =>
    Effect.gen(function*() {
      const config = yield* AppConfig
      const repo = yield* PnlRepo
      const fillEvents = yield* FillEvents
      const exchangeOption: Option.Option<ExchangeShape> = yield* Effect.serviceOption(Exchange)
      const exchange = exchangeOption._tag === "Some" ? exchangeOption.value : undefined
      const markTtl = Duration.toMillis(Duration.fromInputUnsafe(options.markPriceTtl ?? "5 seconds"))
      const balancesTtl = Duration.toMillis(Duration.fromInputUnsafe(options.balancesTtl ?? "5 seconds"))
      const balancesMaxStale = Duration.toMillis(Duration.fromInputUnsafe(options.balancesMaxStale ?? "5 minutes"))
      const exchangeTimeout = Duration.fromInputUnsafe(options.exchangeTimeout ?? "3 seconds")
      const applyDelay = Duration.fromInputUnsafe(options.applyDelay ?? "20 millis")
      const sweepInterval = Duration.fromInputUnsafe(
        options.sweepInterval ?? Duration.seconds(config.orders.reconcileIntervalSeconds)
      )

      // --- applying fills ------------------------------------------------------------------------
      const applying = yield* Semaphore.make(1)

      const setGauges = (applied: AppliedFill) =>
        Effect.all([
          Metric.update(symbolGauge(applied.symbol), toMetricNumber(applied.symbolRealised)),
          Metric.update(realisedPnlTotal, toMetricNumber(applied.totalRealised))
        ], { discard: true })

      const logApplied = (applied: AppliedFill) => {
        const o = applied.outcome
        const line = `PnL: fill ${applied.fillId} ${applied.symbol}/${applied.slot} applied: realised ${plain(o.realised)}, ` +
          `position ${o.state.side ?? "flat"} ${plain(o.state.leg.quantity)}`
        return BigDecimal.isPositive(o.ignored)
          ? Effect.logWarning(
            `${line}; ${plain(o.ignored)} of the fill reduced more than the ${applied.slot} leg held and was ignored ` +
              `(was the position changed outside the bot?)`
          )
          : Effect.logDebug(line)
      }

      /**
       * Applies all pending fills, in batches of up to 100 per transaction; gauges follow every fill.
       * Stops after a batch that drained the backlog (no extra transaction to find nothing): a fill
       * recorded meanwhile is published (another catch-up), read (reads catch up) or swept.
       */
      const catchUp = Semaphore.withPermit(
        applying,
        Effect.gen(function*() {
          let count = 0
          while (true) {
            const batch = yield* repo.applyBatch(APPLY_BATCH)
            for (const applied of batch.applied) {
              count++
              yield* setGauges(applied)
              yield* logApplied(applied)
            }
            if (batch.drained) return count
          }
        })
      ).pipe(Effect.withSpan("PnlService.catch_up"))

      const apply = Effect.fn("PnlService.apply")(function*(fill: RecordedFill) {
        yield* Effect.annotateCurrentSpan({ fill_id: fill.fillId, symbol: fill.symbol })
        yield* catchUp
        return (yield* repo.isApplied(fill.fillId)) === true
      })

      /** Gauges from the stored book (start, so a restart does not reset them). */
      const initGauges = Effect.gen(function*() {
        const slots = yield* repo.slots
        const bySymbol = new Map<string, BigDecimal.BigDecimal>()
        for (const s of slots) bySymbol.set(s.symbol, BigDecimal.sum(bySymbol.get(s.symbol) ?? ZERO, s.state.realised))
        for (const [symbol, realised] of bySymbol) yield* Metric.update(symbolGauge(symbol), toMetricNumber(realised))
        yield* Metric.update(realisedPnlTotal, toMetricNumber(BigDecimal.sumAll(bySymbol.values())))
      })

      // --- mark prices and balances ----------------------------------------------------------------
      const marks = yield* Ref.make(new Map<string, { readonly price: BigDecimal.BigDecimal; readonly at: number }>())

      const markPrice = (symbol: string): Effect.Effect<BigDecimal.BigDecimal | undefined> =>
        Effect.gen(function*() {
          if (exchange === undefined) return undefined
          const now = yield* Clock.currentTimeMillis
          const cached = (yield* Ref.get(marks)).get(symbol)
          if (cached !== undefined && now - cached.at < markTtl) return cached.price
          return yield* exchange.markPrice(symbol).pipe(
            Effect.timeout(exchangeTimeout),
            Effect.tap((price) =>
              Ref.update(marks, (m) => new Map(m).set(symbol, { price, at: now }))
            ),
            Effect.catchCause((cause) =>
              Effect.as(Effect.logWarning(`PnL: no mark price for ${symbol}; unrealised PnL unknown`, cause), undefined)
            )
          )
        })

      const balancesCache = yield* Ref.make<{ readonly value: ReadonlyArray<Balance>; readonly at: number } | undefined>(
        undefined
      )

      const balances = Effect.gen(function*() {
        if (exchange === undefined) {
          return yield* new BalancesUnavailable({ message: "no exchange is configured in this process" })
        }
        const now = yield* Clock.currentTimeMillis
        const cached = yield* Ref.get(balancesCache)
        if (cached !== undefined && now - cached.at < balancesTtl) return cached.value
        return yield* exchange.balances.pipe(
          Effect.timeout(exchangeTimeout),
          Effect.map((list) =>
            list.map((b): Balance => {
              const locked = BigDecimal.subtract(b.equity, b.available)
              return {
                asset: b.asset,
                free: b.available,
                locked: BigDecimal.isNegative(locked) ? ZERO : locked,
                total: b.equity
              }
            })
          ),
          Effect.tap((value) => Ref.set(balancesCache, { value, at: now })),
          Effect.catchCause((cause) => {
            if (cached !== undefined && now - cached.at < balancesMaxStale) {
              return Effect.as(
                Effect.logWarning("PnL: balances unavailable from the exchange; serving the last answer", cause),
                cached.value
              )
            }
            return Effect.andThen(
              Effect.logWarning("PnL: balances unavailable from the exchange", cause),
              Effect.fail(new BalancesUnavailable({ message: "the exchange did not answer the balance request" }))
            )
          })
        )
      }).pipe(Effect.withSpan("PnlService.balances"))

      // --- positions and totals ------------------------------------------------------------------
      const toOpen = (s: StoredSlot, mark: BigDecimal.BigDecimal | undefined): OpenPosition => {
        const side = s.state.side!
        return {
          symbol: s.symbol,
          slot: s.slot,
          side,
          quantity: s.state.leg.quantity,
          cost: s.state.leg.cost,
          entryPrice: averagePrice(s.state.leg)!,
          markPrice: mark ?? null,
          unrealised: mark === undefined ? null : unrealisedOf(side, s.state.leg, mark),
          leverage: s.state.leverage ?? null,
          openedAt: s.state.openedAt ?? null
        }
      }

      const withMarks = (slots: ReadonlyArray<StoredSlot>) =>
        Effect.gen(function*() {
          const open = slots.filter((s) => s.state.side !== undefined)
          const symbols = [...new Set(open.map((s) => s.symbol))]
          const prices = yield* Effect.forEach(symbols, markPrice, { concurrency: "unbounded" })
          const bySymbol = new Map(symbols.map((symbol, i) => [symbol, prices[i]]))
          return open.map((s) => toOpen(s, bySymbol.get(s.symbol)))
        })

      const sumUnrealised = (positions: ReadonlyArray<OpenPosition>) =>
        BigDecimal.sumAll(positions.map((p) => p.unrealised ?? ZERO))

      const totalsOf = (slots: ReadonlyArray<StoredSlot>, positions: ReadonlyArray<OpenPosition>): PnlTotals => {
        const realised = BigDecimal.sumAll(slots.map((s) => s.state.realised))
        const fees = BigDecimal.sumAll(slots.map((s) => s.state.fees))
        const unrealised = sumUnrealised(positions)
        return {
          realised,
          unrealised,
          total: BigDecimal.sum(realised, unrealised),
          fees,
          net: BigDecimal.subtract(realised, fees)
        }
      }

      /**
       * Every read of the book first applies the fills recorded but not applied yet (normally none, or
       * the ones of the last milliseconds): a fill already announced ("Order #n filled") is in the
       * figures that follow, whichever process or fiber applies it. A fill the book refuses does not
       * fail the read (the applier reports it); the figures then leave the pending fills out.
       */
      const settled = catchUp.pipe(
        Effect.catch((error) =>
          Effect.logWarning(`PnL: pending fills could not be applied before this read; the figures leave them out: ${error.message}`)
        )
      )
      const currentSlots = Effect.andThen(settled, repo.slots)
      /** Open positions with marks, as stored (callers settle first). */
      const storedPositions = Effect.flatMap(repo.slots, withMarks)

      const openPositions = Effect.andThen(settled, storedPositions).pipe(Effect.withSpan("PnlService.open_positions"))

      const totals = Effect.gen(function*() {
        const slots = yield* currentSlots
        return totalsOf(slots, yield* withMarks(slots))
      }).pipe(Effect.withSpan("PnlService.totals"))

      const periodSummary = Effect.fn("PnlService.period_summary")(function*(period: Period) {
        const now = new Date(yield* Clock.currentTimeMillis)
        const window = periodWindow(period, now)
        yield* settled
        const rows = yield* repo.periodBySymbol(window)
        const positions = yield* storedPositions
        return summarise(period, window, rows, sumUnrealised(positions))
      })

      const fillsReport = Effect.fn("PnlService.fills_report")(function*(window: Window) {
        yield* settled
        return yield* repo.fillsReport(window)
      })

      const account = Effect.gen(function*() {
        const slots = yield* currentSlots
        const [positions, balanceList] = yield* Effect.all([
          withMarks(slots),
          balances.pipe(Effect.catchTag("BalancesUnavailable", () => Effect.succeed([] as ReadonlyArray<Balance>)))
        ], { concurrency: "unbounded" })
        const result: Account = { balances: balanceList, totals: totalsOf(slots, positions), positions }
        return result
      }).pipe(Effect.withSpan("PnlService.account"))

      const correctFee = Effect.fn("PnlService.correct_fee")(function*(fillId: string, fee: BigDecimal.BigDecimal) {
        yield* Effect.annotateCurrentSpan({ fill_id: fillId })
        const correction = yield* repo.correctFee(fillId, fee)
        if (!BigDecimal.isZero(correction.delta)) {
          yield* Effect.logInfo(
            `PnL: fill ${fillId} fee corrected ${plain(correction.previousFee)} → ${plain(correction.fee)} ` +
              (correction.booked ? `(book fees ${BigDecimal.isNegative(correction.delta) ? "" : "+"}${plain(correction.delta)})` : "(not applied yet)")
          )
        }
        return correction
      })

      // --- start: gauges from the book, subscribe, catch up, then keep sweeping ----------------------
      if (exchange === undefined) {
        yield* Effect.logWarning("PnL: no exchange layer in this process: mark prices and balances are unavailable")
      }
      yield* initGauges
      const reportFailure = (what: string) => (cause: unknown) => Effect.logError(`PnL: ${what} failed`, cause)
      const subscription = yield* fillEvents.subscribe
      yield* catchUp.pipe(
        Effect.tap((n) => n > 0 ? Effect.logInfo(`PnL: applied ${n} stored fill(s) at start`) : Effect.void),
        Effect.catchCause(reportFailure("applying stored fills at start"))
      )
      yield* Effect.gen(function*() {
        while (true) {
          // Waits for a fill, lets the rest of a burst be recorded, then applies them all in one
          // catch-up (their events are taken: the catch-up reads every pending fill from the table).
          yield* PubSub.takeAll(subscription)
          if (Duration.isGreaterThan(applyDelay, Duration.zero)) yield* Effect.sleep(applyDelay)
          yield* PubSub.takeUpTo(subscription, Number.MAX_SAFE_INTEGER)
          yield* catchUp.pipe(Effect.catchCause(reportFailure("applying a new fill")))
        }
      }).pipe(Effect.forkScoped)
      yield* catchUp.pipe(
        Effect.catchCause(reportFailure("the periodic fill sweep")),
        Effect.repeat(Schedule.spaced(sweepInterval)),
        Effect.delay(sweepInterval),
        Effect.forkScoped
      )

      return PnlService.of({
        apply,
        catchUp,
        openPositions,
        totals,
        balances,
        periodSummary,
        fillsReport,
        account,
        correctFee
      })
    })

  /** Needs AppConfig, PnlRepo, FillEvents, and reads Exchange when provided. */
  static readonly layerNoDeps = (options: PnlServiceOptions = {}) => Layer.effect(PnlService, PnlService.make(options))

  /** Needs AppConfig, SqlClient, FillEvents (and Exchange when one is provided). */
  static readonly layerWith = (options: PnlServiceOptions) =>
    PnlService.layerNoDeps(options).pipe(Layer.provide(PnlRepo.layer))

  static readonly layer = PnlService.layerWith({})
}
