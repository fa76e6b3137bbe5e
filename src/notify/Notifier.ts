/**
 * What the backend tells the humans. Services call `notify`; the Telegram layer (src/bot) delivers.
 *
 * `notify` never fails and never waits on Telegram: the live layer puts the notification on a
 * bounded queue and drops it (counted in `tvtelegrambingx_notifications_dropped_total`) only when
 * that queue overflows. Trading never depends on Telegram being up.
 */
import { Context, Effect, Layer } from "effect"
import type { OrderStatus } from "../domain/order.ts"
import type { Action, PositionSide, PriceSource } from "../domain/vocabulary.ts"

export type Notification =
  | {
    /** A signal was stored; `orderStatus` tells whether it waits for approval. */
    readonly _tag: "SignalReceived"
    readonly signalId: string
    readonly orderId: string
    readonly symbol: string
    readonly action: Action
    readonly positionSide: PositionSide | null
    readonly reduceOnly: boolean
    /** Decimal strings. */
    readonly quantity: string | null
    readonly price: string | null
    readonly orderStatus: OrderStatus
  }
  | {
    /** An order reached filled / rejected / failed / expired / cancelled (or partially filled). */
    readonly _tag: "OrderUpdate"
    readonly orderId: string
    readonly symbol: string
    readonly action: Action
    readonly status: OrderStatus
    readonly quantity: string | null
    readonly price: string | null
    /** Where the announced fill's price came from (`alert`: a paper fill at the signal's price); null: no fill announced. */
    readonly priceSource: PriceSource | null
    readonly reason: string | null
  }
  | {
    readonly _tag: "BreakerChanged"
    readonly state: "closed" | "half_open" | "open"
    readonly reason: string | null
  }
  | {
    readonly _tag: "Startup"
    readonly role: string
    readonly tradingMode: string
    readonly environment: string
  }

export class Notifier extends Context.Service<Notifier, {
  readonly notify: (notification: Notification) => Effect.Effect<void>
}>()("tvtelegrambingx/Notifier") {
  /** No Telegram configured: notifications go nowhere (debug-logged). */
  static readonly layerNoop = Layer.succeed(
    Notifier,
    Notifier.of({ notify: (n) => Effect.logDebug(`notification (no Telegram configured): ${n._tag}`) })
  )

  /** Tests: records notifications in memory. */
  static readonly layerMemory = (sent: Array<Notification>) =>
    Layer.succeed(Notifier, Notifier.of({ notify: (n) => Effect.sync(() => void sent.push(n)) }))
}
