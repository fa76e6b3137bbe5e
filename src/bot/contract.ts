/**
 * The bot's view of the backend: the HTTP contract's JSON shapes as Effect Schemas (snake_case
 * keys, decimals and ids as strings, timestamps as ISO-8601 strings, exactly as on the wire), the
 * typed errors, and the `BotBackendShape` interface that both layers (HTTP and in-process) satisfy.
 *
 * The decoded type equals the wire shape on purpose: the in-process layer can produce these values
 * with the same encoders the HTTP routes use, so both layouts hand the bot identical values.
 * Unknown extra keys are ignored (forward compatible); missing or malformed ones are errors.
 */
import { Data, Effect, Schema } from "effect"
import { Id } from "../domain/ids.ts"
import { OrderStatus } from "../domain/order.ts"
import { Action, MarginMode, PositionSide, PriceSource, TradingMode } from "../domain/vocabulary.ts"

// ---------------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------------

/** An exact decimal as a string ("65000.5", "-0.25", "0"; exponent form tolerated). */
export const Decimal = Schema.String.check(
  Schema.isPattern(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, { expected: "a decimal string such as \"65000.5\"" })
)
/** An id as a decimal string ("34"). */
/** An ISO-8601 timestamp string ("2026-01-02T03:04:05.000Z"). */
export const Timestamp = Schema.String.check(
  Schema.isPattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/, {
    expected: "an ISO-8601 timestamp"
  })
)

export const BreakerStateSchema = Schema.Literals(["closed", "half_open", "open"])
export const PnlPeriodSchema = Schema.Literals(["day", "week", "all"])
export type PnlPeriod = typeof PnlPeriodSchema.Type

// ---------------------------------------------------------------------------------------------
// Shapes of the HTTP contract
// ---------------------------------------------------------------------------------------------

export const Balance = Schema.Struct({
  asset: Schema.String,
  free: Decimal,
  locked: Decimal,
  total: Decimal
})
export type Balance = typeof Balance.Type

export const PnlSummary = Schema.Struct({
  realized: Decimal,
  unrealized: Decimal,
  total: Decimal,
  fees: Decimal,
  net: Decimal
})
export type PnlSummary = typeof PnlSummary.Type

export const Position = Schema.Struct({
  symbol: Schema.String,
  side: PositionSide,
  quantity: Decimal,
  entry_price: Decimal,
  mark_price: Schema.NullOr(Decimal),
  unrealized_pnl: Schema.NullOr(Decimal),
  leverage: Schema.NullOr(Schema.Int),
  opened_at: Schema.NullOr(Timestamp)
})
export type Position = typeof Position.Type

export const Breaker = Schema.Struct({
  state: BreakerStateSchema,
  consecutive_failures: Schema.Int,
  open_until: Schema.NullOr(Timestamp)
})
export type Breaker = typeof Breaker.Type

/**
 * `GET /bot/status` (the seed's BotState). The settings part is always there; the parts owned by
 * the PnL and order services (`balances`, `pnl`, `open_positions`, `breaker`) may be absent while
 * a deployment does not provide them, and the bot then says "not available".
 */
export const BotState = Schema.Struct({
  auto_trade_enabled: Schema.Boolean,
  manual_confirmation_required: Schema.Boolean,
  margin_mode: MarginMode,
  leverage: Schema.Int,
  paused: Schema.Boolean,
  updated_at: Schema.NullOr(Timestamp),
  trading_mode: TradingMode,
  balances: Schema.optionalKey(Schema.Array(Balance)),
  pnl: Schema.optionalKey(PnlSummary),
  open_positions: Schema.optionalKey(Schema.Array(Position)),
  breaker: Schema.optionalKey(Breaker)
})
export type BotState = typeof BotState.Type

export const Signal = Schema.Struct({
  id: Id,
  symbol: Schema.String,
  action: Action,
  position_side: Schema.NullOr(PositionSide),
  reduce_only: Schema.Boolean,
  quantity: Schema.NullOr(Decimal),
  margin_usdt: Schema.NullOr(Decimal),
  price: Schema.NullOr(Decimal),
  leverage: Schema.NullOr(Schema.Int),
  margin_mode: Schema.NullOr(MarginMode),
  stop_loss: Schema.NullOr(Decimal),
  take_profit: Schema.NullOr(Decimal),
  timestamp: Schema.NullOr(Timestamp),
  received_at: Timestamp,
  order_id: Schema.NullOr(Id),
  order_status: Schema.NullOr(OrderStatus)
})
export type Signal = typeof Signal.Type

export const SignalList = Schema.Struct({ signals: Schema.Array(Signal) })

export const Fill = Schema.Struct({
  id: Id,
  quantity: Decimal,
  price: Decimal,
  fee: Decimal,
  fee_asset: Schema.String,
  /** `exchange`, or `alert` for a paper fill at the signal's price; null for fills recorded before sources were kept. */
  price_source: Schema.NullOr(PriceSource),
  filled_at: Timestamp
})
export type Fill = typeof Fill.Type

export const Order = Schema.Struct({
  id: Id,
  signal_id: Id,
  symbol: Schema.String,
  action: Action,
  position_side: Schema.NullOr(PositionSide),
  reduce_only: Schema.Boolean,
  status: OrderStatus,
  quantity: Schema.NullOr(Decimal),
  filled_quantity: Decimal,
  price: Schema.NullOr(Decimal),
  average_price: Schema.NullOr(Decimal),
  leverage: Schema.NullOr(Schema.Int),
  margin_mode: Schema.NullOr(MarginMode),
  stop_loss: Schema.NullOr(Decimal),
  take_profit: Schema.NullOr(Decimal),
  client_order_id: Schema.NullOr(Schema.String),
  exchange_order_id: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(Schema.String),
  created_at: Timestamp,
  updated_at: Timestamp,
  fills: Schema.optionalKey(Schema.Array(Fill))
})
export type Order = typeof Order.Type

export const OrderList = Schema.Struct({ orders: Schema.Array(Order) })

export const PnlBySymbol = Schema.Struct({
  symbol: Schema.String,
  realized: Decimal,
  fees: Decimal,
  net: Decimal,
  volume: Decimal,
  trades: Schema.Int
})

export const PnlReport = Schema.Struct({
  period: PnlPeriodSchema,
  from: Schema.NullOr(Timestamp),
  to: Timestamp,
  realized: Decimal,
  fees: Decimal,
  net: Decimal,
  unrealized: Decimal,
  volume: Decimal,
  trades: Schema.Int,
  realising_fills: Schema.Int,
  win_rate: Schema.NullOr(Decimal),
  by_symbol: Schema.Array(PnlBySymbol)
})
export type PnlReport = typeof PnlReport.Type

export const PositionList = Schema.Struct({ positions: Schema.Array(Position) })

/** `POST /bot/settings` body: any subset. */
export interface SettingsPatch {
  readonly auto_trade_enabled?: boolean
  readonly manual_confirmation_required?: boolean
  readonly margin_mode?: MarginMode
  readonly leverage?: number
  readonly paused?: boolean
}

/** The Telegram user behind a bot action. */
export interface BotActor {
  readonly userId: number
  readonly username: string | undefined
}

/** One audited bot action (`POST /bot/audit` body, snake_case on the wire). */
export interface BotAuditEntry {
  readonly actor: BotActor
  /** "command./status", "button.approve", "unauthorized.message"… */
  readonly action: string
  readonly payload: Readonly<Record<string, unknown>>
  /** "ok", "denied", "invalid: …", "conflict: …", "error: …". */
  readonly result: string
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** The backend could not be reached, timed out, answered 5xx/401, or answered something unreadable. */
export class BackendUnavailable extends Data.TaggedError("BackendUnavailable")<{ readonly message: string }> {}
/** 404: the order (or route) does not exist. */
export class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}
/** 409: already decided or expired; `message` is the server's own words. */
export class Conflict extends Data.TaggedError("Conflict")<{ readonly message: string }> {}
/** 400/422: the request was refused; `fields` name what is wrong. */
export class Invalid extends Data.TaggedError("Invalid")<{
  readonly message: string
  readonly fields: ReadonlyArray<{ readonly field: string; readonly problem: string }>
}> {}

export type BackendError = BackendUnavailable | NotFound | Conflict | Invalid

// ---------------------------------------------------------------------------------------------
// The interface
// ---------------------------------------------------------------------------------------------

export interface BotBackendShape {
  /** `GET /bot/status`. */
  readonly status: Effect.Effect<BotState, BackendError>
  /** `POST /bot/settings` → the new state. `actor` is used in-process; over HTTP the bot audits separately. */
  readonly updateSettings: (patch: SettingsPatch, actor: BotActor) => Effect.Effect<BotState, BackendError>
  /** `GET /bot/reports?limit=` (newest first). */
  readonly recentSignals: (limit: number) => Effect.Effect<ReadonlyArray<Signal>, BackendError>
  /** `GET /orders?limit=` (newest first). */
  readonly orders: (limit: number) => Effect.Effect<ReadonlyArray<Order>, BackendError>
  /** `GET /orders/{id}`. */
  readonly order: (orderId: string) => Effect.Effect<Order, BackendError>
  /** `POST /orders/{id}/approve` — called exactly once per button press, never retried. */
  readonly approve: (orderId: string, actor: BotActor) => Effect.Effect<Order, BackendError>
  /** `POST /orders/{id}/reject` — called exactly once per button press, never retried. */
  readonly reject: (orderId: string, actor: BotActor) => Effect.Effect<Order, BackendError>
  /** `GET /pnl?period=`. */
  readonly pnl: (period: PnlPeriod) => Effect.Effect<PnlReport, BackendError>
  /** `GET /positions`. */
  readonly positions: Effect.Effect<ReadonlyArray<Position>, BackendError>
  /** Records an audit row (`POST /bot/audit` over HTTP). Never fails: a lost audit is logged. */
  readonly audit: (entry: BotAuditEntry) => Effect.Effect<void>
}

/** The wire form of a settings patch (only the keys that are set). */
export const patchToJson = (patch: SettingsPatch): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (patch.auto_trade_enabled !== undefined) out.auto_trade_enabled = patch.auto_trade_enabled
  if (patch.manual_confirmation_required !== undefined) out.manual_confirmation_required = patch.manual_confirmation_required
  if (patch.margin_mode !== undefined) out.margin_mode = patch.margin_mode
  if (patch.leverage !== undefined) out.leverage = patch.leverage
  if (patch.paused !== undefined) out.paused = patch.paused
  return out
}
