/**
 * The exchange circuit breaker of the order path.
 *
 * - closed: calls go through; EXCHANGE_BREAKER_THRESHOLD consecutive transient failures (after the
 *   client's own retries) open it. Any answer from the exchange — success or a permanent refusal —
 *   resets the count.
 * - open: for EXCHANGE_BREAKER_COOLDOWN_SECONDS (longer when the exchange named an unblock time),
 *   calls WAIT (orders are held, not dropped).
 * - half_open: after the cool-down exactly one call goes through as a probe; the others wait for
 *   its result. An answer closes the breaker, a transient failure opens it again.
 * State changes are logged, exported as `tvtelegrambingx_exchange_breaker_state` (0/1/2) and sent
 * to the Notifier; `status` is what /bot/status shows.
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, Layer, Metric, Ref } from "effect"
import { AppConfig } from "../config.ts"
import { Notifier } from "../notify/Notifier.ts"
import { breakerState } from "../telemetry/metrics.ts"

export type BreakerStateName = "closed" | "half_open" | "open"

export interface BreakerStatus {
  readonly state: BreakerStateName
  readonly consecutiveFailures: number
  /** When an open breaker lets the next probe through. */
  readonly openUntil: Date | null
  readonly lastError: string | null
}

/** How a guarded call ended, for the breaker. */
export type Verdict = "success" | "transient" | "neutral"

interface State {
  readonly state: BreakerStateName
  readonly failures: number
  readonly openUntil: number
  readonly probeInFlight: boolean
  readonly lastError: string | null
  /** Completed whenever the state changes (waiters re-check). */
  readonly changed: Deferred.Deferred<void>
}

const GAUGE: Record<BreakerStateName, number> = { closed: 0, half_open: 1, open: 2 }

export interface BreakerShape {
  /**
   * Runs `call` when the breaker allows it (waiting while it is open or a probe is in flight) and
   * feeds its outcome back: `classify` says which failures are transient.
   *
   * `cached: true` is for calls the exchange layer may answer from its cache (position mode,
   * contract rules, margin type, leverage): their failures count, their successes do not — a
   * cache hit says nothing about the exchange, and counting it would reset the failure count
   * before every real call, so the breaker could never open.
   */
  readonly guard: <A, E, R>(
    call: Effect.Effect<A, E, R>,
    classify: (error: E) => Verdict,
    options?: { readonly cached?: boolean }
  ) => Effect.Effect<A, E, R>
  readonly status: Effect.Effect<BreakerStatus>
}

export class Breaker extends Context.Service<Breaker, BreakerShape>()("tvtelegrambingx/Breaker") {
  static readonly make = (options: { readonly threshold: number; readonly cooldownMs: number }) =>
    Effect.gen(function*() {
      const notifier = yield* Notifier
      const ref = yield* Ref.make<State>({
        state: "closed",
        failures: 0,
        openUntil: 0,
        probeInFlight: false,
        lastError: null,
        changed: yield* Deferred.make<void>()
      })
      yield* Metric.update(breakerState, GAUGE.closed)

      const announce = (from: BreakerStateName, to: State) =>
        Effect.gen(function*() {
          if (from === to.state) return
          yield* Metric.update(breakerState, GAUGE[to.state])
          const reason = to.state === "open"
            ? `${to.failures} consecutive transient exchange failures (last: ${to.lastError ?? "unknown"}); holding orders until ${new Date(to.openUntil).toISOString()}`
            : to.state === "half_open"
            ? "cool-down over: one probe request goes through"
            : "the exchange answered again"
          const log = to.state === "open" ? Effect.logWarning : Effect.logInfo
          yield* log(`exchange circuit breaker ${from} → ${to.state}: ${reason}`)
          yield* notifier.notify({ _tag: "BreakerChanged", state: to.state, reason })
        })

      /** Replaces the state and wakes every waiter. */
      const transition = (update: (s: State) => State) =>
        Effect.gen(function*() {
          const fresh = yield* Deferred.make<void>()
          const [before, after] = yield* Ref.modify(ref, (s) => {
            const next = { ...update(s), changed: fresh }
            return [[s, next] as const, next]
          })
          yield* Deferred.succeed(before.changed, undefined)
          yield* announce(before.state, after)
          return after
        })

      /** Waits until a call may go; true when this call is the half-open probe. */
      const admit: Effect.Effect<boolean> = Effect.gen(function*() {
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const s = yield* Ref.get(ref)
          if (s.state === "closed") return false
          if (s.state === "open" && now < s.openUntil) {
            // Sleep until the cool-down ends (or the state changes).
            yield* Effect.raceFirst(Effect.sleep(Duration.millis(s.openUntil - now)), Deferred.await(s.changed))
            continue
          }
          if (!s.probeInFlight) {
            // Claim the probe atomically.
            const claimed = yield* Ref.modify(ref, (cur) =>
              cur === s ? [true, { ...cur, state: "half_open" as const, probeInFlight: true }] : [false, cur])
            if (claimed) {
              if (s.state !== "half_open") {
                yield* Metric.update(breakerState, GAUGE.half_open)
                yield* announce(s.state, { ...s, state: "half_open" })
              }
              return true
            }
            continue
          }
          yield* Deferred.await(s.changed)
        }
      })

      const record = (verdict: Verdict, probe: boolean, error: string | null, retryAfterMs: number | undefined) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          if (verdict === "transient") {
            yield* transition((s) => {
              const failures = s.failures + 1
              if (probe || s.state === "half_open" || failures >= options.threshold) {
                return {
                  ...s,
                  state: "open",
                  failures,
                  probeInFlight: false,
                  lastError: error,
                  openUntil: now + Math.max(options.cooldownMs, retryAfterMs ?? 0)
                }
              }
              return { ...s, failures, lastError: error }
            })
          } else {
            const s = yield* Ref.get(ref)
            if (s.state === "closed" && s.failures === 0 && !probe) return
            yield* transition((cur) => ({ ...cur, state: "closed", failures: 0, probeInFlight: false, openUntil: 0 }))
          }
        })

      const guard = <A, E, R>(
        call: Effect.Effect<A, E, R>,
        classify: (error: E) => Verdict,
        options?: { readonly cached?: boolean }
      ): Effect.Effect<A, E, R> =>
        Effect.gen(function*() {
          const probe = yield* admit
          /** Releases the probe without a verdict (the next call probes). */
          const noVerdict = probe ? transition((s) => ({ ...s, probeInFlight: false })).pipe(Effect.asVoid) : Effect.void
          return yield* call.pipe(Effect.onExit((exit) => {
            if (Exit.isSuccess(exit)) return options?.cached === true ? noVerdict : record("success", probe, null, undefined)
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
            if (failure === undefined || failure._tag !== "Fail") {
              // Interrupted or died: no verdict.
              return noVerdict
            }
            const e = failure.error
            const verdict = classify(e)
            const message = (e as { message?: unknown }).message
            const retryAfter = (e as { retryAfterMs?: unknown }).retryAfterMs
            return record(
              verdict,
              probe,
              typeof message === "string" ? message : String(e),
              typeof retryAfter === "number" ? retryAfter : undefined
            )
          }))
        })

      const status = Effect.map(Ref.get(ref), (s): BreakerStatus => ({
        state: s.state,
        consecutiveFailures: s.failures,
        openUntil: s.state === "closed" ? null : new Date(s.openUntil),
        lastError: s.lastError
      }))

      return Breaker.of({ guard, status })
    })

  /** EXCHANGE_BREAKER_THRESHOLD / EXCHANGE_BREAKER_COOLDOWN_SECONDS. Needs AppConfig and Notifier. */
  static readonly layer = Layer.effect(
    Breaker,
    Effect.flatMap(AppConfig, (config) =>
      Breaker.make({
        threshold: config.orders.breakerThreshold,
        cooldownMs: config.orders.breakerCooldownSeconds * 1000
      }))
  )
}

/** The breaker's view of exchange errors: transient and unknown outcomes count, answers reset. */
export const exchangeVerdict = (e: { readonly _tag: string }): Verdict =>
  e._tag === "ExchangeTransientError" || e._tag === "ExchangeUnknownOutcome" ? "transient" : "neutral"
