/**
 * The handlers of the contract's `bot` group (src/api/Bot.ts; bearer auth — the Telegram bot and
 * operators use the same endpoints):
 * - `GET /bot/status` — the BotState: the settings, `trading_mode`, and the parts owned by other
 *   services (balances, pnl, open_positions, breaker) from `BotStatusParts`;
 * - `POST /bot/settings` — partial update of auto_trade_enabled, manual_confirmation_required,
 *   margin_mode, leverage, paused; validated (422 naming every field), audited by
 *   `BotSettings.update`; a body that is not JSON is a 400;
 * - `GET /bot/reports?limit=` — recent signals (default BOT_REPORT_LIMIT);
 * - `POST /bot/audit` — an audit row from the bot process (src/bot/routes.ts).
 */
import { ByteSize, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { decodeSettingsBody } from "../api/Bot.ts"
import { Invalid } from "../api/errors.ts"
import { orUnavailable, readJsonBody } from "../api/server.ts"
import { recordAudit } from "../bot/routes.ts"
import { AppConfig } from "../config.ts"
import { BotSettings, type BotSettingsValue } from "../settings/BotSettings.ts"
import { BotStatusParts } from "./BotStatusParts.ts"
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
    pnl: account.totals,
    open_positions: account.positions,
    breaker,
    trading_mode: config.trading.mode
  }
})

export const botGroup = HttpApiBuilder.group(Api, "bot", (handlers) =>
  handlers
    .handle("status", () => orUnavailable(botState))
    .handleRaw("settings", ({ request }) =>
      Effect.gen(function*() {
        const body = yield* readJsonBody(request, ByteSize.kibibytes(64), "body must be JSON, e.g. {\"auto_trade_enabled\": true}")
        const decoded = decodeSettingsBody(body)
        if (!decoded.ok) return yield* Invalid.of("invalid settings", decoded.fields)
        const settings = yield* BotSettings
        yield* orUnavailable(settings.update(decoded.patch, { actor: "api", actorId: "operator" })).pipe(
          Effect.catchTag("InvalidSettings", (e) => Effect.fail(Invalid.of(e.message, e.fields)))
        )
        return yield* orUnavailable(botState)
      }))
    .handle("reports", ({ query }) =>
      Effect.gen(function*() {
        const config = yield* AppConfig
        const signals = yield* orUnavailable((yield* SignalService).recent(query.limit ?? config.telegram.reportLimit))
        return { signals }
      }))
    .handleRaw("audit", ({ request }) => recordAudit(request)))
