/**
 * The bot's view of the backend: the operator API's own types (src/api/ — the values its success
 * schemas decode to, which are also what the services hand out in-process) and errors, plus the
 * `BotBackendShape` interface that both layers (HTTP client and in-process) satisfy. There is no
 * second copy of the wire shapes here: the HTTP layer is derived from the contract
 * (`HttpApiClient`), and the in-process layer passes the services' records through untouched.
 */
import { Data, type Effect } from "effect"
import type { BotState, SettingsBody } from "../api/Bot.ts"
import { Conflict, Invalid, NotFound } from "../api/errors.ts"
import type { Fill, Order } from "../api/Orders.ts"
import type { Balance, PnlPeriod, PnlReport, PnlSummary, Position } from "../api/Pnl.ts"
import type { Signal } from "../api/Signals.ts"

export type { Balance, BotState, Fill, Order, PnlPeriod, PnlReport, PnlSummary, Position, Signal }
export type { Breaker } from "../api/Bot.ts"
export { Conflict, Invalid, NotFound }

/** `POST /bot/settings` body: any subset. */
export type SettingsPatch = SettingsBody

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

/**
 * The backend could not be reached, timed out, answered 5xx/401, or answered something that does
 * not match the contract.
 */
export class BackendUnavailable extends Data.TaggedError("BackendUnavailable")<{ readonly message: string }> {}

/** 404 / 409 / 400 and 422 are the contract's own errors (same message, same fields). */
export type BackendError = BackendUnavailable | NotFound | Conflict | Invalid

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
