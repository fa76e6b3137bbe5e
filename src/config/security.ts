/**
 * Who may call: the operator API token, the TradingView webhook token (and the next one during a
 * rotation), the webhook's IP allowlist and rate limit.
 *
 * Invariant: tokens are `Redacted`; unset tokens are generated and stored by `Secrets`.
 */
import { Redacted } from "effect"
import { firstOf, int, list, mapSetting, secret, section, type SettingOf } from "./declare.ts"

/** Read by `Secrets` and the webhook guard (the bot's HTTP backend client sends `apiToken`). */
export const securitySection = section({
  apiToken: secret("API_TOKEN", "a-long-random-token"),
  webhookToken: mapSetting(
    firstOf("TRADINGVIEW_WEBHOOK_TOKEN", "a-long-random-token", ["TRADINGVIEW_WEBHOOK_SECRET"]),
    (given) => (given === undefined ? undefined : Redacted.make(given.value))
  ),
  webhookTokenNext: secret("TRADINGVIEW_WEBHOOK_TOKEN_NEXT", "the-next-token"),
  ipAllowlist: list("TRADINGVIEW_IP_ALLOWLIST", "tradingview,203.0.113.7"),
  webhookRateLimitPerMinute: int("WEBHOOK_RATE_LIMIT_PER_MINUTE", 600, { min: 0, max: 1_000_000 })
})
export type SecuritySettings = SettingOf<typeof securitySection>
