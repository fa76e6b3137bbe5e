/**
 * Fills, as they are recorded. The order actor stores each fill in `fills` (unique `fill_key`) and
 * then publishes it here; the PnL service applies it to the ledger. Publishing is best-effort: the
 * PnL service also applies, at start and periodically, every stored fill it has not applied yet
 * (fills are idempotent by id), so nothing depends on this in-memory channel alone.
 */
import { Context, Effect, Layer, PubSub, type Scope } from "effect"
import type { Action, PositionSide } from "../domain/vocabulary.ts"

export interface RecordedFill {
  /** `fills.id` (decimal string). */
  readonly fillId: string
  readonly orderId: string
  readonly symbol: string
  readonly action: Action
  /** null in one-way mode (net position). */
  readonly positionSide: PositionSide | null
  /** Decimal strings, exact. */
  readonly quantity: string
  readonly price: string
  readonly fee: string
  readonly feeAsset: string
  readonly filledAt: Date
}

export class FillEvents extends Context.Service<FillEvents, {
  readonly publish: (fill: RecordedFill) => Effect.Effect<void>
  readonly subscribe: Effect.Effect<PubSub.Subscription<RecordedFill>, never, Scope.Scope>
}>()("tvtelegrambingx/FillEvents") {
  static readonly layer = Layer.effect(
    FillEvents,
    Effect.gen(function*() {
      const hub = yield* PubSub.sliding<RecordedFill>(10_000)
      yield* Effect.addFinalizer(() => PubSub.shutdown(hub))
      return FillEvents.of({
        publish: (fill) => Effect.asVoid(PubSub.publish(hub, fill)),
        subscribe: PubSub.subscribe(hub)
      })
    })
  )
}
