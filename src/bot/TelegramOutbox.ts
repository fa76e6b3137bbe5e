/**
 * Outgoing notifications: a bounded in-memory queue and one sender fiber.
 *
 * `offer` never waits and never fails: when the queue is full the message is dropped, counted in
 * `tvtelegrambingx_notifications_dropped_total{reason="queue_full"}` and logged as a warning.
 * That is the only way a message is lost while Telegram is unreachable: the sender keeps the
 * oldest message and retries it (network errors, 5xx, a 429 longer than auto-retry honours) with
 * a capped exponential backoff until Telegram answers, while new messages keep queueing. A
 * message Telegram refuses for good (400/403: blocked, bad chat id) is dropped for that chat and
 * counted with `reason="rejected"`. Delivery is sequential, so each chat sees messages in order.
 *
 * Recipients: `TELEGRAM_CHAT_ID` (default: every admin of `TELEGRAM_ADMIN_IDS`) plus
 * `BOT_BROADCAST_CHAT_ID`.
 */
import { Context, Duration, Effect, Layer, Metric, Queue, Ref, Schedule } from "effect"
import type { InlineKeyboardMarkup } from "grammy/types"
import { AppConfig, type TelegramSettings } from "../config.ts"
import { notificationsDropped } from "../telemetry/metrics.ts"
import { TelegramCallFailed, TelegramClient } from "./TelegramClient.ts"

export interface RenderedMessage {
  /** Telegram HTML, already escaped and under 4096 visible characters. */
  readonly text: string
  readonly keyboard?: InlineKeyboardMarkup
}

export interface OutgoingMessage {
  /** What it is, for logs ("SignalReceived", "startup"…). */
  readonly kind: string
  /** Builds the text when it is sent (formatting stays off the caller's path, e.g. the webhook). */
  readonly render: () => RenderedMessage
}

export interface OutboxOptions {
  /** Messages held while Telegram is slow or down (default 1000). */
  readonly capacity?: number
  /** First retry delay after a transient failure (default 1 s), doubling up to `retryMax` (default 60 s). */
  readonly retryBase?: Duration.Input
  readonly retryMax?: Duration.Input
  /** How long shutdown waits for queued messages to go out (default 3 s). */
  readonly drainTimeout?: Duration.Input
}

export type ChatId = number | string

/** `TELEGRAM_CHAT_ID` (or every admin) plus `BOT_BROADCAST_CHAT_ID`, without duplicates. */
export const recipientsOf = (t: TelegramSettings): ReadonlyArray<ChatId> => {
  const primary: Array<ChatId> = t.chatId !== undefined ? [chatIdValue(t.chatId)] : [...t.adminIds]
  if (t.broadcastChatId !== undefined) primary.push(chatIdValue(t.broadcastChatId))
  const seen = new Set<string>()
  return primary.filter((c) => (seen.has(String(c)) ? false : (seen.add(String(c)), true)))
}

const chatIdValue = (raw: string): ChatId => (/^-?\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : raw)

export class TelegramOutbox extends Context.Service<TelegramOutbox, {
  /** Queues a message for every recipient; false when it was dropped (queue full or nobody to send to). */
  readonly offer: (message: OutgoingMessage) => Effect.Effect<boolean>
  readonly recipients: ReadonlyArray<ChatId>
  /** Messages waiting (tests, diagnostics). */
  readonly pending: Effect.Effect<number>
}>()("tvtelegrambingx/bot/TelegramOutbox") {
  static readonly make = (options: OutboxOptions = {}) =>
    Effect.gen(function*() {
      const config = yield* AppConfig
      const client = yield* TelegramClient
      const recipients = recipientsOf(config.telegram)
      const capacity = options.capacity ?? 1000
      const queue = yield* Queue.dropping<OutgoingMessage>(capacity)
      const sending = yield* Ref.make(false)
      const dropped = yield* Ref.make(0)

      if (recipients.length === 0) {
        yield* Effect.logWarning(
          "Telegram notifications have no recipient: set TELEGRAM_CHAT_ID or TELEGRAM_ADMIN_IDS (notifications are discarded)"
        )
      }

      const retry = Schedule.min([
        Schedule.exponential(options.retryBase ?? "1 second"),
        Schedule.spaced(options.retryMax ?? "60 seconds")
      ]).pipe(
        Schedule.setInputType<TelegramCallFailed>(),
        Schedule.while(({ input }) => input.transient)
      )

      const sendTo = (chatId: ChatId, message: OutgoingMessage, rendered: RenderedMessage) =>
        client.call("sendMessage", (signal) =>
          client.bot.api.sendMessage(
            chatId,
            rendered.text,
            {
              parse_mode: "HTML",
              link_preview_options: { is_disabled: true },
              ...(rendered.keyboard === undefined ? {} : { reply_markup: rendered.keyboard })
            },
            signal
          )).pipe(
            Effect.tapError((e) =>
              e.transient
                ? Effect.logWarning(`Telegram unreachable for a ${message.kind} notification (${e.message}); retrying`)
                : Effect.void
            ),
            Effect.retry(retry),
            Effect.catch((e: TelegramCallFailed) =>
              Effect.gen(function*() {
                yield* Metric.update(Metric.withAttributes(notificationsDropped, { reason: "rejected" }), 1)
                yield* Effect.logWarning(
                  `Telegram refused a ${message.kind} notification for chat ${chatId}: ${e.message}; dropped`
                )
              })
            ),
            Effect.asVoid
          )

      const deliver = (message: OutgoingMessage) =>
        Effect.gen(function*() {
          const rendered = message.render()
          yield* Effect.forEach(recipients, (chatId) => sendTo(chatId, message, rendered), { discard: true })
        }).pipe(
          Effect.catchDefect((defect) => Effect.logError(`could not render a ${message.kind} notification`, defect)),
          Effect.withSpan("TelegramOutbox.deliver", { attributes: { kind: message.kind } })
        )

      yield* Effect.gen(function*() {
        while (true) {
          const message = yield* Queue.take(queue)
          yield* Ref.set(sending, true)
          yield* deliver(message)
          yield* Ref.set(sending, false)
        }
      }).pipe(Effect.forkScoped)

      // On shutdown: a short, bounded wait for what is queued (never blocks a stop for long).
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          while ((yield* Queue.size(queue)) > 0 || (yield* Ref.get(sending))) yield* Effect.sleep("20 millis")
        }).pipe(Effect.timeout(options.drainTimeout ?? "3 seconds"), Effect.ignore)
      )

      const offer = (message: OutgoingMessage) =>
        Effect.gen(function*() {
          if (recipients.length === 0) return false
          const accepted = yield* Queue.offer(queue, message)
          if (!accepted) {
            const total = yield* Ref.updateAndGet(dropped, (n) => n + 1)
            yield* Metric.update(Metric.withAttributes(notificationsDropped, { reason: "queue_full" }), 1)
            yield* Effect.logWarning(
              `Telegram notification queue is full (${capacity}); dropped a ${message.kind} notification (${total} dropped so far)`
            )
          }
          return accepted
        })

      return TelegramOutbox.of({ offer, recipients, pending: Queue.size(queue) })
    })

  /** Needs `AppConfig` and `TelegramClient`. */
  static readonly layer = (options: OutboxOptions = {}) => Layer.effect(TelegramOutbox, TelegramOutbox.make(options))
}
