/**
 * The bot's control endpoints (bearer auth; the Telegram bot and operators use the same ones):
 * - `GET /bot/status` — the seed's BotState: the settings, `trading_mode`, and the parts owned by
 *   other services (balances, pnl, open_positions, breaker) from `BotStatusParts`;
 * - `POST /bot/settings` — partial update of auto_trade_enabled, manual_confirmation_required,
 *   margin_mode, leverage, paused; validated (422 with fields), audited by `BotSettings.update`;
 * - `GET /bot/reports?limit=` — recent signals (default BOT_REPORT_LIMIT).
 */
import { ByteSize, Effect, Layer, Schema, SchemaIssue } from "effect"
import { HttpServerRequest } from "effect/http"
import { AppConfig } from "../config.ts"
import { type FieldProblem, MarginMode } from "../domain/vocabulary.ts"
import { ApiError, json, operatorRoute, readBodyText } from "../http/respond.ts"
import { BotSettings, type BotSettingsValue, type SettingsPatch } from "../settings/BotSettings.ts"
import { BotStatusParts } from "./BotStatusParts.ts"
import { signalJson } from "./json.ts"
import { parseLimit } from "./routes.ts"
import { SignalService } from "./SignalService.ts"

const settingsJson = (s: BotSettingsValue) => ({
  auto_trade_enabled: s.autoTradeEnabled,
  manual_confirmation_required: s.manualConfirmationRequired,
  margin_mode: s.marginMode,
  leverage: s.leverage,
  paused: s.paused,
  updated_at: s.updatedAt.toISOString()
})

/**
 * The whole BotState answer (settings + the other services' parts). The bot's in-process backend
 * (src/bot/backendLocal.ts) answers its status with this same effect.
 */
export const botState = Effect.gen(function*() {
  const config = yield* AppConfig
  const settings = yield* BotSettings
  const parts = yield* BotStatusParts
  const [current, account, breaker] = yield* Effect.all([settings.current, parts.account, parts.breaker], {
    concurrency: "unbounded"
  })
  return {
    ...settingsJson(current),
    balances: account.balances,
    pnl: account.pnl,
    open_positions: account.open_positions,
    breaker,
    trading_mode: config.trading.mode
  }
})

const status = Effect.map(botState, (state) => json(state))

/** The body of POST /bot/settings (unknown fields are refused, so a typo is not silently ignored). */
export const SettingsBody = Schema.Struct({
  auto_trade_enabled: Schema.optionalKey(Schema.Boolean),
  manual_confirmation_required: Schema.optionalKey(Schema.Boolean),
  margin_mode: Schema.optionalKey(MarginMode),
  leverage: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 125 }))),
  paused: Schema.optionalKey(Schema.Boolean)
})

const PROBLEMS: Readonly<Record<string, string>> = {
  auto_trade_enabled: "must be true or false",
  manual_confirmation_required: "must be true or false",
  paused: "must be true or false",
  margin_mode: `must be ${MarginMode.literals.join(" or ")}`,
  leverage: "must be a whole number from 1 to 125"
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** Field problems of a settings body, or the patch. */
export const decodeSettingsBody = (
  body: unknown
): { readonly ok: true; readonly patch: SettingsPatch } | { readonly ok: false; readonly fields: ReadonlyArray<FieldProblem> } => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, fields: [{ field: "body", problem: "must be a JSON object of settings" }] }
  }
  const result = Schema.decodeUnknownResult(SettingsBody)(body, { errors: "all", onExcessProperty: "error" })
  if (result._tag === "Failure") {
    const fields = formatIssues(result.failure.issue).issues.map((issue): FieldProblem => {
      const path = issue.path ?? []
      const field = path.map(String).join(".") || "body"
      const known = PROBLEMS[field]
      return known !== undefined
        ? { field, problem: known }
        : path.length === 1
        ? { field, problem: `is not a setting (use ${Object.keys(PROBLEMS).join(", ")})` }
        : { field, problem: issue.message }
    })
    return { ok: false, fields }
  }
  const b = result.success
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

const updateSettings = Effect.gen(function*() {
  const text = yield* readBodyText(ByteSize.kibibytes(64))
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return yield* new ApiError({ status: 400, message: "body must be JSON, e.g. {\"auto_trade_enabled\": true}" })
  }
  const decoded = decodeSettingsBody(body)
  if (!decoded.ok) return yield* new ApiError({ status: 422, message: "invalid settings", fields: decoded.fields })
  const settings = yield* BotSettings
  yield* settings.update(decoded.patch, { actor: "api", actorId: "operator" }).pipe(
    Effect.catchTag("InvalidSettings", (e) => Effect.fail(new ApiError({ status: 422, message: e.message, fields: e.fields })))
  )
  return json(yield* botState)
})

const reports = Effect.gen(function*() {
  const config = yield* AppConfig
  const search = yield* HttpServerRequest.ParsedSearchParams
  const problems: Array<FieldProblem> = []
  const raw = search.limit
  const limit = parseLimit(typeof raw === "string" ? raw : raw?.[0], config.telegram.reportLimit, problems)
  if (problems.length > 0) return yield* new ApiError({ status: 422, message: "invalid query", fields: problems })
  const service = yield* SignalService
  const signals = yield* service.recent(limit)
  return json({ signals: signals.map(signalJson) })
})

export const botRoutes = Layer.mergeAll(
  operatorRoute("GET", "/bot/status", status),
  operatorRoute("POST", "/bot/settings", updateSettings),
  operatorRoute("GET", "/bot/reports", reports)
)
