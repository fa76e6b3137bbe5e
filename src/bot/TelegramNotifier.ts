/**
 * The `Notifier` (src/notify/Notifier.ts) delivered to Telegram: each notification becomes one HTML
 * message on the `TelegramOutbox`. New signals that wait for approval carry Approve / Reject
 * buttons; whichever process polls Telegram (role all or bot) handles the press.
 *
 * `notify` returns as soon as the message is queued: it never waits on Telegram and never fails.
 */
import { Effect, Layer } from "effect"
import { type Notification, Notifier } from "../notify/Notifier.ts"
import { notificationText } from "./format.ts"
import { approvalKeyboard } from "./keyboards.ts"
import { TelegramOutbox } from "./TelegramOutbox.ts"

export const makeTelegramNotifier = Effect.gen(function*() {
  const outbox = yield* TelegramOutbox
  const notify = (n: Notification) =>
    outbox.offer({
      kind: n._tag,
      render: () => ({
        text: notificationText(n),
        ...(n._tag === "SignalReceived" && n.orderStatus === "awaiting_approval"
          ? { keyboard: approvalKeyboard(n.orderId) }
          : {})
      })
    }).pipe(
      Effect.asVoid,
      Effect.catchCause((cause) => Effect.logError("could not queue a Telegram notification", cause))
    )
  return Notifier.of({ notify })
})

/** Needs `TelegramOutbox`. */
export const layerTelegramNotifier = Layer.effect(Notifier, makeTelegramNotifier)
