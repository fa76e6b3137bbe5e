/**
 * The bot's in-process backend (role all): calls the services directly, no HTTP.
 *
 * The settings part of the status, settings updates and audit rows come from `BotSettings` and
 * `AuditLog`. Everything owned by other services — recent signals (SignalService), orders and
 * approvals (OrderService), PnL and positions (PnlService), and the status' balances / pnl /
 * open positions / breaker — goes through `LocalOperations`: one function per operation, so
 * wiring a service in is one line each. `LocalOperations.layerSettingsOnly` is the deployment
 * where only the settings exist: those operations answer `BackendUnavailable` naming the
 * missing service, and the status shows its other sections as "not available".
 */
import { Context, Effect, Layer } from "effect"
import { AuditLog } from "../audit/AuditLog.ts"
import { AppConfig } from "../config.ts"
import { BotSettings, type BotSettingsValue } from "../settings/BotSettings.ts"
import {
  BackendUnavailable,
  type BackendError,
  type BotBackendShape,
  type BotState,
  Invalid,
  type Order,
  type PnlPeriod,
  type PnlReport,
  type Position,
  type Signal
} from "./contract.ts"

/** The parts of `GET /bot/status` that the PnL and order services own. */
export type StatusParts = Partial<Pick<BotState, "balances" | "pnl" | "open_positions" | "breaker">>

export interface LocalOperationsShape {
  /** balances + pnl + open_positions (PnlService) and breaker (OrderService). */
  readonly statusParts: Effect.Effect<StatusParts, BackendError>
  /** SignalService: the `GET /bot/reports` list. */
  readonly recentSignals: (limit: number) => Effect.Effect<ReadonlyArray<Signal>, BackendError>
  /** OrderService: `GET /orders?limit=`. */
  readonly orders: (limit: number) => Effect.Effect<ReadonlyArray<Order>, BackendError>
  /** OrderService: `GET /orders/{id}`. */
  readonly order: (orderId: string) => Effect.Effect<Order, BackendError>
  /** OrderService: approve (`Conflict` with the service's message when decided or expired). */
  readonly approve: (orderId: string, actorId: string) => Effect.Effect<Order, BackendError>
  /** OrderService: reject. */
  readonly reject: (orderId: string, actorId: string) => Effect.Effect<Order, BackendError>
  /** PnlService: `GET /pnl?period=`. */
  readonly pnl: (period: PnlPeriod) => Effect.Effect<PnlReport, BackendError>
  /** PnlService: `GET /positions`. */
  readonly positions: Effect.Effect<ReadonlyArray<Position>, BackendError>
}

const missing = (what: string, service: string) =>
  new BackendUnavailable({
    message: `${what} is not available in this process: ${service} is not wired into the bot's in-process backend`
  })

export class LocalOperations extends Context.Service<LocalOperations, LocalOperationsShape>()(
  "tvtelegrambingx/bot/LocalOperations"
) {
  /** Only the settings exist in-process; every other operation names the service it needs. */
  static readonly layerSettingsOnly = Layer.succeed(
    LocalOperations,
    LocalOperations.of({
      statusParts: Effect.succeed({}),
      recentSignals: () => Effect.fail(missing("recent signals", "SignalService")),
      orders: () => Effect.fail(missing("the order list", "OrderService")),
      order: () => Effect.fail(missing("order details", "OrderService")),
      approve: () => Effect.fail(missing("order approval", "OrderService")),
      reject: () => Effect.fail(missing("order rejection", "OrderService")),
      pnl: () => Effect.fail(missing("PnL", "PnlService")),
      positions: Effect.fail(missing("positions", "PnlService"))
    })
  )
}

/** The settings part of `GET /bot/status`, exactly as the HTTP route renders it. */
export const settingsState = (s: BotSettingsValue, tradingMode: "paper" | "live"): BotState => ({
  auto_trade_enabled: s.autoTradeEnabled,
  manual_confirmation_required: s.manualConfirmationRequired,
  margin_mode: s.marginMode,
  leverage: s.leverage,
  paused: s.paused,
  updated_at: s.updatedAt.toISOString(),
  trading_mode: tradingMode
})

const unavailable = (what: string) => (e: { readonly message: string }) =>
  new BackendUnavailable({ message: `${what} failed: ${e.message}` })

export const makeLocal = Effect.gen(function*() {
  const config = yield* AppConfig
  const settings = yield* BotSettings
  const auditLog = yield* AuditLog
  const ops = yield* LocalOperations
  const tradingMode = config.trading.mode

  const withParts = (value: BotSettingsValue) =>
    Effect.map(ops.statusParts, (parts): BotState => ({ ...settingsState(value, tradingMode), ...parts }))

  const service: BotBackendShape = {
    status: Effect.flatMap(settings.current, withParts),
    updateSettings: (patch, actor) =>
      settings.update(
        {
          autoTradeEnabled: patch.auto_trade_enabled,
          manualConfirmationRequired: patch.manual_confirmation_required,
          marginMode: patch.margin_mode,
          leverage: patch.leverage,
          paused: patch.paused
        },
        { actor: "telegram", actorId: String(actor.userId) }
      ).pipe(
        Effect.catchTags({
          InvalidSettings: (e) => Effect.fail(new Invalid({ message: e.message, fields: e.fields })),
          SqlError: (e) => Effect.fail(unavailable("saving the settings")(e))
        }),
        Effect.flatMap(withParts)
      ),
    recentSignals: ops.recentSignals,
    orders: ops.orders,
    order: ops.order,
    approve: (orderId, actor) => ops.approve(orderId, String(actor.userId)),
    reject: (orderId, actor) => ops.reject(orderId, String(actor.userId)),
    pnl: ops.pnl,
    positions: ops.positions,
    audit: (entry) =>
      auditLog.record({
        actor: "telegram",
        actorId: String(entry.actor.userId),
        action: entry.action,
        payload: { ...entry.payload, username: entry.actor.username ?? null },
        result: entry.result
      })
  }
  return service
})
