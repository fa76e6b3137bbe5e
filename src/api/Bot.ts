/**
 * The `bot` group (bot status, settings, reports, audit), used by operators and by the Telegram
 * bot in role bot:
 * - `GET /bot/status`: the BotState — settings, `trading_mode`, and the parts other services own
 *   (balances, pnl, open_positions, breaker);
 * - `POST /bot/settings`: a partial settings update (unknown keys are refused: a typo is not
 *   silently ignored), answered with the new BotState;
 * - `GET /bot/reports?limit=`: recent signals (default BOT_REPORT_LIMIT);
 * - `POST /bot/audit`: an audit row from the bot process (it has no database), actor "telegram".
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import type { SettingsPatch } from "../settings/BotSettings.ts"
import { type FieldProblem, MarginMode, TradingMode } from "../domain/vocabulary.ts"
import { decodeFields } from "./fields.ts"
import { BadRequest, Invalid } from "./errors.ts"
import { Operator } from "./middleware.ts"
import { Balance, PnlSummary, Position } from "./Pnl.ts"
import { SignalList } from "./Signals.ts"
import { Limit, MAX_LIST_LIMIT } from "./wire.ts"

export const BreakerState = Schema.Literals(["closed", "half_open", "open"])

export const Breaker = Schema.Struct({
  state: BreakerState,
  consecutive_failures: Schema.Int,
  open_until: Schema.NullOr(Schema.String)
})
export type Breaker = typeof Breaker.Type

export const BotState = Schema.Struct({
  auto_trade_enabled: Schema.Boolean,
  manual_confirmation_required: Schema.Boolean,
  margin_mode: MarginMode,
  leverage: Schema.Int,
  paused: Schema.Boolean,
  updated_at: Schema.NullOr(Schema.String),
  trading_mode: TradingMode,
  balances: Schema.optionalKey(Schema.Array(Balance)),
  pnl: Schema.optionalKey(PnlSummary),
  open_positions: Schema.optionalKey(Schema.Array(Position)),
  breaker: Schema.optionalKey(Breaker)
})
export type BotState = typeof BotState.Type

/** The body of `POST /bot/settings`: any non-empty subset. */
export const SettingsBody = Schema.Struct({
  auto_trade_enabled: Schema.optionalKey(Schema.Boolean),
  manual_confirmation_required: Schema.optionalKey(Schema.Boolean),
  margin_mode: Schema.optionalKey(MarginMode),
  leverage: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 125 }))),
  paused: Schema.optionalKey(Schema.Boolean)
})
export type SettingsBody = typeof SettingsBody.Type

/** How each setting's problem is worded (server and bot client alike). */
const PROBLEMS: Readonly<Record<string, string>> = {
  auto_trade_enabled: "must be true or false",
  manual_confirmation_required: "must be true or false",
  paused: "must be true or false",
  margin_mode: "must be isolated or cross",
  leverage: "must be a whole number from 1 to 125"
}

/** Field problems of a settings body (every one, in the wording above), or the patch in the program's terms. */
export const decodeSettingsBody = (
  body: unknown
): { readonly ok: true; readonly patch: SettingsPatch } | { readonly ok: false; readonly fields: ReadonlyArray<FieldProblem> } => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, fields: [{ field: "body", problem: "must be a JSON object of settings" }] }
  }
  const decoded = decodeFields(SettingsBody, body, PROBLEMS, {
    onExcessProperty: "error",
    unknownKey: () => `is not a setting (use ${Object.keys(PROBLEMS).join(", ")})`
  })
  if (!decoded.ok) return decoded
  const b = decoded.value
  if (Object.keys(b).length === 0) {
    return { ok: false, fields: [{ field: "body", problem: `names no setting (use ${Object.keys(PROBLEMS).join(", ")})` }] }
  }
  return {
    ok: true,
    patch: {
      autoTradeEnabled: b.auto_trade_enabled,
      manualConfirmationRequired: b.manual_confirmation_required,
      marginMode: b.margin_mode,
      leverage: b.leverage,
      paused: b.paused
    }
  }
}


/** The body of `POST /bot/audit`. */
export const AuditBody = Schema.Struct({
  actor_id: Schema.String.check(Schema.isPattern(/^\d{1,20}$/)),
  username: Schema.optionalKey(Schema.NullOr(Schema.String)),
  action: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.:/-]{1,64}$/)),
  payload: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  result: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(500))
})
export type AuditBody = typeof AuditBody.Type

export const AuditRecorded = Schema.Struct({ status: Schema.Literal("recorded") })

export class BotApi extends HttpApiGroup.make("bot")
  .add(
    HttpApiEndpoint.get("status", "/bot/status", { success: BotState }),
    HttpApiEndpoint.post("settings", "/bot/settings", { payload: SettingsBody, success: BotState, error: [BadRequest, Invalid] }),
    HttpApiEndpoint.get("reports", "/bot/reports", {
      query: { limit: Schema.optional(Limit(MAX_LIST_LIMIT)) },
      success: SignalList
    }),
    HttpApiEndpoint.post("audit", "/bot/audit", {
      payload: AuditBody,
      success: AuditRecorded.pipe(HttpApiSchema.status(201)),
      error: [BadRequest, Invalid]
    })
  )
  .middleware(Operator)
  .annotateMerge(OpenApi.annotations({ title: "Bot", description: "Bot status, settings, reports and audit" }))
{}
