/**
 * The bot's in-process backend (role all): calls the services directly, no HTTP.
 *
 * `LocalOperations` holds one function per operation, built on the services the HTTP routes use:
 * - status: the same `botState` effect as `GET /bot/status` (BotSettings + BotStatusParts, which
 *   PnlService and the order breaker fill in);
 * - recent signals: SignalService.recent, encoded like `GET /bot/reports`;
 * - orders, one order, approve, reject: OrderService (already decided / expired → `Conflict` with
 *   the service's message, unknown → `NotFound`), encoded like the order routes;
 * - PnL and positions: PnlService, encoded like `GET /pnl` and `GET /positions`.
 * Every value is then decoded with the contract's schema (src/bot/contract.ts), exactly as the HTTP
 * client decodes the routes' bodies, so both layouts hand the bot identical values (extra keys such
 * as an order's `margin_usdt` are dropped by both). A database failure is `BackendUnavailable` with
 * the words of the API's 503.
 *
 * Settings updates and audit rows go through `BotSettings` and `AuditLog` with the Telegram user
 * as the actor.
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { AuditLog } from "../audit/AuditLog.ts"
import type { AppConfig } from "../config.ts"
import { DATABASE_UNAVAILABLE } from "../http/respond.ts"
import type { OrderConflict, OrderNotFound } from "../orders/OrderService.ts"
import { OrderService } from "../orders/OrderService.ts"
import { orderJson } from "../orders/OrderView.ts"
import { PnlService } from "../pnl/PnlService.ts"
import { BotSettings } from "../settings/BotSettings.ts"
import { botState } from "../signals/botRoutes.ts"
import type { BotStatusParts } from "../signals/BotStatusParts.ts"
import { signalJson } from "../signals/json.ts"
import { SignalService } from "../signals/SignalService.ts"
import {
  BackendUnavailable,
  type BackendError,
  type BotBackendShape,
  BotState,
  Conflict,
  Invalid,
  NotFound,
  Order,
  type PnlPeriod,
  PnlReport,
  Position,
  Signal
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

/** Decodes a service's answer with the contract's schema, as the HTTP client decodes a body. */
const asContract = <S extends Schema.Codec<any, any, never, never>>(schema: S, what: string) => (value: unknown) =>
  Schema.decodeUnknownEffect(schema)(value).pipe(
    Effect.mapError((e) => new BackendUnavailable({ message: `${what} does not match the API contract: ${e.message}` }))
  ) as Effect.Effect<S["Type"], BackendUnavailable>

const SignalArray = Schema.Array(Signal)
const OrderArray = Schema.Array(Order)
const PositionArray = Schema.Array(Position)

/** A database failure reads like the API's 503. */
const databaseDown = (_: SqlError) => new BackendUnavailable({ message: DATABASE_UNAVAILABLE })

/** The order service's refusals in the contract's terms (HTTP: 404 / 409 with the same message). */
const orderErrors = <A, R>(effect: Effect.Effect<A, OrderNotFound | OrderConflict | SqlError, R>) =>
  effect.pipe(
    Effect.mapError((e): BackendError => {
      switch (e._tag) {
        case "OrderNotFound":
          return new NotFound({ message: e.message })
        case "OrderConflict":
          return new Conflict({ message: e.message })
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
      status: botState.pipe(
        Effect.provideContext(context),
        Effect.mapError(databaseDown),
        Effect.flatMap(asContract(BotState, "the status"))
      ),
      recentSignals: (limit) =>
        signals.recent(limit).pipe(
          Effect.mapError(databaseDown),
          Effect.flatMap((list) => asContract(SignalArray, "the recent signals")(list.map(signalJson)))
        ),
      orders: (limit) =>
        orders.list({ limit }).pipe(
          Effect.mapError(databaseDown),
          Effect.flatMap((list) => asContract(OrderArray, "the order list")(list.map(orderJson)))
        ),
      order: (orderId) => orderErrors(orders.get(orderId)).pipe(Effect.map(orderJson), Effect.flatMap(asContract(Order, `order ${orderId}`))),
      approve: (orderId, actorId) =>
        orderErrors(orders.approve(orderId, telegram(actorId))).pipe(Effect.map(orderJson), Effect.flatMap(asContract(Order, `order ${orderId}`))),
      reject: (orderId, actorId) =>
        orderErrors(orders.reject(orderId, telegram(actorId))).pipe(Effect.map(orderJson), Effect.flatMap(asContract(Order, `order ${orderId}`))),
      pnl: (period) =>
        pnl.periodSummary(period).pipe(Effect.mapError(databaseDown), Effect.flatMap(asContract(PnlReport, "the PnL report"))),
      positions: pnl.positionsJson.pipe(Effect.mapError(databaseDown), Effect.flatMap(asContract(PositionArray, "the positions")))
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
          InvalidSettings: (e) => Effect.fail(new Invalid({ message: e.message, fields: e.fields })),
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
