/**
 * The parts of `GET /bot/status` that other capabilities own: balances, PnL and open positions
 * (PnL service) and the exchange circuit breaker (order service). The status route asks this
 * service for them; `layerEmpty` answers "nothing yet" until those services are wired in
 * (src/main.ts replaces it with a layer built on them).
 *
 * Values are already in the HTTP contract's shape (snake_case, decimals as strings).
 */
import { Context, Effect, Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { PositionSide } from "../domain/vocabulary.ts"

export interface BalanceJson {
  readonly asset: string
  readonly free: string
  readonly locked: string
  readonly total: string
}

export interface PnlSummaryJson {
  readonly realized: string
  readonly unrealized: string
  readonly total: string
  readonly fees: string
  readonly net: string
}

export interface OpenPositionJson {
  readonly symbol: string
  readonly side: PositionSide
  readonly quantity: string
  readonly entry_price: string
  readonly mark_price: string | null
  readonly unrealized_pnl: string | null
  readonly leverage: number | null
  readonly opened_at: string | null
}

export interface BreakerJson {
  readonly state: "closed" | "half_open" | "open"
  readonly consecutive_failures: number
  readonly open_until: string | null
}

export interface AccountPart {
  readonly balances: ReadonlyArray<BalanceJson>
  readonly pnl: PnlSummaryJson
  readonly open_positions: ReadonlyArray<OpenPositionJson>
}

export const EMPTY_ACCOUNT: AccountPart = {
  balances: [],
  pnl: { realized: "0", unrealized: "0", total: "0", fees: "0", net: "0" },
  open_positions: []
}

export const IDLE_BREAKER: BreakerJson = { state: "closed", consecutive_failures: 0, open_until: null }

export class BotStatusParts extends Context.Service<BotStatusParts, {
  /** Balances, PnL summary and open positions (PnL issue). */
  readonly account: Effect.Effect<AccountPart, SqlError>
  /** The exchange circuit breaker (orders issue). */
  readonly breaker: Effect.Effect<BreakerJson, SqlError>
}>()("tvtelegrambingx/BotStatusParts") {
  /** Before the PnL and order services are wired: no balances/positions, zero PnL, breaker closed. */
  static readonly layerEmpty = Layer.succeed(
    BotStatusParts,
    BotStatusParts.of({ account: Effect.succeed(EMPTY_ACCOUNT), breaker: Effect.succeed(IDLE_BREAKER) })
  )

  /** Builds the parts from the services that own them (the lead's wiring). */
  static readonly layerFrom = <R>(parts: {
    readonly account: Effect.Effect<AccountPart, SqlError, R>
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
