/**
 * The queue hop of a trace: one trace from the webhook request to the exchange call, although the
 * order crosses `SignalQueue` (and possibly minutes of waiting for approval) in between.
 *
 * Producer (the code that commits the order, inside its `SignalService.ingest` or approval span;
 * `queuedOrder` of SignalQueue.ts puts `spanForQueue` on the item):
 *
 *     yield* queue.offer(yield* queuedOrder({ orderId, symbol }))
 *
 * Consumer (the order actor), one line around the handler whose `Effect.fn` span should continue
 * the trace:
 *
 *     yield* handleSignal(item).pipe(continueQueuedTrace(item))
 *
 * `OrderService.handle_signal` then becomes a child of the committing span (same trace id), and its
 * HTTP client / SQL spans nest below it. The sampling decision travels with the span: a parent that
 * was not sampled keeps its children unsampled (parent-based sampler). An order found by the DB
 * sweep (no span: crash recovery, a full queue) starts a new trace.
 */
import { Effect, Option, type Tracer } from "effect"

/** The current span, to put on a `QueuedOrder` (undefined outside any span). */
export const spanForQueue: Effect.Effect<Tracer.AnySpan | undefined> = Effect.map(
  Effect.option(Effect.currentParentSpan),
  Option.getOrUndefined
)

/** Runs `self` as a continuation of the span the item was queued with (unchanged when it has none). */
export const continueQueuedTrace = (item: { readonly parentSpan: Tracer.AnySpan | undefined }) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>> =>
  item.parentSpan === undefined
    ? self as Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>>
    : Effect.withParentSpan(self, item.parentSpan)
