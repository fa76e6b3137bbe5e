import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Metric, Ref } from "effect"
import { TestClock } from "effect/testing"
import { ExchangeRejectedError, ExchangeTransientError } from "../../src/exchange/Exchange.ts"
import { type Notification, Notifier } from "../../src/notify/Notifier.ts"
import { Breaker, exchangeVerdict } from "../../src/orders/Breaker.ts"
import { breakerState } from "../../src/telemetry/metrics.ts"

const transient = (message = "HTTP 503") => new ExchangeTransientError({ message, code: 503, retryAfterMs: undefined })

const setup = (sent: Array<Notification>) =>
  Layer.effect(Breaker, Breaker.make({ threshold: 3, cooldownMs: 30_000 })).pipe(Layer.provide(Notifier.layerMemory(sent)))

const gauge = Effect.map(Metric.value(breakerState), (s) => s.value)

describe("exchange circuit breaker", () => {
  it.effect("opens after N consecutive transient failures, holds calls for the cool-down, probes once, closes", () => {
    const sent: Array<Notification> = []
    return Effect.gen(function*() {
      const breaker = yield* Breaker
      const calls = yield* Ref.make(0)
      const failing = Effect.flatMap(Ref.update(calls, (n) => n + 1), () => Effect.fail(transient()))
      for (let i = 0; i < 2; i++) yield* Effect.flip(breaker.guard(failing, exchangeVerdict))
      expect((yield* breaker.status).state).toBe("closed")
      expect((yield* breaker.status).consecutiveFailures).toBe(2)
      yield* Effect.flip(breaker.guard(failing, exchangeVerdict))
      const open = yield* breaker.status
      expect(open.state).toBe("open")
      expect(open.lastError).toBe("HTTP 503")
      expect(yield* gauge).toBe(2)
      expect(sent.map((n) => n._tag === "BreakerChanged" && n.state)).toEqual(["open"])

      // A call now waits: it is held, not failed.
      const ok = Effect.as(Ref.update(calls, (n) => n + 1), "placed")
      const held = yield* Effect.forkChild(breaker.guard(ok, exchangeVerdict))
      yield* TestClock.adjust("29 seconds")
      expect(yield* Ref.get(calls)).toBe(3)
      expect(held.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(held)).toBe("placed")
      expect((yield* breaker.status).state).toBe("closed")
      expect(yield* gauge).toBe(0)
      expect(sent.map((n) => n._tag === "BreakerChanged" && n.state)).toEqual(["open", "half_open", "closed"])
    }).pipe(Effect.provide(setup(sent)))
  })

  it.effect("half-open lets exactly one probe through; a failed probe re-opens for another cool-down", () => {
    const sent: Array<Notification> = []
    return Effect.gen(function*() {
      const breaker = yield* Breaker
      for (let i = 0; i < 3; i++) yield* Effect.flip(breaker.guard(Effect.fail(transient()), exchangeVerdict))
      const probeStarted = yield* Deferred.make<void>()
      const releaseProbe = yield* Deferred.make<void>()
      const probe = Effect.gen(function*() {
        yield* Deferred.succeed(probeStarted, undefined)
        yield* Deferred.await(releaseProbe)
        return yield* Effect.fail(transient("still down"))
      })
      const started = yield* Ref.make(0)
      const other = Effect.as(Ref.update(started, (n) => n + 1), "other")
      const probeFiber = yield* Effect.forkChild(breaker.guard(probe, exchangeVerdict))
      const otherFiber = yield* Effect.forkChild(breaker.guard(other, exchangeVerdict))
      yield* TestClock.adjust("30 seconds")
      yield* Deferred.await(probeStarted)
      expect((yield* breaker.status).state).toBe("half_open")
      expect(yield* Ref.get(started)).toBe(0) // waits for the probe
      yield* Deferred.succeed(releaseProbe, undefined)
      expect((yield* Effect.flip(Fiber.join(probeFiber))).message).toBe("still down")
      expect((yield* breaker.status).state).toBe("open")
      expect(yield* Ref.get(started)).toBe(0)
      yield* TestClock.adjust("30 seconds")
      expect(yield* Fiber.join(otherFiber)).toBe("other")
      expect((yield* breaker.status).state).toBe("closed")
    }).pipe(Effect.provide(setup(sent)))
  })

  it.effect("a permanent refusal is an answer: it resets the count and does not open; unblock times extend the cool-down", () => {
    const sent: Array<Notification> = []
    return Effect.gen(function*() {
      const breaker = yield* Breaker
      yield* Effect.flip(breaker.guard(Effect.fail(transient()), exchangeVerdict))
      yield* Effect.flip(breaker.guard(Effect.fail(transient()), exchangeVerdict))
      yield* Effect.flip(breaker.guard(Effect.fail(new ExchangeRejectedError({ message: "insufficient margin", code: 101204 })), exchangeVerdict))
      expect(yield* breaker.status).toMatchObject({ state: "closed", consecutiveFailures: 0 })
      for (let i = 0; i < 2; i++) yield* Effect.flip(breaker.guard(Effect.fail(transient()), exchangeVerdict))
      yield* Effect.flip(breaker.guard(
        Effect.fail(new ExchangeTransientError({ message: "100410", code: 100410, retryAfterMs: 90_000 })),
        exchangeVerdict
      ))
      const status = yield* breaker.status
      expect(status.state).toBe("open")
      expect(status.openUntil!.getTime()).toBe(90_000)
    }).pipe(Effect.provide(setup(sent)))
  })

  it.effect("calls answered from a cache do not reset the count (else it never opens); a cached probe leaves the verdict to the next call", () => {
    const sent: Array<Notification> = []
    return Effect.gen(function*() {
      const breaker = yield* Breaker
      const cachedHit = Effect.succeed("one_way")
      // As in planning: position mode (cached) then the price (failing), three times over.
      for (let i = 0; i < 3; i++) {
        yield* breaker.guard(cachedHit, exchangeVerdict, { cached: true })
        yield* Effect.flip(breaker.guard(Effect.fail(transient()), exchangeVerdict))
      }
      expect((yield* breaker.status).state).toBe("open")
      yield* TestClock.adjust("30 seconds")
      // The cached call is admitted as the probe but gives no verdict: still half-open.
      yield* breaker.guard(cachedHit, exchangeVerdict, { cached: true })
      expect(yield* breaker.status).toMatchObject({ state: "half_open", consecutiveFailures: 3 })
      // A cached call's failure counts: the exchange was asked and did not answer.
      const again = yield* Effect.flip(breaker.guard(Effect.fail(transient("down")), exchangeVerdict, { cached: true }))
      expect(again.message).toBe("down")
      expect((yield* breaker.status).state).toBe("open")
      yield* TestClock.adjust("30 seconds")
      expect(yield* breaker.guard(Effect.succeed("price"), exchangeVerdict)).toBe("price")
      expect(yield* breaker.status).toMatchObject({ state: "closed", consecutiveFailures: 0 })
      expect(sent.map((n) => n._tag === "BreakerChanged" && n.state)).toEqual(["open", "half_open", "open", "half_open", "closed"])
    }).pipe(Effect.provide(setup(sent)))
  })
})
