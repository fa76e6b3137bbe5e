/**
 * The bot's in-process backend (role all): calls the services directly — no HTTP, no JSON, no
 * decoding. The values the services return are the contract's types (src/api/), so the bot gets
 * the very records the HTTP handlers would encode; nothing is converted on the way.
 *
 * `LocalOperations` holds one function per operation, on the services the HTTP handlers use:
 * - status: the same `botState` effect as `GET /bot/status`;
 * - recent signals: SignalService.recent (domain records);
 * - orders, one order, approve, reject: OrderService (unknown → `NotFound`, already decided or
 *   expired → `Conflict`, with the service's message — the same as the HTTP 404 / 409); the
 *   contract's order type is still its wire shape, so these are written with `orderJson` once;
 * - PnL and positions: PnlService's records (the contract's PnL types are those records).
 * A database failure is `BackendUnavailable` with the words of the API's 503.
 *
 * Settings updates and audit rows go through `BotSettings` and `AuditLog` with the Telegram user
 * as the actor.
 */
import { Context, Effect, Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { Conflict, DATABASE_UNAVAILABLE, Invalid, NotFound } from "../api/errors.ts"
import { AuditLog } from "../audit/AuditLog.ts"
import type { AppConfig } from "../config.ts"
import type { OrderConflict, OrderNotFound } from "../orders/OrderService.ts"
import { OrderService } from "../orders/OrderService.ts"
import { orderJson } from "../orders/OrderView.ts"
import { PnlService } from "../pnl/PnlService.ts"
import { BotSettings } from "../settings/BotSettings.ts"
import { botState } from "../signals/botRoutes.ts"
import type { BotStatusParts } from "../signals/BotStatusParts.ts"
import { SignalService } from "../signals/SignalService.ts"
import {
  BackendUnavailable,
  type BackendError,
  type BotBackendShape,
  type BotState,
  type Order,
  type PnlPeriod,
  type PnlReport,
  type Position,
  type Signal
} from "./contract.ts"

export interface LocalOperationsShape {
  /** `GET /bot/status`: settings, balances, PnL, open positions, breaker, trading mode. */
  readonly status: Effect.Effect<BotState, BackendError>
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

/** A database failure reads like the API's 503. */
const databaseDown = (_: SqlError) => new BackendUnavailable({ message: DATABASE_UNAVAILABLE })

/** The order service's refusals in the contract's terms (HTTP: 404 / 409 with the same message). */
const orderErrors = <A, R>(effect: Effect.Effect<A, OrderNotFound | OrderConflict | SqlError, R>) =>
  effect.pipe(
    Effect.mapError((e): BackendError => {
      switch (e._tag) {
        case "OrderNotFound":
          return NotFound.of(e.message)
        case "OrderConflict":
          return Conflict.of(e.message)
        default:
          return databaseDown(e)
      }
    })
  )

export class LocalOperations extends Context.Service<LocalOperations, LocalOperationsShape>()(
  "tvtelegrambingx/bot/LocalOperations"
) {
  static readonly make = Effect.gen(function*() {
    const context = yield* Effect.context<AppConfig | BotSettings | BotStatusParts>()
    const signals = yield* SignalService
    const orders = yield* OrderService
    const pnl = yield* PnlService

    const telegram = (actorId: string) => ({ actor: "telegram", actorId })

    return LocalOperations.of({
      status: botState.pipe(Effect.provideContext(context), Effect.mapError(databaseDown)),
      recentSignals: (limit) => signals.recent(limit).pipe(Effect.mapError(databaseDown)),
      // The contract's order is still its wire shape: encoded once, never decoded.
      orders: (limit) => orders.list({ limit }).pipe(Effect.mapError(databaseDown), Effect.map((list) => list.map(orderJson))),
      order: (orderId) => Effect.map(orderErrors(orders.get(orderId)), orderJson),
      approve: (orderId, actorId) => Effect.map(orderErrors(orders.approve(orderId, telegram(actorId))), orderJson),
      reject: (orderId, actorId) => Effect.map(orderErrors(orders.reject(orderId, telegram(actorId))), orderJson),
      pnl: (period) => pnl.periodSummary(period).pipe(Effect.mapError(databaseDown)),
      positions: pnl.openPositions.pipe(Effect.mapError(databaseDown))
    })
  })

  /** Needs AppConfig, BotSettings, BotStatusParts, SignalService, OrderService and PnlService. */
  static readonly layer = Layer.effect(LocalOperations, LocalOperations.make)
}

export const makeLocal = Effect.gen(function*() {
  const settings = yield* BotSettings
  const auditLog = yield* AuditLog
  const ops = yield* LocalOperations

  const service: BotBackendShape = {
    status: ops.status,
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
          InvalidSettings: (e) => Effect.fail(Invalid.of(e.message, e.fields)),
          SqlError: (e) => Effect.fail(databaseDown(e))
        }),
        Effect.andThen(ops.status)
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
