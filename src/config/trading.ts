/**
 * Trading: the mode (paper or live), the first values of the bot settings, the order pipeline's
 * timings and limits, and the paper exchange's account.
 *
 * Invariants: leverage 1..125; money amounts and fee rates stay exact decimal strings.
 */
import { MarginMode, PaperPriceFallback, PositionMode, TradingMode } from "../domain/vocabulary.ts"
import { bool, decimalString, int, oneOf, section, type SettingOf, text } from "./declare.ts"

/** Read by the bot settings (first values) and wherever the mode picks a layer. */
export const tradingSection = section({
  mode: oneOf("TRADING_MODE", TradingMode, "paper"),
  defaultMarginMode: oneOf("DEFAULT_MARGIN_MODE", MarginMode, "isolated", { aliases: { crossed: "cross" } }),
  defaultLeverage: int("DEFAULT_LEVERAGE", 5, { min: 1, max: 125 }),
  autoTradeEnabled: bool("AUTO_TRADE_ENABLED", false),
  manualConfirmationRequired: bool("MANUAL_CONFIRMATION_REQUIRED", true),
  defaultUsername: text("TRADING_DEFAULT_USERNAME", "system"),
  defaultSession: text("TRADING_DEFAULT_SESSION", "default")
})
export type TradingSettings = SettingOf<typeof tradingSection>

/** Read by the signal service, queue, order actor, executor, breaker and PnL sweep. */
export const ordersSection = section({
  signalMaxAgeSeconds: int("SIGNAL_MAX_AGE_SECONDS", 60, { min: 1, max: 86_400 }),
  approvalTimeoutSeconds: int("APPROVAL_TIMEOUT_SECONDS", 300, { min: 1, max: 86_400 }),
  reconcileIntervalSeconds: int("RECONCILE_INTERVAL_SECONDS", 60, { min: 1, max: 3_600 }),
  /**
   * How long an exchange price read for one order is reused for the next orders of the same symbol
   * (sizing and checks before sending); 0 = ask the exchange for every order.
   */
  orderPriceMaxAgeMs: int("ORDER_PRICE_MAX_AGE_MS", 1_000, { min: 0, max: 60_000 }),
  queueCapacity: int("SIGNAL_QUEUE_CAPACITY", 1_000, { min: 1, max: 1_000_000 }),
  /** Consecutive transient exchange failures that open the circuit breaker. */
  breakerThreshold: int("EXCHANGE_BREAKER_THRESHOLD", 3, { min: 1, max: 100 }),
  /** How long the open breaker holds orders back before one probe is let through. */
  breakerCooldownSeconds: int("EXCHANGE_BREAKER_COOLDOWN_SECONDS", 30, { min: 1, max: 3_600 })
})
export type OrdersSettings = SettingOf<typeof ordersSection>

/** Read by the paper exchange. */
export const paperSection = section({
  /** Decimal string, kept exact. */
  balanceUsdt: decimalString("PAPER_BALANCE_USDT", "10000", {
    pattern: /^\d{1,15}(\.\d{1,8})?$/,
    max: Number.MAX_SAFE_INTEGER,
    positive: true,
    problem: "is not a positive decimal amount"
  }),
  /** Taker fee rate, decimal string (0.0005 = 0.05 %). */
  feeRate: decimalString("PAPER_TAKER_FEE_RATE", "0.0005", {
    pattern: /^\d{1,3}(\.\d{1,12})?$/,
    max: 0.01,
    positive: false,
    problem: "is not a decimal from 0 to 0.01"
  }),
  /** Position mode the paper exchange simulates. */
  positionMode: oneOf("PAPER_POSITION_MODE", PositionMode, "one_way", {
    aliases: { oneway: "one_way", "one-way": "one_way", dual: "hedge" }
  }),
  /** How often prices are refreshed to trigger attached stop-loss / take-profit. */
  priceRefreshSeconds: int("PAPER_PRICE_REFRESH_SECONDS", 5, { min: 1, max: 3_600 }),
  /**
   * Without BingX's public price a paper order fills at the alert's price (`alert`, each such fill
   * marked and warned about) or is rejected (`refuse`, the default).
   */
  priceFallback: oneOf("PAPER_PRICE_FALLBACK", PaperPriceFallback, "refuse")
})
export type PaperSettings = SettingOf<typeof paperSection>
