/**
 * What the exchange tells us on its own (not as an answer to a request): order status changes
 * (BingX user-data stream) and fills of attached stop-loss / take-profit orders (the stream in live
 * mode, the price refresh in paper mode). The order actor subscribes: status changes make it
 * reconcile that order at once, protective fills are recorded as orders + fills.
 *
 * Best-effort like `FillEvents`: reconciliation polling does not depend on it.
 */
import { type BigDecimal, Context, Effect, Layer, PubSub, type Scope } from "effect"
import type { ExchangeOrderStatus, ExchangePositionSide, ExchangeSide } from "../domain/vocabulary.ts"

export type ExchangeEvent =
  | {
    readonly _tag: "OrderChanged"
    readonly symbol: string
    readonly orderId: string
    readonly clientOrderId: string | undefined
    readonly status: ExchangeOrderStatus
  }
  | {
    /** An attached stop-loss / take-profit closed (part of) a position. */
    readonly _tag: "ProtectiveFill"
    readonly kind: "stop_loss" | "take_profit"
    readonly symbol: string
    readonly exchangeOrderId: string
    /** The entry order the SL/TP was attached to, when the exchange says. */
    readonly parentClientOrderId: string | undefined
    readonly side: ExchangeSide
    readonly positionSide: ExchangePositionSide
    readonly quantity: BigDecimal.BigDecimal
    readonly price: BigDecimal.BigDecimal
    /** Positive = paid. */
    readonly fee: BigDecimal.BigDecimal
    readonly feeAsset: string
    readonly filledAt: Date
  }

export class ExchangeEvents extends Context.Service<ExchangeEvents, {
  readonly publish: (event: ExchangeEvent) => Effect.Effect<void>
  readonly subscribe: Effect.Effect<PubSub.Subscription<ExchangeEvent>, never, Scope.Scope>
}>()("tvtelegrambingx/ExchangeEvents") {
  static readonly layer = Layer.effect(
    ExchangeEvents,
    Effect.gen(function*() {
      const hub = yield* PubSub.sliding<ExchangeEvent>(10_000)
      yield* Effect.addFinalizer(() => PubSub.shutdown(hub))
      return ExchangeEvents.of({
        publish: (event) => Effect.asVoid(PubSub.publish(hub, event)),
        subscribe: PubSub.subscribe(hub)
      })
    })
  )
}
