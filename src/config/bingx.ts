/**
 * The BingX REST client and user-data stream. Keys are `Redacted`; live trading needs both (checked
 * with TRADING_MODE where the whole configuration is assembled).
 */
import { bool, httpUrl, int, optionalText, secret, section, type SettingOf, wsUrl } from "./declare.ts"

/** Read by the BingX client and stream (the paper exchange's public market reads `baseUrl`, `timeoutMs`). */
export const bingxSection = section({
  apiKey: secret("BINGX_API_KEY", "your-bingx-api-key"),
  apiSecret: secret("BINGX_API_SECRET", "your-bingx-api-secret"),
  subaccountId: optionalText("BINGX_SUBACCOUNT_ID", "123456"),
  baseUrl: httpUrl("BINGX_BASE_URL", "https://open-api.bingx.com"),
  recvWindow: int("BINGX_RECV_WINDOW", 5_000, { min: 1, max: 60_000 }),
  /** Timeout of one REST call (each retry gets its own). */
  timeoutMs: int("BINGX_TIMEOUT_MS", 10_000, { min: 100, max: 120_000 }),
  /** Retries of a transient REST failure (rate limit, busy, 5xx, timeout of a read). */
  maxRetries: int("BINGX_MAX_RETRIES", 3, { min: 0, max: 10 }),
  /** User-data WebSocket endpoint (`?listenKey=` is appended). */
  wsUrl: wsUrl("BINGX_WS_URL", "wss://open-api-swap.bingx.com/swap-market"),
  /** Follow the user-data WebSocket in live mode (polling stays on either way). */
  userStreamEnabled: bool("BINGX_USER_STREAM_ENABLED", true)
})
export type BingxSettings = SettingOf<typeof bingxSection>
