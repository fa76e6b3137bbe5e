/**
 * Every environment variable the service reads, declared once (in `src/config/`, one file per
 * owner) as Effect `Config` values with their defaults and examples; the settings type is derived
 * from that declaration.
 *
 * Invariants:
 * - Values come from the current `ConfigProvider` (the process: CLI overrides, then the
 *   environment, then `.env` in the working directory); values are trimmed and empty = unset.
 * - A value we cannot use fails start-up with one `ConfigInvalid` whose message is one line: the
 *   variable, what is wrong with it, and the example declared beside it
 *   (`DEFAULT_LEVERAGE: 500 is out of range (1..125) (example: DEFAULT_LEVERAGE=5)`).
 * - Checks across variables (live mode needs BingX keys, TLS needs both files, webhook mode needs
 *   its secret) run here, before anything starts. Secrets are `Redacted` and never printed.
 *
 * One `AppConfig` service holds the whole, read once at start: a bad value is reported before any
 * layer is built, the cross-variable checks see every section, and tests build a configuration
 * from a plain record (`AppConfig.layerFrom`). Each service reads only its own section of it
 * (`http`, `database`, `security`, `trading`, `orders`, `paper`, `bingx`, `telegram`,
 * `telemetry`, `log`); the section types are exported beside their declarations.
 */
import { Config, ConfigProvider, Context, Data, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { bingxSection } from "./config/bingx.ts"
import { databaseSection } from "./config/database.ts"
import { derive, mapSetting, normalised, problem, problemOf, renamedInUse, section, type NamesOf, type SettingOf } from "./config/declare.ts"
import { httpSection } from "./config/http.ts"
import { environment, logSection, role, seedIgnored } from "./config/process.ts"
import { securitySection } from "./config/security.ts"
import { telegramSection } from "./config/telegram.ts"
import { telemetrySection } from "./config/telemetry.ts"
import { ordersSection, paperSection, tradingSection } from "./config/trading.ts"

export type { BingxSettings } from "./config/bingx.ts"
export type { DatabaseSettings } from "./config/database.ts"
export type { HttpSettings } from "./config/http.ts"
export { type LogLevelName, type LogSettings, Role } from "./config/process.ts"
export type { SecuritySettings } from "./config/security.ts"
export type { TelegramSettings } from "./config/telegram.ts"
export type { OrdersSettings, PaperSettings, TradingSettings } from "./config/trading.ts"

/** A variable has a value we cannot use. `message` is the one line printed at start-up. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly variable: string
  readonly message: string
}> {}

const sections = section({
  role,
  environment,
  log: logSection,
  http: httpSection,
  database: databaseSection,
  security: securitySection,
  trading: tradingSection,
  orders: ordersSection,
  paper: paperSection,
  bingx: bingxSection,
  telegram: telegramSection,
  telemetry: telemetrySection,
  /** Seed variables that are set but have no effect here (logged once at start). */
  ignored: seedIgnored
})

const checked = derive(sections, (c) => {
  if (c.trading.mode === "live" && (c.bingx.apiKey === undefined || c.bingx.apiSecret === undefined)) {
    const missing = c.bingx.apiKey === undefined ? "BINGX_API_KEY" : "BINGX_API_SECRET"
    return Effect.fail(problem(
      "TRADING_MODE",
      `live trading needs BINGX_API_KEY and BINGX_API_SECRET (${missing} is not set); set both, or use TRADING_MODE=paper`
    ))
  }
  const serviceName = c.telemetry.serviceName ?? (c.role === "bot" ? "tvtelegrambingx-bot" : "tvtelegrambingx-backend")
  return Effect.succeed({ ...c, telemetry: { ...c.telemetry, serviceName } })
})

/** The whole declaration: its value is the configuration, its `variables` every variable read. */
export const declaration = mapSetting(
  section({
    checked,
    /** Older (seed) names that are set, read in place of their new name (logged once at start). */
    renamed: renamedInUse(checked.variables)
  }),
  ({ checked, renamed }) => ({ ...checked, renamed })
)

/** The configuration, as the declaration derives it. */
export type AppConfigShape = SettingOf<typeof declaration>

/** Every variable name the declaration reads (current, older and ignored seed names). */
export type VariableName = NamesOf<typeof declaration>

/** Values of variables by name, as a test or the CLI gives them (a misspelt name does not type-check). */
export type VariableValues = { readonly [K in VariableName]?: string }
export type TelemetrySettings = AppConfigShape["telemetry"]

const examples = new Map(
  declaration.variables.flatMap((v) => (v.status === "ignored" ? [] : [[v.name, v.example] as const]))
)

/** The one line of a refused configuration: the variable, the problem, the declared example. */
export const configInvalid = (error: Config.ConfigError): ConfigInvalid => {
  const { variable, problem } = problemOf(error)
  const example = examples.get(variable)
  return new ConfigInvalid({
    variable,
    message: `${variable}: ${problem}${example === undefined ? "" : ` (example: ${variable}=${example})`}`
  })
}

/** Reads the whole configuration from the current `ConfigProvider`. */
export const loadConfig: Effect.Effect<AppConfigShape, ConfigInvalid> = Effect.gen(function*() {
  const provider = yield* ConfigProvider.ConfigProvider
  return yield* declaration.config.parse(normalised(provider)).pipe(Effect.mapError(configInvalid))
})

// ---------------------------------------------------------------------------------------------
// Service and layers
// ---------------------------------------------------------------------------------------------

export class AppConfig extends Context.Service<AppConfig, AppConfigShape>()("tvtelegrambingx/AppConfig") {
  /** Reads the current `ConfigProvider` (the process environment unless one is provided). */
  static readonly layer: Layer.Layer<AppConfig, ConfigInvalid> = Layer.effect(AppConfig, loadConfig)

  /** Tests: configuration from a plain record of variables, with nothing read from the real environment. */
  static readonly layerFrom = (env: VariableValues): Layer.Layer<AppConfig, ConfigInvalid> =>
    Layer.effect(AppConfig, loadConfig).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))
}

/**
 * The provider used by the process: explicit overrides (CLI flags), then the environment, then
 * `.env` in the working directory when it exists. The environment wins over `.env`.
 */
export const processConfigProvider = (
  overrides: Readonly<Record<string, string>> = {},
  dotEnvPath: string = Path.resolve(".env")
): ConfigProvider.ConfigProvider => {
  let provider = ConfigProvider.fromUnknown(overrides).pipe(ConfigProvider.orElse(ConfigProvider.fromEnv()))
  if (Fs.existsSync(dotEnvPath)) {
    provider = provider.pipe(ConfigProvider.orElse(ConfigProvider.fromDotEnvContents(Fs.readFileSync(dotEnvPath, "utf8"))))
  }
  return provider
}
