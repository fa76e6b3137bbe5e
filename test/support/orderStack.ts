/**
 * The order-execution stack for tests, composed like `main.ts` does (same `layerExchange` /
 * `layerOrders`), on a database provided from outside, with in-memory notifications.
 */
import { Layer } from "effect"
import { AuditLog } from "../../src/audit/AuditLog.ts"
import { AppConfig } from "../../src/config.ts"
import { type Notification, Notifier } from "../../src/notify/Notifier.ts"
import { FillEvents } from "../../src/orders/FillEvents.ts"
import { layerExchange, layerOrders } from "../../src/orders/layers.ts"
import type { OrderActorOptions } from "../../src/orders/OrderActor.ts"
import type { ExecutorOptions } from "../../src/orders/OrderExecutor.ts"
import { SignalQueue } from "../../src/orders/SignalQueue.ts"
import { BotSettings } from "../../src/settings/BotSettings.ts"

export interface StackOptions {
  readonly notifications?: Array<Notification>
  readonly executor?: ExecutorOptions
  readonly actor?: OrderActorOptions | false
}

/** Everything of order execution for `env` (needs SqlClient). Fast retries for tests. */
export const orderStack = (env: Readonly<Record<string, string>>, options: StackOptions = {}) =>
  layerOrders({
    executor: { retryBaseMs: 50, settlePollMs: [50, 100, 200], ...options.executor },
    actor: options.actor === undefined ? { shutdownGraceMs: 0 } : options.actor
  }).pipe(
    Layer.provideMerge(layerExchange({ bingx: { retryBaseMs: 20 }, userStream: { reconnectMs: 100 } })),
    Layer.provideMerge(
      Layer.mergeAll(
        BotSettings.layer,
        SignalQueue.layerWithCapacity(1_000),
        FillEvents.layer,
        Notifier.layerMemory(options.notifications ?? [])
      ).pipe(Layer.provideMerge(AuditLog.layer))
    ),
    Layer.provideMerge(AppConfig.layerFrom(env))
  )
