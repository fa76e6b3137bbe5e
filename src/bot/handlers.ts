/**
 * What the bot does with an update: the admin whitelist, the commands, the main menu and the
 * approval buttons. Every handler is an Effect run on the layer's runtime (logger, tracer, metrics);
 * none of them throws into grammY. Every admin command and button press is audited (user, action,
 * payload, result) through `BotBackend.audit`; strangers get one answer, are logged, counted and
 * audited as denied, and nothing else happens.
 */
import { Effect, Metric } from "effect"
import type { Bot, Context } from "grammy"
import type { InlineKeyboardMarkup } from "grammy/types"
import type { TelegramSettings } from "../config.ts"
import { botUpdates } from "../telemetry/metrics.ts"
import {
  type BackendError,
  BotBackend,
  type BotActor,
  type BotState,
  type Order,
  type PnlPeriod,
  type SettingsPatch
} from "./BotBackend.ts"
import {
  alreadyDecidedText,
  approvedText,
  helpText,
  orderNotFoundText,
  ordersText,
  pnlText,
  positionsText,
  rejectedText,
  signalsText,
  statusText,
  UNAUTHORIZED_TEXT
} from "./format.ts"
import { clip, escapeHtml } from "./html.ts"
import { mainMenu, parseCallback } from "./keyboards.ts"
import { isNotModified, type TelegramCallFailed, TelegramClient } from "./TelegramClient.ts"

type Ctx = Context

/** What a handler tells the audit trail. */
interface Outcome {
  readonly result: string
  readonly payload?: Readonly<Record<string, unknown>>
}

const ok: Outcome = { result: "ok" }

const describe = (e: BackendError): string => {
  switch (e._tag) {
    case "Invalid":
      return e.fields.length === 0 ? e.message : `${e.message}: ${e.fields.map((f) => `${f.field} ${f.problem}`).join("; ")}`
    default:
      return e.message
  }
}

/** The reply to a failed backend call, in words an operator can act on. */
const failureText = (e: BackendError): string => {
  switch (e._tag) {
    case "BackendUnavailable":
      return `⚠️ Backend unavailable: ${escapeHtml(clip(e.message))}\nNothing was changed; try again shortly.`
    case "Invalid":
      return `⚠️ Not accepted: ${escapeHtml(clip(describe(e)))}`
    case "NotFound":
      return `❔ ${escapeHtml(clip(e.message))}`
    case "Conflict":
      return `ℹ️ ${escapeHtml(clip(e.message))}`
  }
}

const resultOf = (e: BackendError): string => `${e._tag === "BackendUnavailable" ? "error" : e._tag.toLowerCase()}: ${clip(describe(e), 200)}`

const ON = new Set(["on", "true", "yes", "1", "enable", "enabled"])
const OFF = new Set(["off", "false", "no", "0", "disable", "disabled"])

/** A whole number in [min, max], or undefined. */
const wholeNumber = (raw: string, min: number, max: number): number | undefined => {
  if (!/^\d{1,4}$/.test(raw)) return undefined
  const n = Number(raw)
  return n >= min && n <= max ? n : undefined
}

export interface HandlerOptions {
  /** Default for /orders without a count. */
  readonly defaultOrders?: number
}

/**
 * Installs the middleware on `bot`. Returns nothing; everything runs through `run`, an Effect
 * runner on the services of the bot layer.
 */
export const installHandlers = Effect.fnUntraced(function*(bot: Bot, telegramSettings: TelegramSettings, options: HandlerOptions = {}) {
  const backend = yield* BotBackend
  const telegram = yield* TelegramClient
  const services = yield* Effect.context<never>()
  const run = <A>(effect: Effect.Effect<A>) => Effect.runPromiseWith(services)(effect)
  const admins = new Set(telegramSettings.adminIds)
  const reportLimit = telegramSettings.reportLimit
  const defaultOrders = options.defaultOrders ?? 10
  /** Orders whose approve/reject press is being handled (a second press waits for no one). */
  const deciding = new Set<string>()

  // --- Telegram calls (failures are logged; a reply that cannot be sent changes nothing) -------
  const reply = (ctx: Ctx, text: string, keyboard?: InlineKeyboardMarkup) =>
    telegram.call("sendMessage", (signal) =>
      ctx.reply(
        text,
        {
          parse_mode: "HTML",
          link_preview_options: { is_disabled: true },
          ...(keyboard === undefined ? {} : { reply_markup: keyboard })
        },
        signal
      )).pipe(Effect.asVoid, Effect.catch(logCallFailure))

  const answer = (ctx: Ctx, text: string | undefined, alert = false) =>
    telegram.call("answerCallbackQuery", (signal) =>
      ctx.answerCallbackQuery(text === undefined ? {} : { text: clip(text, 200), show_alert: alert }, signal)).pipe(
        Effect.asVoid,
        Effect.catch(logCallFailure)
      )

  /** Edits the message the pressed button belongs to ("not modified" is fine: nothing changed). */
  const edit = (ctx: Ctx, text: string, keyboard?: InlineKeyboardMarkup) =>
    ctx.callbackQuery?.message === undefined ? Effect.void : telegram.call("editMessageText", (signal) =>
      ctx.editMessageText(
        text,
        {
          parse_mode: "HTML",
          link_preview_options: { is_disabled: true },
          ...(keyboard === undefined ? {} : { reply_markup: keyboard })
        },
        signal
      )).pipe(
        Effect.asVoid,
        Effect.catch((e) => (isNotModified(e) ? Effect.void : logCallFailure(e)))
      )

  const logCallFailure = (e: TelegramCallFailed) => Effect.logWarning(`Telegram ${e.method} failed: ${e.message}`)

  const actorOf = (ctx: Ctx): BotActor => ({ userId: ctx.from!.id, username: ctx.from!.username })

  const audit = (ctx: Ctx, action: string, outcome: Outcome, payload: Readonly<Record<string, unknown>>) =>
    backend.audit({
      actor: actorOf(ctx),
      action,
      payload: { chat_id: ctx.chat?.id ?? null, ...payload, ...outcome.payload },
      result: outcome.result
    })

  // --- Admin whitelist -------------------------------------------------------------------------
  bot.use(async (ctx, next) => {
    const kind = ctx.callbackQuery !== undefined ? "callback" : ctx.message !== undefined ? "message" : "other"
    const from = ctx.from
    if (from !== undefined && admins.has(from.id)) {
      await run(Metric.update(Metric.withAttributes(botUpdates, { type: kind }), 1))
      return next()
    }
    if (from === undefined || kind === "other") return
    await run(Effect.gen(function*() {
      yield* Metric.update(Metric.withAttributes(botUpdates, { type: "unauthorized" }), 1)
      yield* Effect.logWarning(`unauthorized Telegram ${kind} from user ${from.id} (@${from.username ?? "unknown"})`).pipe(
        Effect.annotateLogs({ telegram_user_id: from.id, telegram_username: from.username ?? null })
      )
      const text = ctx.message?.text
      if (kind === "callback") yield* answer(ctx, UNAUTHORIZED_TEXT, true)
      // In groups, only answer commands (a group's chatter is not addressed to the bot).
      else if (ctx.chat?.type === "private" || (text ?? "").startsWith("/")) yield* reply(ctx, UNAUTHORIZED_TEXT)
      yield* audit(ctx, `unauthorized.${kind}`, { result: "denied" }, {
        ...(text === undefined ? {} : { text: clip(text, 100) }),
        ...(ctx.callbackQuery?.data === undefined ? {} : { data: ctx.callbackQuery.data })
      })
    }).pipe(Effect.catchCause((cause) => Effect.logError("handling an unauthorized update failed", cause))))
  })

  // --- Commands --------------------------------------------------------------------------------
  const command = (name: string, handler: (ctx: Ctx, args: string) => Effect.Effect<Outcome, BackendError>) =>
    bot.command(name, (ctx) =>
      run(
        Effect.gen(function*() {
          const args = typeof ctx.match === "string" ? ctx.match.trim() : ""
          const outcome = yield* handler(ctx, args).pipe(
            Effect.catch((e: BackendError) => Effect.as(reply(ctx, failureText(e)), { result: resultOf(e) }))
          )
          yield* audit(ctx, `command./${name}`, outcome, args === "" ? {} : { args: clip(args, 100) })
        }).pipe(
          Effect.withSpan("TelegramBot.command", { attributes: { command: name } }),
          Effect.catchCause((cause) => Effect.logError(`/${name} failed`, cause))
        )
      ))

  /** Applies a settings patch and answers with the new status and the menu. */
  const applyAndShow = (ctx: Ctx, patch: SettingsPatch, notice: (s: BotState) => string) =>
    Effect.gen(function*() {
      const state = yield* backend.updateSettings(patch, actorOf(ctx))
      yield* reply(ctx, statusText(state, notice(state)), mainMenu(state))
      return { result: "ok", payload: { patch } } satisfies Outcome
    })

  const usage = (ctx: Ctx, text: string) => Effect.as(reply(ctx, escapeHtml(text)), { result: "invalid: usage" })

  command("start", (ctx) => Effect.as(reply(ctx, helpText()), ok))
  command("help", (ctx) => Effect.as(reply(ctx, helpText()), ok))

  command("status", (ctx) =>
    Effect.gen(function*() {
      const state = yield* backend.status
      yield* reply(ctx, statusText(state), mainMenu(state))
      return ok
    }))

  const toggle = (
    name: string,
    key: "auto_trade_enabled" | "manual_confirmation_required",
    label: string
  ) =>
    command(name, (ctx, args) =>
      Effect.gen(function*() {
        const arg = args.toLowerCase()
        let target: boolean
        if (arg === "") target = !(yield* backend.status)[key]
        else if (ON.has(arg)) target = true
        else if (OFF.has(arg)) target = false
        else return yield* usage(ctx, `Usage: /${name} [on|off] (without an argument it toggles)`)
        return yield* applyAndShow(ctx, { [key]: target }, (s) => `${label} ${s[key] ? "enabled" : "disabled"}`)
      }))
  toggle("autotrade", "auto_trade_enabled", "Auto-Trade")
  toggle("confirmations", "manual_confirmation_required", "Manual confirmations")

  command("margin", (ctx, args) =>
    Effect.gen(function*() {
      const mode = args.toLowerCase()
      if (mode === "") {
        const state = yield* backend.status
        yield* reply(ctx, statusText(state, "Usage: /margin isolated|cross"), mainMenu(state))
        return ok
      }
      if (mode !== "isolated" && mode !== "cross") return yield* usage(ctx, `Unknown margin mode "${clip(args, 30)}". Usage: /margin isolated|cross`)
      return yield* applyAndShow(ctx, { margin_mode: mode }, () => `Margin mode updated to ${mode}`)
    }))

  command("leverage", (ctx, args) =>
    Effect.gen(function*() {
      if (args === "") {
        const state = yield* backend.status
        yield* reply(ctx, statusText(state, "Usage: /leverage 1-125, e.g. /leverage 5"), mainMenu(state))
        return ok
      }
      const leverage = wholeNumber(args.replace(/^x/i, ""), 1, 125)
      if (leverage === undefined) return yield* usage(ctx, "Leverage must be a whole number from 1 to 125, e.g. /leverage 5")
      return yield* applyAndShow(ctx, { leverage }, () => `Leverage updated to x${leverage}`)
    }))

  command("reports", (ctx, args) =>
    Effect.gen(function*() {
      const limit = args === "" ? reportLimit : wholeNumber(args, 1, 100)
      if (limit === undefined) return yield* usage(ctx, "Usage: /reports [n] with n from 1 to 100")
      const signals = yield* backend.recentSignals(limit)
      yield* reply(ctx, signalsText(signals))
      return { result: "ok", payload: { count: signals.length } }
    }))

  command("pnl", (ctx, args) =>
    Effect.gen(function*() {
      const period = (args === "" ? "day" : args.toLowerCase()) as PnlPeriod
      if (period !== "day" && period !== "week" && period !== "all") return yield* usage(ctx, "Usage: /pnl [day|week|all]")
      yield* reply(ctx, pnlText(yield* backend.pnl(period)))
      return ok
    }))

  command("positions", (ctx) =>
    Effect.gen(function*() {
      const positions = yield* backend.positions
      yield* reply(ctx, positionsText(positions))
      return { result: "ok", payload: { count: positions.length } }
    }))

  command("orders", (ctx, args) =>
    Effect.gen(function*() {
      const limit = args === "" ? defaultOrders : wholeNumber(args, 1, 50)
      if (limit === undefined) return yield* usage(ctx, "Usage: /orders [n] with n from 1 to 50")
      const orders = yield* backend.orders(limit)
      yield* reply(ctx, ordersText(orders))
      return { result: "ok", payload: { count: orders.length } }
    }))

  command("pause", (ctx) =>
    applyAndShow(ctx, { paused: true }, () => "Paused: new signals are stored but not traded. /resume to continue."))
  command("resume", (ctx) => applyAndShow(ctx, { paused: false }, () => "Resumed: new signals are acted on again."))

  bot.on("message:text", (ctx) =>
    ctx.message.text.startsWith("/")
      ? run(
        Effect.gen(function*() {
          yield* reply(ctx, "Unknown command. Send /help for the list of commands.")
          yield* audit(ctx, "command.unknown", { result: "invalid: unknown command" }, { text: clip(ctx.message.text, 100) })
        }).pipe(Effect.catchCause((cause) => Effect.logError("unknown command reply failed", cause)))
      )
      : undefined)

  // --- Buttons ---------------------------------------------------------------------------------
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
})

/** Callback answers are plain text (no HTML), at most 200 characters. */
const failureTextPlain = (e: BackendError): string =>
  e._tag === "BackendUnavailable" ? `Backend unavailable: ${e.message}` : describe(e)
