/**
 * What the process runs and how it logs: ROLE, ENVIRONMENT, LOG_LEVEL, LOG_FORMAT, and the seed's
 * variables that are accepted but have no effect here (each set one is reported once at start).
 */
import { Schema } from "effect"
import { ignored, oneOf, section, type SettingOf, text } from "./declare.ts"

/** Which parts run in this process. */
export const Role = Schema.Literals(["all", "api", "bot"])
export type Role = typeof Role.Type

export const LogLevelName = Schema.Literals(["Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"])
export type LogLevelName = typeof LogLevelName.Type

export const LogFormat = Schema.Literals(["json", "pretty"])

export const role = oneOf("ROLE", Role, "all")

export const environment = text("ENVIRONMENT", "development")

/** Read by the logger. */
export const logSection = section({
  level: oneOf("LOG_LEVEL", LogLevelName, "Info", {
    aliases: { warning: "Warn", critical: "Fatal", off: "None" },
    shown: "trace|debug|info|warn|error|fatal|none",
    example: "info"
  }),
  format: oneOf("LOG_FORMAT", LogFormat, "json")
})
export type LogSettings = SettingOf<typeof logSection>

/** Seed variables that this implementation accepts but does not use. */
export const seedIgnored = ignored([
  { variable: "BROKER_HOST", why: "signals go through Postgres and an in-memory queue; no message broker is used" },
  { variable: "BROKER_PORT", why: "no message broker is used" },
  { variable: "BROKER_USERNAME", why: "no message broker is used" },
  { variable: "BROKER_PASSWORD", why: "no message broker is used" },
  { variable: "BROKER_VHOST", why: "no message broker is used" },
  { variable: "BROKER_EXCHANGE", why: "no message broker is used" },
  { variable: "BROKER_VALIDATED_ROUTING_KEY", why: "no message broker is used" },
  { variable: "REDIS_URL", why: "no Redis is used" },
  { variable: "DRY_RUN", why: "use TRADING_MODE=paper|live instead" },
  { variable: "TRADINGVIEW_WEBHOOK_ENABLED", why: "the webhook is always served on PORT" },
  { variable: "TRADINGVIEW_WEBHOOK_HOST", why: "use HOST" },
  { variable: "TRADINGVIEW_WEBHOOK_PORT", why: "use PORT" }
])
