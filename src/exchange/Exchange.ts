/**
 * The exchange, as the order actor and the PnL service see it: one interface, implemented by the
 * BingX live client (`TRADING_MODE=live`) and the paper exchange (default), plus test fakes.
 *
 * Invariants: decimals are `BigDecimal`; exchange order ids are exact strings (BingX ids exceed
 * 2^53); every record here was decoded from what the exchange said — a value it did not say is
 * `undefined` where the type allows it, never a made-up default.
 */
import { type BigDecimal, Context, Data, type Effect } from "effect"
import type { ContractRules, OrderRequest as PlaceOrderRequest } from "../domain/orderPlan.ts"
import type {
  ExchangeMarginType,
  ExchangeName,
  ExchangeOrderStatus,
  ExchangePositionSide,
  ExchangeSide,
  PositionMode,
  PositionSide,
  PriceSource
} from "../domain/vocabulary.ts"

/** The contract's rules and the order request are the order plan's words (one definition). */
export type { ContractRules, OrderRequest as PlaceOrderRequest } from "../domain/orderPlan.ts"

export interface ExchangeOrder {
  readonly orderId: string
  readonly clientOrderId: string | undefined
  readonly symbol: string
  readonly side: ExchangeSide
  readonly positionSide: ExchangePositionSide
  readonly status: ExchangeOrderStatus
  readonly quantity: BigDecimal.BigDecimal
  readonly executedQuantity: BigDecimal.BigDecimal
  readonly averagePrice: BigDecimal.BigDecimal | undefined
  /** Fee paid so far (positive = paid), in `feeAsset`. */
  readonly fee: BigDecimal.BigDecimal
  readonly feeAsset: string
  /**
   * Where `averagePrice` came from: `exchange` for every live order; a paper order says `alert` when
   * it filled at the signal's price (PAPER_PRICE_FALLBACK=alert). Undefined: not recorded (a paper
   * order stored before price sources were kept).
   */
  readonly priceSource: PriceSource | undefined
  /** When the exchange last changed the order. */
  readonly updatedAt: Date
}

/**
 * What a placement answers: an order whose fee and time may be unknown — a BingX placement answer
 * carries neither (query the order for them before booking an execution).
 */
export interface PlacedOrder extends Omit<ExchangeOrder, "fee" | "updatedAt"> {
  readonly fee: BigDecimal.BigDecimal | undefined
  readonly updatedAt: Date | undefined
}

export interface ExchangePosition {
  readonly symbol: string
  readonly side: PositionSide
  readonly quantity: BigDecimal.BigDecimal
  readonly entryPrice: BigDecimal.BigDecimal
  readonly markPrice: BigDecimal.BigDecimal | undefined
  readonly unrealisedPnl: BigDecimal.BigDecimal | undefined
  readonly leverage: number | undefined
}

export interface ExchangeBalance {
  readonly asset: string
  readonly balance: BigDecimal.BigDecimal
  readonly equity: BigDecimal.BigDecimal
  readonly available: BigDecimal.BigDecimal
  readonly unrealisedPnl: BigDecimal.BigDecimal
}

/** Worth retrying later: rate limits, busy, 5xx before sending, network errors. */
export class ExchangeTransientError extends Data.TaggedError("ExchangeTransientError")<{
  readonly message: string
  readonly code: number | undefined
  /** When the exchange said how long to wait (100410 unblock time, 429 Retry-After). */
  readonly retryAfterMs: number | undefined
}> {}

/** Refused for good (signature, parameters, insufficient margin, …): never retried. */
export class ExchangeRejectedError extends Data.TaggedError("ExchangeRejectedError")<{
  readonly message: string
  readonly code: number | undefined
}> {}

/** The request may or may not have taken effect (timeout, 5xx, 101500): query before resending. */
export class ExchangeUnknownOutcome extends Data.TaggedError("ExchangeUnknownOutcome")<{
  readonly message: string
  readonly code: number | undefined
}> {}

export class ExchangeOrderNotFound extends Data.TaggedError("ExchangeOrderNotFound")<{
  readonly symbol: string
  readonly orderId: string | undefined
  readonly clientOrderId: string | undefined
}> {}

/** No price is available for a symbol (paper mode without a public price and without a signal price). */
export class PriceUnavailable extends Data.TaggedError("PriceUnavailable")<{
  readonly symbol: string
  readonly message: string
}> {}

export type ExchangeError = ExchangeTransientError | ExchangeRejectedError | ExchangeUnknownOutcome

export type OrderRef =
  | { readonly orderId: string; readonly clientOrderId?: undefined }
  | { readonly clientOrderId: string; readonly orderId?: undefined }

export interface ExchangeShape {
  readonly name: ExchangeName
  /** Exchange clock, epoch ms. */
  readonly serverTime: Effect.Effect<number, ExchangeError>
  readonly markPrice: (symbol: string) => Effect.Effect<BigDecimal.BigDecimal, ExchangeError | PriceUnavailable>
  readonly lastPrice: (symbol: string) => Effect.Effect<BigDecimal.BigDecimal, ExchangeError | PriceUnavailable>
  readonly contract: (symbol: string) => Effect.Effect<ContractRules, ExchangeError>
  /** Asked once and cached. */
  readonly positionMode: Effect.Effect<PositionMode, ExchangeError>
  readonly setMarginType: (symbol: string, marginType: ExchangeMarginType) => Effect.Effect<void, ExchangeError>
  readonly setLeverage: (
    symbol: string,
    leverage: number,
    side: ExchangePositionSide
  ) => Effect.Effect<void, ExchangeError>
  readonly placeOrder: (request: PlaceOrderRequest) => Effect.Effect<PlacedOrder, ExchangeError | PriceUnavailable>
  readonly queryOrder: (symbol: string, ref: OrderRef) => Effect.Effect<ExchangeOrder, ExchangeError | ExchangeOrderNotFound>
  readonly cancelOrder: (symbol: string, ref: OrderRef) => Effect.Effect<ExchangeOrder, ExchangeError | ExchangeOrderNotFound>
  readonly openOrders: (symbol?: string) => Effect.Effect<ReadonlyArray<ExchangeOrder>, ExchangeError>
  readonly positions: (symbol?: string) => Effect.Effect<ReadonlyArray<ExchangePosition>, ExchangeError>
  readonly balances: Effect.Effect<ReadonlyArray<ExchangeBalance>, ExchangeError>
}

export class Exchange extends Context.Service<Exchange, ExchangeShape>()("tvtelegrambingx/Exchange") {}
