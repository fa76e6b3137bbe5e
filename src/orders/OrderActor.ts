/**
 * The order actor: the background part of order execution.
 *
 * - Takes order ids from `SignalQueue` and runs them on one worker fiber per symbol: orders of one
 *   symbol run strictly in order, different symbols run concurrently. The same order is never
 *   queued twice at once.
 * - Reconciliation at start and every RECONCILE_INTERVAL_SECONDS: approvals older than
 *   APPROVAL_TIMEOUT_SECONDS expire; every `pending` order is (re-)queued — crash recovery and a
 *   full queue lose nothing; the worker expires those older than SIGNAL_MAX_AGE_SECONDS; every
 *   `submitted` / `partially_filled` order is queried at the exchange and finished. That polling is
 *   enough on its own; exchange events (user-data stream) only make it faster.
 * - Exchange events: a status change of one of our orders reconciles it at once; a fill of an
 *   attached stop-loss / take-profit is recorded.
 * - Graceful shutdown: no new work is taken; each worker finishes the order it is on (up to
 *   `shutdownGraceMs`), then what is left is interrupted. Whatever was queued in memory is still
 *   `pending`/`submitted` in the database and is picked up by the next start.
 */
import { Clock, Effect, Fiber, Layer, PubSub, Queue, Schedule } from "effect"
import { AppConfig } from "../config.ts"
import { ExchangeEvents } from "../exchange/ExchangeEvents.ts"
import { OrderExecutor } from "./OrderExecutor.ts"
import { OrderRepo } from "./OrderRepo.ts"
import { type QueuedOrder, SignalQueue, sweptOrder } from "./SignalQueue.ts"

type Work =
  | { readonly _tag: "Execute"; readonly item: QueuedOrder }
  | { readonly _tag: "Reconcile"; readonly orderId: string; readonly symbol: string }
  | { readonly _tag: "Protective"; readonly key: string; readonly symbol: string; readonly run: Effect.Effect<void, unknown> }

const keyOf = (work: Work): string =>
  work._tag === "Execute" ? `execute:${work.item.orderId}` : work._tag === "Reconcile" ? `reconcile:${work.orderId}` : work.key

const symbolOf = (work: Work): string => (work._tag === "Execute" ? work.item.symbol : work.symbol)

export interface OrderActorOptions {
  /** How long shutdown waits for the orders in progress (default 10 s). 0 = interrupt at once. */
  readonly shutdownGraceMs?: number
}

export const make = (options: OrderActorOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const queue = yield* SignalQueue
    const executor = yield* OrderExecutor
    const repo = yield* OrderRepo
    const events = yield* ExchangeEvents
    const graceMs = options.shutdownGraceMs ?? 10_000

    const mailboxes = new Map<string, Queue.Queue<Work>>()
    const workers = new Map<string, Fiber.Fiber<void, never>>()
    const inFlight = new Set<string>()
    let stopping = false

    const run = (work: Work): Effect.Effect<void, unknown> => {
      switch (work._tag) {
        case "Execute":
          return executor.execute(work.item)
        case "Reconcile":
          return executor.reconcile(work.orderId)
        case "Protective":
          return work.run
      }
    }

    const worker = (symbol: string, mailbox: Queue.Queue<Work>) =>
      Effect.gen(function*() {
        while (true) {
          const work = yield* Queue.take(mailbox)
          yield* run(work).pipe(
            Effect.catchCause((cause) => Effect.logError(`order actor: ${keyOf(work)} on ${symbol} failed; the next sweep retries it`, cause)),
            Effect.ensuring(Effect.sync(() => inFlight.delete(keyOf(work))))
          )
        }
      }).pipe(Effect.annotateLogs({ symbol }))

    /** Puts work on its symbol's mailbox (starting that symbol's worker); duplicates are dropped. */
    const dispatch = (work: Work) =>
      Effect.gen(function*() {
        if (stopping) return
        const key = keyOf(work)
        if (inFlight.has(key)) return
        inFlight.add(key)
        const symbol = symbolOf(work)
        let mailbox = mailboxes.get(symbol)
        if (mailbox === undefined) {
          mailbox = yield* Queue.unbounded<Work>()
          mailboxes.set(symbol, mailbox)
          workers.set(symbol, yield* Effect.forkDetach(worker(symbol, mailbox)))
        }
        yield* Queue.offer(mailbox, work)
      })

    const sweep = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const late = yield* repo.olderThan(
        "awaiting_approval",
        new Date(now - config.orders.approvalTimeoutSeconds * 1000),
        "created"
      )
      for (const order of late) {
        yield* executor.finish(
          order,
          "expired",
          `approval timed out: not approved within APPROVAL_TIMEOUT_SECONDS (${config.orders.approvalTimeoutSeconds} s)`
        )
      }
      // In id order across both kinds, so that per symbol an order sent before a crash is settled
      // (or resent) before the orders that came after it.
      const active = yield* repo.inStatus(["pending", "submitted", "partially_filled"], 10_000)
      const pending = active.filter((o) => o.status === "pending")
      const open = active.filter((o) => o.status !== "pending")
      for (const order of active) {
        yield* dispatch(
          order.status === "pending"
            ? { _tag: "Execute", item: yield* sweptOrder({ orderId: order.id, symbol: order.symbol }) }
            : { _tag: "Reconcile", orderId: order.id, symbol: order.symbol }
        )
      }
      if (late.length + pending.length + open.length > 0) {
        yield* Effect.logInfo(
          `reconciliation: ${late.length} approval(s) expired, ${pending.length} pending and ${open.length} submitted order(s) queued`
        )
      }
    }).pipe(
      Effect.catchCause((cause) => Effect.logWarning("reconciliation pass failed; retrying at the next interval", cause)),
      Effect.withSpan("OrderActor.sweep")
    )

    const consumer = Effect.forever(Effect.flatMap(queue.take, (item) => dispatch({ _tag: "Execute", item })))

    const subscription = yield* events.subscribe
    const follower = Effect.forever(Effect.gen(function*() {
      const event = yield* PubSub.take(subscription)
      if (event._tag === "OrderChanged") {
        const order = event.clientOrderId !== undefined
          ? yield* repo.byClientOrderId(event.clientOrderId)
          : yield* repo.byExchangeOrderId(event.orderId)
        if (order !== undefined && (order.status === "submitted" || order.status === "partially_filled")) {
          yield* dispatch({ _tag: "Reconcile", orderId: order.id, symbol: order.symbol })
        }
      } else {
        yield* dispatch({
          _tag: "Protective",
          key: `protective:${event.exchangeOrderId}`,
          symbol: event.symbol,
          run: executor.recordProtectiveFill(event)
        })
      }
    }).pipe(Effect.catchCause((cause) => Effect.logWarning("exchange event could not be handled", cause))))

    const background = [
      yield* Effect.forkDetach(consumer),
      yield* Effect.forkDetach(follower),
      yield* Effect.forkDetach(
        sweep.pipe(Effect.repeat(Schedule.spaced(`${config.orders.reconcileIntervalSeconds} seconds`)))
      )
    ]

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        stopping = true
        yield* Fiber.interruptAll(background)
        for (const mailbox of mailboxes.values()) yield* Queue.shutdown(mailbox)
        const running = [...workers.values()]
        if (graceMs > 0 && running.length > 0) {
          yield* Fiber.awaitAll(running).pipe(Effect.timeout(`${graceMs} millis`), Effect.ignore)
        }
        yield* Fiber.interruptAll(running)
        yield* Effect.logInfo("order actor stopped")
      })
    )
    yield* Effect.logInfo(
      `order actor started (reconciliation every ${config.orders.reconcileIntervalSeconds} s, clientOrderId prefix tvb-${executor.clientOrderIdPrefix}-)`
    )
  })

/** The actor. Needs AppConfig, SignalQueue, OrderExecutor, OrderRepo, ExchangeEvents. */
export const layer = (options: OrderActorOptions = {}) => Layer.effectDiscard(make(options))
