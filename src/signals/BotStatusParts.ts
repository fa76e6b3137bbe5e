/**
 * The parts of `GET /bot/status` that other capabilities own: balances, PnL and open positions
 * (PnL service) and the exchange circuit breaker (order service). The status route asks this
 * service for them; `layerEmpty` answers "nothing yet" until those services are wired in
 * (src/main.ts replaces it with a layer built on them).
 *
 * The PnL part is the PnL service's `Account` record (camelCase, BigDecimal, Date); the contract's
 * Schemas (src/api/Pnl.ts) write it as JSON at the HTTP edge, and the bot's in-process backend
 * hands it over as it is. The breaker is already in the contract's shape.
 */
import { Context, Effect, Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { ZERO as zero } from "../domain/decimal.ts"
import type { Account } from "../pnl/records.ts"

export interface BreakerJson {
  readonly state: "closed" | "half_open" | "open"
  readonly consecutive_failures: number
  readonly open_until: string | null
}

export const EMPTY_ACCOUNT: Account = {
  balances: [],
  totals: { realised: zero, unrealised: zero, total: zero, fees: zero, net: zero },
  positions: []
}

export const IDLE_BREAKER: BreakerJson = { state: "closed", consecutive_failures: 0, open_until: null }

export class BotStatusParts extends Context.Service<BotStatusParts, {
  /** Balances, PnL summary and open positions: from the PnL service. */
  readonly account: Effect.Effect<Account, SqlError>
  /** The exchange circuit breaker: from the order service. */
  readonly breaker: Effect.Effect<BreakerJson, SqlError>
}>()("tvtelegrambingx/BotStatusParts") {
  /** Before the PnL and order services are wired: no balances/positions, zero PnL, breaker closed. */
  static readonly layerEmpty = Layer.succeed(
    BotStatusParts,
    BotStatusParts.of({ account: Effect.succeed(EMPTY_ACCOUNT), breaker: Effect.succeed(IDLE_BREAKER) })
  )

  /** Builds the parts from the services that own them . */
  static readonly layerFrom = <R>(parts: {
    readonly account: Effect.Effect<Account, SqlError, R>
    readonly breaker: Effect.Effect<BreakerJson, SqlError, R>
  }) =>
    Layer.effect(
      BotStatusParts,
      Effect.map(Effect.context<R>(), (context) =>
        BotStatusParts.of({
          account: Effect.provideContext(parts.account, context),
          breaker: Effect.provideContext(parts.breaker, context)
        }))
    )
}
