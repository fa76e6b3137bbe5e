/**
 * What the bot does with a button press: the main menu's setting buttons, refresh, and the
 * approve / reject buttons of an order awaiting confirmation.
 *
 * Invariants: every press is answered (a toast, or an alert for problems) and audited with its
 * callback data; an unknown button changes nothing. A menu change edits the pressed message to the
 * new status. Approve / reject make one backend call per press: a second press on the same order
 * while the first is under way is refused, not repeated; an order already decided (or expired) is
 * shown as it is now; an unavailable backend keeps the buttons so the press can be repeated.
 */
import { Effect } from "effect"
import type { Bot, Context } from "grammy"
import type { InlineKeyboardMarkup } from "grammy/types"
import type { BackendError, BotActor, BotBackendShape, BotState, Order, SettingsPatch } from "./contract.ts"
import { alreadyDecidedText, approvedText, orderNotFoundText, rejectedText, statusText } from "./format.ts"
import { clip } from "./html.ts"
import { mainMenu, parseCallback } from "./keyboards.ts"
import { describe, failureTextPlain, ok, type Outcome, resultOf } from "./outcome.ts"

type Ctx = Context

/** What the button handlers need from the bot's installation. */
export interface ButtonKit {
  readonly backend: BotBackendShape
  /** Runs an effect on the services of the bot layer. */
  readonly run: <A>(effect: Effect.Effect<A>) => Promise<A>
  /** Answers the callback query (failures logged). */
  readonly answer: (ctx: Ctx, text: string | undefined, alert?: boolean) => Effect.Effect<void>
  /** Edits the pressed button's message (failures logged). */
  readonly edit: (ctx: Ctx, text: string, keyboard?: InlineKeyboardMarkup) => Effect.Effect<void>
  readonly audit: (ctx: Ctx, action: string, outcome: Outcome, payload: Readonly<Record<string, unknown>>) => Effect.Effect<void>
  readonly actorOf: (ctx: Ctx) => BotActor
}

/** Installs the `callback_query:data` handler on `bot`. */
export const installButtons = (bot: Bot, { actorOf, answer, audit, backend, edit, run }: ButtonKit): void => {
  /** Orders whose approve/reject press is being handled (a second press waits for no one). */
  const deciding = new Set<string>()

  /** Menu buttons: change a setting, then edit the same message to the new status. */
  const menuChange = (ctx: Ctx, patch: SettingsPatch | ((s: BotState) => SettingsPatch), notice: (s: BotState) => string) =>
    Effect.gen(function*() {
      const change = typeof patch === "function" ? patch(yield* backend.status) : patch
      const state = yield* backend.updateSettings(change, actorOf(ctx))
      yield* answer(ctx, notice(state))
      yield* edit(ctx, statusText(state), mainMenu(state))
      return { result: "ok", payload: { patch: change } } satisfies Outcome
    })

  /** Approve / reject: one backend call per press, then the message shows the outcome. */
  const decide = (ctx: Ctx, orderId: string, decision: "approve" | "reject") =>
    Effect.gen(function*() {
      if (deciding.has(orderId)) {
        yield* answer(ctx, `Order ${orderId} is already being ${decision === "approve" ? "approved" : "rejected"}…`, true)
        return { result: "ignored: already in progress" } satisfies Outcome
      }
      deciding.add(orderId)
      const actor = actorOf(ctx)
      const call = decision === "approve" ? backend.approve(orderId, actor) : backend.reject(orderId, actor)
      const result = yield* Effect.result(call).pipe(Effect.ensuring(Effect.sync(() => deciding.delete(orderId))))
      if (result._tag === "Success") {
        const order = result.success
        yield* answer(ctx, `Order ${orderId} ${decision === "approve" ? "approved" : "rejected"}`)
        yield* edit(ctx, decision === "approve" ? approvedText(order, actor) : rejectedText(order, actor))
        return { result: "ok", payload: { order_status: order.status } } satisfies Outcome
      }
      const error = result.failure
      switch (error._tag) {
        case "Conflict": {
          // Already decided (a double press, another admin) or expired: say so, and show the order as it is now.
          const current = yield* Effect.option(backend.order(orderId))
          const order: Order | undefined = current._tag === "Some" ? current.value : undefined
          yield* answer(ctx, error.message, true)
          yield* edit(ctx, alreadyDecidedText(orderId, error.message, order))
          return { result: `conflict: ${clip(error.message, 200)}` } satisfies Outcome
        }
        case "NotFound":
          yield* answer(ctx, `Order ${orderId} was not found`, true)
          yield* edit(ctx, orderNotFoundText(orderId))
          return { result: `not found` } satisfies Outcome
        default:
          // Unavailable or refused: keep the buttons so the press can be repeated.
          yield* answer(ctx, `Could not ${decision} order ${orderId}: ${describe(error)}`, true)
          return { result: resultOf(error) } satisfies Outcome
      }
    })

  bot.on("callback_query:data", (ctx) =>
    run(
      Effect.gen(function*() {
        const data = ctx.callbackQuery.data
        const parsed = parseCallback(data)
        let outcome: Outcome
        let action: string
        if (parsed === undefined) {
          action = "button.unknown"
          yield* answer(ctx, "This button is not known (any more).", true)
          outcome = { result: "invalid: unknown button" }
        } else {
          action = `button.${parsed._tag === "Approve" ? "approve" : parsed._tag === "Reject" ? "reject" : data}`
          const handled: Effect.Effect<Outcome, BackendError> = (() => {
            switch (parsed._tag) {
              case "ToggleAutoTrade":
                return menuChange(
                  ctx,
                  (s) => ({ auto_trade_enabled: !s.auto_trade_enabled }),
                  (s) => (s.auto_trade_enabled ? "Auto-Trade enabled" : "Auto-Trade disabled")
                )
              case "ToggleManual":
                return menuChange(
                  ctx,
                  (s) => ({ manual_confirmation_required: !s.manual_confirmation_required }),
                  (s) => (s.manual_confirmation_required ? "Manual confirmations enabled" : "Manual confirmations disabled")
                )
              case "Margin":
                return menuChange(ctx, { margin_mode: parsed.mode }, () => `Margin set to ${parsed.mode}`)
              case "Leverage":
                return menuChange(ctx, { leverage: parsed.leverage }, () => `Leverage set to x${parsed.leverage}`)
              case "Noop":
                return Effect.as(answer(ctx, undefined), ok)
              case "Refresh":
                return Effect.gen(function*() {
                  const state = yield* backend.status
                  yield* answer(ctx, "Status updated")
                  yield* edit(ctx, statusText(state), mainMenu(state))
                  return ok
                })
              case "Approve":
                return decide(ctx, parsed.orderId, "approve")
              case "Reject":
                return decide(ctx, parsed.orderId, "reject")
            }
          })()
          outcome = yield* handled.pipe(
            Effect.catch((e: BackendError) => Effect.as(answer(ctx, failureTextPlain(e), true), { result: resultOf(e) }))
          )
        }
        yield* audit(ctx, action, outcome, { data })
      }).pipe(
        Effect.withSpan("TelegramBot.callback"),
        Effect.catchCause((cause) => Effect.logError("button press failed", cause))
      )
    ))
}
