/**
 * The bot's trading settings (the seed's `BotState` preferences), kept per user and session in
 * `bot_sessions`: auto-trade, manual confirmation, margin mode, leverage, and `paused`.
 *
 * The default user (`TRADING_DEFAULT_USERNAME`) and session (`TRADING_DEFAULT_SESSION`) are created
 * on first start with values from AUTO_TRADE_ENABLED, MANUAL_CONFIRMATION_REQUIRED,
 * DEFAULT_MARGIN_MODE and DEFAULT_LEVERAGE; afterwards the stored values win.
 * `current` is served from memory (no query per webhook); `update` writes through and audits.
 */
import { Context, Data, Effect, Layer, Ref, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { AuditLog } from "../audit/AuditLog.ts"
import { AppConfig } from "../config.ts"
import type { OrderStatus } from "../domain/order.ts"
import { type FieldProblem, MarginMode } from "../domain/vocabulary.ts"

export interface BotSettingsValue {
  readonly autoTradeEnabled: boolean
  readonly manualConfirmationRequired: boolean
  readonly marginMode: MarginMode
  readonly leverage: number
  /** Paused: new signals are stored but not acted on (settings untouched). */
  readonly paused: boolean
  readonly updatedAt: Date
}

export interface SettingsPatch {
  readonly autoTradeEnabled?: boolean | undefined
  readonly manualConfirmationRequired?: boolean | undefined
  readonly marginMode?: MarginMode | undefined
  readonly leverage?: number | undefined
  readonly paused?: boolean | undefined
}

export interface Actor {
  readonly actor: string
  readonly actorId?: string | undefined
}

export class InvalidSettings extends Data.TaggedError("InvalidSettings")<{
  readonly message: string
  readonly fields: ReadonlyArray<FieldProblem>
}> {}

/** Status of the order a new signal creates, given the settings: awaiting_approval (confirmation on), pending (auto-trade on), else skipped. */
export const initialOrderStatus = (s: BotSettingsValue): { readonly status: OrderStatus; readonly reason: string | null } => {
  if (s.paused) return { status: "skipped", reason: "bot paused" }
  if (s.manualConfirmationRequired) return { status: "awaiting_approval", reason: null }
  if (s.autoTradeEnabled) return { status: "pending", reason: null }
  return { status: "skipped", reason: "auto-trade is off" }
}

export const validatePatch = (patch: SettingsPatch): ReadonlyArray<FieldProblem> => {
  const problems: Array<FieldProblem> = []
  if (patch.leverage !== undefined && (!Number.isInteger(patch.leverage) || patch.leverage < 1 || patch.leverage > 125)) {
    problems.push({ field: "leverage", problem: "must be a whole number from 1 to 125" })
  }
  if (patch.marginMode !== undefined && !Schema.is(MarginMode)(patch.marginMode)) {
    problems.push({ field: "margin_mode", problem: `must be ${MarginMode.literals.join(" or ")}` })
  }
  return problems
}

interface Row {
  readonly user_id: string
  readonly session_id: string
  readonly auto_trade_enabled: boolean
  readonly manual_confirmation_required: boolean
  readonly margin_mode: MarginMode
  readonly leverage: number
  readonly paused: boolean
  readonly updated_at: Date
}

const toValue = (row: Row): BotSettingsValue => ({
  autoTradeEnabled: row.auto_trade_enabled,
  manualConfirmationRequired: row.manual_confirmation_required,
  marginMode: row.margin_mode,
  leverage: Number(row.leverage),
  paused: row.paused,
  updatedAt: new Date(row.updated_at)
})

export class BotSettings extends Context.Service<BotSettings, {
  /** Ids of the default user and bot session (decimal strings). */
  readonly owner: { readonly userId: string; readonly botSessionId: string }
  /** The settings, from memory. */
  readonly current: Effect.Effect<BotSettingsValue>
  /** Validates, stores, audits and refreshes the cache. */
  readonly update: (patch: SettingsPatch, actor: Actor) => Effect.Effect<BotSettingsValue, InvalidSettings | SqlError>
}>()("tvtelegrambingx/BotSettings") {
  static readonly make = Effect.gen(function*() {
    const config = yield* AppConfig
    const sql = yield* SqlClient.SqlClient
    const audit = yield* AuditLog
    const t = config.trading

    // Create (or find) the default user and session; concurrent starts are safe (upserts).
    const row = yield* sql.withTransaction(Effect.gen(function*() {
      const [user] = yield* sql<{ id: string }>`
        INSERT INTO users (username) VALUES (${t.defaultUsername})
        ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username
        RETURNING id::text AS id`
      yield* sql`
        INSERT INTO bot_sessions (user_id, name, auto_trade_enabled, manual_confirmation_required, margin_mode, leverage)
        VALUES (${user!.id}::bigint, ${t.defaultSession}, ${t.autoTradeEnabled}, ${t.manualConfirmationRequired},
                ${t.defaultMarginMode}, ${t.defaultLeverage})
        ON CONFLICT (user_id, name) DO NOTHING`
      const [session] = yield* sql<Row>`
        SELECT user_id::text AS user_id, id::text AS session_id, auto_trade_enabled, manual_confirmation_required,
               margin_mode, leverage, paused, updated_at
        FROM bot_sessions WHERE user_id = ${user!.id}::bigint AND name = ${t.defaultSession}`
      return session!
    }))
    const cache = yield* Ref.make(toValue(row))
    const owner = { userId: row.user_id, botSessionId: row.session_id }

    const update = Effect.fn("BotSettings.update")(function*(patch: SettingsPatch, actor: Actor) {
      const problems = validatePatch(patch)
      if (problems.length > 0) {
        yield* audit.record({ ...actor, action: "settings.update", payload: patch, result: "invalid" })
        return yield* new InvalidSettings({ message: "invalid settings", fields: problems })
      }
      const [updated] = yield* sql<Row>`
        UPDATE bot_sessions SET
          auto_trade_enabled = COALESCE(${patch.autoTradeEnabled ?? null}::boolean, auto_trade_enabled),
          manual_confirmation_required = COALESCE(${patch.manualConfirmationRequired ?? null}::boolean, manual_confirmation_required),
          margin_mode = COALESCE(${patch.marginMode ?? null}::text, margin_mode),
          leverage = COALESCE(${patch.leverage ?? null}::integer, leverage),
          paused = COALESCE(${patch.paused ?? null}::boolean, paused),
          updated_at = now()
        WHERE id = ${owner.botSessionId}::bigint
        RETURNING user_id::text AS user_id, id::text AS session_id, auto_trade_enabled, manual_confirmation_required,
                  margin_mode, leverage, paused, updated_at`
      const value = toValue(updated!)
      yield* Ref.set(cache, value)
      yield* audit.record({ ...actor, action: "settings.update", payload: patch, result: "ok" })
      return value
    })

    return BotSettings.of({ owner, current: Ref.get(cache), update })
  })

  /** Needs AppConfig, SqlClient and AuditLog. */
  static readonly layer = Layer.effect(BotSettings, BotSettings.make)
}
