/**
 * What the bot does with an update: the admin whitelist and the commands (the buttons — main menu,
 * approvals — are installed from `buttons.ts`). Every handler is an Effect run on the layer's
 * runtime (logger, tracer, metrics); none of them throws into grammY. Every admin command and button press is audited (user, action,
 * payload, result) through `BotBackend.audit`; strangers get one answer, are logged, counted and
 * audited as denied, and nothing else happens.
 */
import { Effect, Metric } from "effect"
import type { Bot, Context } from "grammy"
import type { InlineKeyboardMarkup } from "grammy/types"
import type { TelegramSettings } from "../config.ts"
import { botUpdates } from "../telemetry/metrics.ts"
import { type BackendError, BotBackend, type BotActor, type BotState, type PnlPeriod, type SettingsPatch } from "./BotBackend.ts"
import { installButtons } from "./buttons.ts"
import { helpText, ordersText, pnlText, positionsText, signalsText, statusText, UNAUTHORIZED_TEXT } from "./format.ts"
import { clip, escapeHtml } from "./html.ts"
import { mainMenu } from "./keyboards.ts"
import { failureText, ok, type Outcome, resultOf } from "./outcome.ts"
import { isNotModified, type TelegramCallFailed, TelegramClient } from "./TelegramClient.ts"

type Ctx = Context

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
  installButtons(bot, { actorOf, answer, audit, backend, edit, run })
})
