/**
 * Every environment variable the service reads, in one place.
 *
 * Values come from Effect `Config` (process environment first, then a `.env` file in the working
 * directory). Each variable is validated here; a bad value fails start-up with a `ConfigInvalid`
 * whose message is one line: the variable, what is wrong with the value, and an example.
 * Secrets are `Redacted` and never printed.
 */
import { Config, ConfigProvider, Context, Data, Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { MarginMode, PaperPriceFallback, PositionMode, TradingMode } from "./domain/vocabulary.ts"

export type Role = "all" | "api" | "bot"
export type LogLevelName = "Trace" | "Debug" | "Info" | "Warn" | "Error" | "Fatal" | "None"

export interface AppConfigShape {
  readonly role: Role
  readonly environment: string
  readonly log: {
    readonly level: LogLevelName
    readonly format: "json" | "pretty"
  }
  readonly http: {
    readonly host: string
    readonly port: number
    readonly botMetricsEnabled: boolean
    readonly botMetricsHost: string
    readonly botMetricsPort: number
    readonly tlsCertFile: string | undefined
    readonly tlsKeyFile: string | undefined
    readonly forceHttps: boolean
    /** `["*"]` allows every Host header. */
    readonly allowedHosts: ReadonlyArray<string>
    readonly trustProxy: boolean
  }
  readonly database: {
    /** Unset = embedded PGlite under `dataDir`. */
    readonly url: Redacted.Redacted<string> | undefined
    readonly dataDir: string
    readonly poolSize: number
    /**
     * How long the webhook waits for the database before answering 503 (the alert may still be
     * stored afterwards; a re-send is recognised as a duplicate). Below TradingView's 3 s.
     */
    readonly webhookTimeoutMs: number
  }
  readonly security: {
    readonly apiToken: Redacted.Redacted<string> | undefined
    readonly webhookToken: Redacted.Redacted<string> | undefined
    readonly webhookTokenNext: Redacted.Redacted<string> | undefined
    readonly ipAllowlist: ReadonlyArray<string>
    readonly webhookRateLimitPerMinute: number
  }
  readonly trading: {
    readonly mode: TradingMode
    readonly defaultMarginMode: MarginMode
    readonly defaultLeverage: number
    readonly autoTradeEnabled: boolean
    readonly manualConfirmationRequired: boolean
    readonly signalMaxAgeSeconds: number
    readonly defaultUsername: string
    readonly defaultSession: string
    /** Decimal string, kept exact. */
    readonly paperBalanceUsdt: string
    readonly approvalTimeoutSeconds: number
    readonly reconcileIntervalSeconds: number
    /**
     * How long an exchange price read for one order is reused for the next orders of the same symbol
     * (sizing and checks before sending); 0 = ask the exchange for every order.
     */
    readonly orderPriceMaxAgeMs: number
    readonly queueCapacity: number
    /** Consecutive transient exchange failures that open the circuit breaker. */
    readonly breakerThreshold: number
    /** How long the open breaker holds orders back before one probe is let through. */
    readonly breakerCooldownSeconds: number
    /** Paper exchange taker fee rate, decimal string (0.0005 = 0.05 %). */
    readonly paperFeeRate: string
    /** Position mode the paper exchange simulates. */
    readonly paperPositionMode: PositionMode
    /** How often the paper exchange refreshes prices to trigger attached stop-loss / take-profit. */
    readonly paperPriceRefreshSeconds: number
    /**
     * Without BingX's public price a paper order fills at the alert's price (`alert`, each such fill
     * marked and warned about) or is rejected (`refuse`, the default).
     */
    readonly paperPriceFallback: PaperPriceFallback
  }
  readonly bingx: {
    readonly apiKey: Redacted.Redacted<string> | undefined
    readonly apiSecret: Redacted.Redacted<string> | undefined
    readonly subaccountId: string | undefined
    readonly baseUrl: string
    readonly recvWindow: number
    /** Timeout of one REST call (each retry gets its own). */
    readonly timeoutMs: number
    /** Retries of a transient REST failure (rate limit, busy, 5xx, timeout of a read). */
    readonly maxRetries: number
    /** User-data WebSocket endpoint (`?listenKey=` is appended). */
    readonly wsUrl: string
    /** Follow the user-data WebSocket in live mode (polling stays on either way). */
    readonly userStreamEnabled: boolean
  }
  readonly telegram: {
    readonly botToken: Redacted.Redacted<string> | undefined
    readonly adminIds: ReadonlyArray<number>
    readonly chatId: string | undefined
    readonly broadcastChatId: string | undefined
    readonly apiRoot: string
    readonly webhookUrl: string | undefined
    readonly webhookSecret: Redacted.Redacted<string> | undefined
    readonly backendBaseUrl: string
    readonly backendTimeoutSeconds: number
    readonly reportLimit: number
  }
  readonly telemetry: {
    readonly enabled: boolean
    readonly serviceName: string
    readonly otlpEndpoint: string
    readonly otlpHeaders: Redacted.Redacted<Readonly<Record<string, string>>>
    readonly sampleRatio: number
  }
  /** Seed variables that are set but have no effect here (logged once at start). */
  readonly ignored: ReadonlyArray<{ readonly variable: string; readonly why: string }>
}

/** A variable has a value we cannot use. `message` is the one line printed at start-up. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly variable: string
  readonly message: string
}> {}

const invalid = (variable: string, problem: string, example?: string) =>
  new ConfigInvalid({
    variable,
    message: `${variable}: ${problem}${example === undefined ? "" : ` (example: ${variable}=${example})`}`
  })

// ---------------------------------------------------------------------------------------------
// Reading raw values
// ---------------------------------------------------------------------------------------------

/** Raw value of a variable: trimmed, empty counts as unset. */
const raw = (name: string): Effect.Effect<string | undefined, ConfigInvalid> =>
  Config.String(name).pipe(
    Config.option,
    Effect.map((o) => {
      if (o._tag === "None") return undefined
      const v = o.value.trim()
      return v.length === 0 ? undefined : v
    }),
    Effect.mapError((e) => invalid(name, `could not be read (${e.message})`))
  )

/** Shows a (non-secret) value in an error, bounded and quoted. */
const show = (value: string) => JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)

const firstOf = Effect.fnUntraced(function*(names: ReadonlyArray<string>) {
  for (const name of names) {
    const v = yield* raw(name)
    if (v !== undefined) return { name, value: v } as const
  }
  return undefined
})

const str = (name: string, fallback: string) => Effect.map(raw(name), (v) => v ?? fallback)
const optStr = (name: string) => raw(name)
const secret = (name: string) => Effect.map(raw(name), (v) => (v === undefined ? undefined : Redacted.make(v)))

const int = (name: string, fallback: number, min: number, max: number) =>
  Effect.flatMap(raw(name), (v) => {
    if (v === undefined) return Effect.succeed(fallback)
    if (!/^-?\d+$/.test(v)) {
      return Effect.fail(invalid(name, `${show(v)} is not a whole number`, String(fallback)))
    }
    const n = Number(v)
    if (n < min || n > max) {
      return Effect.fail(invalid(name, `${v} is out of range (${min}..${max})`, String(fallback)))
    }
    return Effect.succeed(n)
  })

const port = (name: string, fallback: number) =>
  Effect.flatMap(raw(name), (v) => {
    if (v === undefined) return Effect.succeed(fallback)
    const n = /^\d+$/.test(v) ? Number(v) : NaN
    // 0 asks the OS for a free port (useful in tests).
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      return Effect.fail(invalid(name, `${show(v)} is not a port number (0-65535)`, String(fallback)))
    }
    return Effect.succeed(n)
  })

const decimalNumber = (name: string, fallback: number, min: number, max: number) =>
  Effect.flatMap(raw(name), (v) => {
    if (v === undefined) return Effect.succeed(fallback)
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN
    if (!Number.isFinite(n)) {
      return Effect.fail(invalid(name, `${show(v)} is not a number`, String(fallback)))
    }
    if (n < min || n > max) {
      return Effect.fail(invalid(name, `${v} is out of range (${min}..${max})`, String(fallback)))
    }
    return Effect.succeed(n)
  })

const TRUE = new Set(["true", "1", "yes", "on"])
const FALSE = new Set(["false", "0", "no", "off"])
const bool = (name: string, fallback: boolean) =>
  Effect.flatMap(raw(name), (v) => {
    if (v === undefined) return Effect.succeed(fallback)
    const l = v.toLowerCase()
    if (TRUE.has(l)) return Effect.succeed(true)
    if (FALSE.has(l)) return Effect.succeed(false)
    return Effect.fail(invalid(name, `${show(v)} is not a boolean (true/false)`, String(fallback)))
  })

const oneOf = <const A extends string>(
  name: string,
  values: ReadonlyArray<A>,
  fallback: A,
  aliases: Readonly<Record<string, A>> = {}
) =>
  Effect.flatMap(raw(name), (v): Effect.Effect<A, ConfigInvalid> => {
    if (v === undefined) return Effect.succeed(fallback)
    const l = v.toLowerCase()
    const hit = values.find((x) => x.toLowerCase() === l) ?? aliases[l]
    if (hit !== undefined) return Effect.succeed(hit)
    return Effect.fail(invalid(name, `${show(v)} is not one of ${values.join("|")}`, fallback))
  })

const httpUrl = (name: string, fallback: string) =>
  Effect.flatMap(raw(name), (v) => {
    const value = v ?? fallback
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return Effect.fail(invalid(name, `${show(value)} is not a URL`, fallback))
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return Effect.fail(invalid(name, `${show(value)} must start with http:// or https://`, fallback))
    }
    // No trailing slash: callers append paths (grammY rejects an apiRoot ending in "/").
    return Effect.succeed(value.replace(/\/+$/, ""))
  })

const wsUrl = (name: string, fallback: string) =>
  Effect.flatMap(raw(name), (v) => {
    const value = v ?? fallback
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return Effect.fail(invalid(name, `${show(value)} is not a URL`, fallback))
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      return Effect.fail(invalid(name, `${show(value)} must start with ws:// or wss://`, fallback))
    }
    return Effect.succeed(value)
  })

/** A decimal fraction kept as an exact string (fee rates). */
const decimalString = (name: string, fallback: string, max: number) =>
  Effect.flatMap(raw(name), (v) => {
    if (v === undefined) return Effect.succeed(fallback)
    if (!/^\d{1,3}(\.\d{1,12})?$/.test(v) || Number(v) > max) {
      return Effect.fail(invalid(name, `${show(v)} is not a decimal from 0 to ${max}`, fallback))
    }
    return Effect.succeed(v)
  })

const list = (name: string) =>
  Effect.map(raw(name), (v) =>
    v === undefined ? [] : v.split(/[,;\s]+/).map((s) => s.trim()).filter((s) => s.length > 0))

// ---------------------------------------------------------------------------------------------
// Composite rules
// ---------------------------------------------------------------------------------------------

const LOG_LEVELS: Readonly<Record<string, LogLevelName>> = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  critical: "Fatal",
  fatal: "Fatal",
  none: "None",
  off: "None"
}

const logLevel = Effect.flatMap(raw("LOG_LEVEL"), (v) => {
  if (v === undefined) return Effect.succeed<LogLevelName>("Info")
  const level = LOG_LEVELS[v.toLowerCase()]
  return level === undefined
    ? Effect.fail(invalid("LOG_LEVEL", `${show(v)} is not one of trace|debug|info|warn|error|fatal|none`, "info"))
    : Effect.succeed(level)
})

/** DATABASE_URL (or the seed's POSTGRES_DSN), else a URL built from DATABASE_HOST/PORT/NAME/USER/PASSWORD. */
const databaseUrl = Effect.gen(function*() {
  const given = yield* firstOf(["DATABASE_URL", "POSTGRES_DSN"])
  if (given !== undefined) {
    // The seed used SQLAlchemy URLs: "postgresql+asyncpg://…" is a Postgres URL with a driver tag.
    const value = given.value.replace(/^postgres(ql)?\+[a-z0-9]+:\/\//i, "postgres://")
    if (/^sqlite/i.test(value)) {
      return yield* invalid(
        given.name,
        "SQLite is not supported; use a postgres:// URL, or leave it unset for the embedded database",
        "postgres://user:password@127.0.0.1:5432/tvtelegrambingx"
      )
    }
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return yield* invalid(given.name, "is not a URL", "postgres://user:password@127.0.0.1:5432/tvtelegrambingx")
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      return yield* invalid(
        given.name,
        `must start with postgres:// (got ${url.protocol}//)`,
        "postgres://user:password@127.0.0.1:5432/tvtelegrambingx"
      )
    }
    return Redacted.make(value)
  }
  const host = yield* raw("DATABASE_HOST")
  const dbPort = yield* raw("DATABASE_PORT")
  const name = yield* raw("DATABASE_NAME")
  const user = yield* raw("DATABASE_USER")
  const password = yield* raw("DATABASE_PASSWORD")
  if ([host, dbPort, name, user, password].every((v) => v === undefined)) return undefined
  const p = yield* port("DATABASE_PORT", 5432)
  const credentials = `${encodeURIComponent(user ?? "postgres")}:${encodeURIComponent(password ?? "postgres")}`
  const hostPart = (host ?? "localhost").includes(":") ? `[${host}]` : (host ?? "localhost")
  return Redacted.make(`postgres://${credentials}@${hostPart}:${p}/${encodeURIComponent(name ?? "tvtelegrambingx")}`)
})

const adminIds = Effect.flatMap(list("TELEGRAM_ADMIN_IDS"), (ids) => {
  const out: Array<number> = []
  for (const id of ids) {
    if (!/^\d{1,16}$/.test(id) || !Number.isSafeInteger(Number(id))) {
      return Effect.fail(
        invalid("TELEGRAM_ADMIN_IDS", `${show(id)} is not a Telegram user id (a positive number)`, "123456789,987654321")
      )
    }
    out.push(Number(id))
  }
  return Effect.succeed(out)
})

const chatId = (name: string) =>
  Effect.flatMap(raw(name), (v) => {
    if (v === undefined) return Effect.succeed(undefined)
    if (/^-?\d{1,20}$/.test(v) || /^@[A-Za-z][A-Za-z0-9_]{3,}$/.test(v)) return Effect.succeed(v)
    return Effect.fail(invalid(name, `${show(v)} is not a chat id (a number, or @channelname)`, "-1001234567890"))
  })

/** Webhook mode: TELEGRAM_WEBHOOK_URL (http/https) needs TELEGRAM_WEBHOOK_SECRET (Telegram's secret_token rules). */
const telegramWebhook = Effect.gen(function*() {
  const url = yield* optStr("TELEGRAM_WEBHOOK_URL")
  const webhookSecret = yield* raw("TELEGRAM_WEBHOOK_SECRET")
  if (url === undefined) return { webhookUrl: undefined, webhookSecret: webhookSecret === undefined ? undefined : Redacted.make(webhookSecret) }
  const example = "https://bot.example.com/telegram/webhook"
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return yield* invalid("TELEGRAM_WEBHOOK_URL", `${show(url)} is not a URL`, example)
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    return yield* invalid("TELEGRAM_WEBHOOK_URL", `${show(url)} must start with https://`, example)
  }
  if (webhookSecret === undefined) {
    return yield* invalid(
      "TELEGRAM_WEBHOOK_SECRET",
      "is required when TELEGRAM_WEBHOOK_URL is set (Telegram sends it with every update)",
      "a-long-random-string_1"
    )
  }
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(webhookSecret)) {
    return yield* invalid(
      "TELEGRAM_WEBHOOK_SECRET",
      "must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram's secret_token rules)",
      "a-long-random-string_1"
    )
  }
  return { webhookUrl: url, webhookSecret: Redacted.make(webhookSecret) }
})

const otlpHeaders = Effect.flatMap(raw("TELEMETRY_OTLP_HEADERS"), (v) => {
  if (v === undefined) return Effect.succeed(Redacted.make<Readonly<Record<string, string>>>({}))
  const bad = invalid(
    "TELEMETRY_OTLP_HEADERS",
    "must be a JSON object of string values",
    `'{"Authorization":"Bearer <token>"}'`
  )
  let parsed: unknown
  try {
    parsed = JSON.parse(v)
  } catch {
    return Effect.fail(bad)
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return Effect.fail(bad)
  const headers: Record<string, string> = {}
  for (const [k, value] of Object.entries(parsed)) {
    if (typeof value !== "string") return Effect.fail(bad)
    headers[k] = value
  }
  return Effect.succeed(Redacted.make<Readonly<Record<string, string>>>(headers))
})

const paperBalance = Effect.flatMap(raw("PAPER_BALANCE_USDT"), (v) => {
  if (v === undefined) return Effect.succeed("10000")
  if (!/^\d{1,15}(\.\d{1,8})?$/.test(v) || Number(v) <= 0) {
    return Effect.fail(invalid("PAPER_BALANCE_USDT", `${show(v)} is not a positive decimal amount`, "10000"))
  }
  return Effect.succeed(v)
})

/** Seed variables that this implementation accepts but does not use. */
const SEED_IGNORED: ReadonlyArray<{ readonly variable: string; readonly why: string }> = [
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
]

// ---------------------------------------------------------------------------------------------
// The whole configuration
// ---------------------------------------------------------------------------------------------

export const loadConfig: Effect.Effect<AppConfigShape, ConfigInvalid> = Effect.gen(function*() {
  const role = yield* oneOf("ROLE", ["all", "api", "bot"] as const, "all")
  const trading = {
    mode: yield* oneOf("TRADING_MODE", TradingMode.literals, "paper"),
    defaultMarginMode: yield* oneOf("DEFAULT_MARGIN_MODE", MarginMode.literals, "isolated", {
      crossed: "cross"
    }),
    defaultLeverage: yield* int("DEFAULT_LEVERAGE", 5, 1, 125),
    autoTradeEnabled: yield* bool("AUTO_TRADE_ENABLED", false),
    manualConfirmationRequired: yield* bool("MANUAL_CONFIRMATION_REQUIRED", true),
    signalMaxAgeSeconds: yield* int("SIGNAL_MAX_AGE_SECONDS", 60, 1, 86_400),
    defaultUsername: yield* str("TRADING_DEFAULT_USERNAME", "system"),
    defaultSession: yield* str("TRADING_DEFAULT_SESSION", "default"),
    paperBalanceUsdt: yield* paperBalance,
    approvalTimeoutSeconds: yield* int("APPROVAL_TIMEOUT_SECONDS", 300, 1, 86_400),
    reconcileIntervalSeconds: yield* int("RECONCILE_INTERVAL_SECONDS", 60, 1, 3_600),
    orderPriceMaxAgeMs: yield* int("ORDER_PRICE_MAX_AGE_MS", 1_000, 0, 60_000),
    queueCapacity: yield* int("SIGNAL_QUEUE_CAPACITY", 1_000, 1, 1_000_000),
    breakerThreshold: yield* int("EXCHANGE_BREAKER_THRESHOLD", 3, 1, 100),
    breakerCooldownSeconds: yield* int("EXCHANGE_BREAKER_COOLDOWN_SECONDS", 30, 1, 3_600),
    paperFeeRate: yield* decimalString("PAPER_TAKER_FEE_RATE", "0.0005", 0.01),
    paperPositionMode: yield* oneOf("PAPER_POSITION_MODE", PositionMode.literals, "one_way", {
      oneway: "one_way",
      "one-way": "one_way",
      dual: "hedge"
    }),
    paperPriceRefreshSeconds: yield* int("PAPER_PRICE_REFRESH_SECONDS", 5, 1, 3_600),
    paperPriceFallback: yield* oneOf("PAPER_PRICE_FALLBACK", PaperPriceFallback.literals, "refuse")
  }
  const bingx = {
    apiKey: yield* secret("BINGX_API_KEY"),
    apiSecret: yield* secret("BINGX_API_SECRET"),
    subaccountId: yield* optStr("BINGX_SUBACCOUNT_ID"),
    baseUrl: yield* httpUrl("BINGX_BASE_URL", "https://open-api.bingx.com"),
    recvWindow: yield* int("BINGX_RECV_WINDOW", 5_000, 1, 60_000),
    timeoutMs: yield* int("BINGX_TIMEOUT_MS", 10_000, 100, 120_000),
    maxRetries: yield* int("BINGX_MAX_RETRIES", 3, 0, 10),
    wsUrl: yield* wsUrl("BINGX_WS_URL", "wss://open-api-swap.bingx.com/swap-market"),
    userStreamEnabled: yield* bool("BINGX_USER_STREAM_ENABLED", true)
  }
  if (trading.mode === "live" && (bingx.apiKey === undefined || bingx.apiSecret === undefined)) {
    const missing = bingx.apiKey === undefined ? "BINGX_API_KEY" : "BINGX_API_SECRET"
    return yield* invalid(
      "TRADING_MODE",
      `live trading needs BINGX_API_KEY and BINGX_API_SECRET (${missing} is not set); set both, or use TRADING_MODE=paper`,
      "paper"
    )
  }
  const tlsCert = yield* firstOf(["TLS_CERT_FILE", "UVICORN_SSL_CERTFILE", "TRADINGVIEW_WEBHOOK_SSL_CERTFILE"])
  const tlsKey = yield* firstOf(["TLS_KEY_FILE", "UVICORN_SSL_KEYFILE", "TRADINGVIEW_WEBHOOK_SSL_KEYFILE"])
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    const missing = tlsCert === undefined ? "TLS_CERT_FILE" : "TLS_KEY_FILE"
    return yield* invalid(missing, "is required when the other TLS file is set (HTTPS needs both)", "/etc/ssl/tvtelegrambingx.pem")
  }
  for (const f of [tlsCert, tlsKey]) {
    if (f !== undefined && !Fs.existsSync(f.value)) {
      return yield* invalid(f.name, `file ${show(f.value)} does not exist`, "/etc/ssl/tvtelegrambingx.pem")
    }
  }
  const allowedHosts = yield* list("ALLOWED_HOSTS")
  const webhookToken = yield* firstOf(["TRADINGVIEW_WEBHOOK_TOKEN", "TRADINGVIEW_WEBHOOK_SECRET"])
  const ignored: Array<{ variable: string; why: string }> = []
  for (const entry of SEED_IGNORED) {
    if ((yield* raw(entry.variable)) !== undefined) ignored.push(entry)
  }
  const config: AppConfigShape = {
    role,
    environment: yield* str("ENVIRONMENT", "development"),
    log: {
      level: yield* logLevel,
      format: yield* oneOf("LOG_FORMAT", ["json", "pretty"] as const, "json")
    },
    http: {
      host: yield* str("HOST", "0.0.0.0"),
      port: yield* port("PORT", 8000),
      botMetricsEnabled: yield* bool("BOT_METRICS_ENABLED", true),
      botMetricsHost: yield* str("BOT_METRICS_HOST", "0.0.0.0"),
      botMetricsPort: yield* port("BOT_METRICS_PORT", 9000),
      tlsCertFile: tlsCert?.value,
      tlsKeyFile: tlsKey?.value,
      forceHttps: yield* bool("FORCE_HTTPS", false),
      allowedHosts: allowedHosts.length === 0 ? ["*"] : allowedHosts.map((h) => h.toLowerCase()),
      trustProxy: yield* bool("TRUST_PROXY", false)
    },
    database: {
      url: yield* databaseUrl,
      dataDir: Path.resolve(yield* str("DATA_DIR", "./data")),
      poolSize: yield* int("DATABASE_POOL_SIZE", 10, 1, 200),
      webhookTimeoutMs: yield* int("WEBHOOK_DATABASE_TIMEOUT_MS", 2_500, 100, 60_000)
    },
    security: {
      apiToken: yield* secret("API_TOKEN"),
      webhookToken: webhookToken === undefined ? undefined : Redacted.make(webhookToken.value),
      webhookTokenNext: yield* secret("TRADINGVIEW_WEBHOOK_TOKEN_NEXT"),
      ipAllowlist: yield* list("TRADINGVIEW_IP_ALLOWLIST"),
      webhookRateLimitPerMinute: yield* int("WEBHOOK_RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000)
    },
    trading,
    bingx,
    telegram: {
      botToken: yield* secret("TELEGRAM_BOT_TOKEN"),
      adminIds: yield* adminIds,
      chatId: yield* chatId("TELEGRAM_CHAT_ID"),
      broadcastChatId: yield* chatId("BOT_BROADCAST_CHAT_ID"),
      apiRoot: yield* httpUrl("TELEGRAM_API_ROOT", "https://api.telegram.org"),
      ...(yield* telegramWebhook),
      backendBaseUrl: yield* httpUrl("BACKEND_BASE_URL", "http://localhost:8000"),
      backendTimeoutSeconds: yield* decimalNumber("BOT_BACKEND_TIMEOUT", 10, 0.1, 300),
      reportLimit: yield* int("BOT_REPORT_LIMIT", 5, 1, 100)
    },
    telemetry: {
      enabled: yield* bool("TELEMETRY_ENABLED", false),
      serviceName: yield* str("TELEMETRY_SERVICE_NAME", role === "bot" ? "tvtelegrambingx-bot" : "tvtelegrambingx-backend"),
      otlpEndpoint: yield* httpUrl("TELEMETRY_OTLP_ENDPOINT", "http://localhost:4318"),
      otlpHeaders: yield* otlpHeaders,
      sampleRatio: yield* decimalNumber("TELEMETRY_SAMPLE_RATIO", 0.1, 0, 1)
    },
    ignored
  }
  return config
})

// ---------------------------------------------------------------------------------------------
// Service and layers
// ---------------------------------------------------------------------------------------------

export class AppConfig extends Context.Service<AppConfig, AppConfigShape>()("tvtelegrambingx/AppConfig") {
  /** Reads the current `ConfigProvider` (the process environment unless one is provided). */
  static readonly layer: Layer.Layer<AppConfig, ConfigInvalid> = Layer.effect(AppConfig, loadConfig)

  /** Tests: configuration from a plain record, with nothing read from the real environment. */
  static readonly layerFrom = (env: Readonly<Record<string, string>>): Layer.Layer<AppConfig, ConfigInvalid> =>
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
