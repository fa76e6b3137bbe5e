/**
 * How order execution is assembled (used by `main.ts` and by the tests, so both run the same graph).
 *
 * - `layerExchange`: the `Exchange` for TRADING_MODE (paper by default, BingX live with
 *   TRADING_MODE=live), plus `ExchangeEvents`; live mode also follows the user-data stream when
 *   BINGX_USER_STREAM_ENABLED (default true).
 * - `layerOrders`: OrderRepo, Breaker, OrderExecutor, OrderService and the actor.
 */
import { Effect, Layer } from "effect"
import type { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { AppConfig } from "../config.ts"
import type { BingxClientOptions } from "../exchange/bingx/BingxClient.ts"
import * as BingxExchange from "../exchange/bingx/BingxExchange.ts"
import * as UserDataStream from "../exchange/bingx/UserDataStream.ts"
import type { Exchange } from "../exchange/Exchange.ts"
import { ExchangeEvents } from "../exchange/ExchangeEvents.ts"
import * as PaperExchange from "../exchange/paper/PaperExchange.ts"
import { Breaker } from "./Breaker.ts"
import * as OrderActor from "./OrderActor.ts"
import { type ExecutorOptions, OrderExecutor } from "./OrderExecutor.ts"
import { OrderRepo } from "./OrderRepo.ts"
import { OrderService } from "./OrderService.ts"

export interface ExchangeLayerOptions {
  readonly bingx?: BingxClientOptions
  readonly userStream?: UserDataStream.UserDataStreamOptions
}

/** Exchange + ExchangeEvents for the configured TRADING_MODE. Needs AppConfig and SqlClient (paper). */
export const layerExchange = (
  options: ExchangeLayerOptions = {}
): Layer.Layer<Exchange | ExchangeEvents, SqlError, AppConfig | SqlClient.SqlClient> =>
  Layer.unwrap(Effect.gen(function*() {
    const config = yield* AppConfig
    if (config.trading.mode === "live") {
      const live = BingxExchange.layer(options.bingx)
      const stream = config.bingx.userStreamEnabled ? UserDataStream.layer(options.userStream) : Layer.empty
      const layer: Layer.Layer<Exchange | ExchangeEvents, SqlError, AppConfig | SqlClient.SqlClient> = stream.pipe(
        Layer.provideMerge(live),
        Layer.provideMerge(ExchangeEvents.layer)
      )
      return layer
    }
    const layer: Layer.Layer<Exchange | ExchangeEvents, SqlError, AppConfig | SqlClient.SqlClient> = PaperExchange.layer.pipe(
      Layer.provideMerge(ExchangeEvents.layer)
    )
    return layer
  }))

export interface OrdersLayerOptions {
  readonly executor?: ExecutorOptions
  /** `false`: no actor (services only). */
  readonly actor?: OrderActor.OrderActorOptions | false
}

/**
 * OrderService (+ OrderExecutor, Breaker, OrderRepo) and the actor. Needs AppConfig, SqlClient,
 * Exchange, ExchangeEvents, SignalQueue, FillEvents, BotSettings, AuditLog, Notifier.
 */
export const layerOrders = (options: OrdersLayerOptions = {}) => {
  const actor = options.actor === false ? Layer.empty : OrderActor.layer(options.actor)
  return actor.pipe(
    Layer.provideMerge(OrderService.layer),
    Layer.provideMerge(OrderExecutor.layer(options.executor)),
    Layer.provideMerge(Breaker.layer),
    Layer.provideMerge(OrderRepo.layer)
  )
}
