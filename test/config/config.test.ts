import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AppConfig, configInvalid, loadConfig, processConfigProvider } from "../../src/config.ts"

const load = (env: Record<string, string>) =>
  loadConfig.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(env)))

const failureOf = (env: Record<string, string>) => Effect.flip(load(env))

describe("config", () => {
  it.effect("defaults let the service start with nothing set", () =>
    Effect.gen(function*() {
      const c = yield* load({})
      expect(c.role).toBe("all")
      expect(c.http).toMatchObject({ host: "0.0.0.0", port: 8000, botMetricsEnabled: true, botMetricsHost: "0.0.0.0", botMetricsPort: 9000 })
      expect(c.database.url).toBeUndefined()
      expect(c.database.dataDir).toBe(Path.resolve("./data"))
      expect(c.database.webhookTimeoutMs).toBe(2500)
      expect(c.trading).toMatchObject({
        mode: "paper",
        defaultMarginMode: "isolated",
        defaultLeverage: 5,
        autoTradeEnabled: false,
        manualConfirmationRequired: true,
        defaultUsername: "system",
        defaultSession: "default"
      })
      expect(c.orders).toMatchObject({ signalMaxAgeSeconds: 60, approvalTimeoutSeconds: 300, queueCapacity: 1000 })
      expect(c.paper).toEqual({ balanceUsdt: "10000", feeRate: "0.0005", positionMode: "one_way", priceRefreshSeconds: 5, priceFallback: "refuse" })
      expect(c.telemetry.serviceName).toBe("tvtelegrambingx-backend")
      expect(c.renamed).toEqual([])
      expect(c.ignored).toEqual([])
      expect(c.bingx.baseUrl).toBe("https://open-api.bingx.com")
      expect(c.bingx.recvWindow).toBe(5000)
      expect(c.telegram.apiRoot).toBe("https://api.telegram.org")
      expect(c.telegram.backendBaseUrl).toBe("http://localhost:8000")
      expect(c.telemetry.enabled).toBe(false)
      expect(c.log.level).toBe("Info")
      expect(c.security.apiToken).toBeUndefined()
    }))

  it.effect("reads and normalises values", () =>
    Effect.gen(function*() {
      const c = yield* load({
        PORT: "8080",
        AUTO_TRADE_ENABLED: "YES",
        MANUAL_CONFIRMATION_REQUIRED: "0",
        DEFAULT_MARGIN_MODE: "Crossed",
        TELEGRAM_ADMIN_IDS: "123, 456;789",
        TELEGRAM_API_ROOT: "http://127.0.0.1:8081/",
        LOG_LEVEL: "warning",
        TELEMETRY_OTLP_HEADERS: '{"Authorization":"Bearer x"}',
        ALLOWED_HOSTS: "Example.com, api.example.com"
      })
      expect(c.http.port).toBe(8080)
      expect(c.trading.autoTradeEnabled).toBe(true)
      expect(c.trading.manualConfirmationRequired).toBe(false)
      expect(c.trading.defaultMarginMode).toBe("cross")
      expect(c.telegram.adminIds).toEqual([123, 456, 789])
      expect(c.telegram.apiRoot).toBe("http://127.0.0.1:8081")
      expect(c.log.level).toBe("Warn")
      expect(Redacted.value(c.telemetry.otlpHeaders)).toEqual({ Authorization: "Bearer x" })
      expect(c.http.allowedHosts).toEqual(["example.com", "api.example.com"])
    }))

  it.effect("an empty or blank value is unset: the default applies", () =>
    Effect.gen(function*() {
      const c = yield* load({ DEFAULT_LEVERAGE: "", PORT: "   ", TELEGRAM_BOT_TOKEN: " ", ROLE: " api ", DATABASE_URL: "" })
      expect(c.trading.defaultLeverage).toBe(5)
      expect(c.http.port).toBe(8000)
      expect(c.telegram.botToken).toBeUndefined()
      expect(c.role).toBe("api")
      expect(c.database.url).toBeUndefined()
    }))

  it.effect("the telemetry service name defaults by role", () =>
    Effect.gen(function*() {
      expect((yield* load({ ROLE: "bot" })).telemetry.serviceName).toBe("tvtelegrambingx-bot")
      expect((yield* load({ ROLE: "bot", TELEMETRY_SERVICE_NAME: "mine" })).telemetry.serviceName).toBe("mine")
    }))

  it.effect("older names are read in place of the new ones, and reported", () =>
    Effect.gen(function*() {
      const c = yield* load({ POSTGRES_DSN: "postgres://u:p@h:5433/x", TRADINGVIEW_WEBHOOK_SECRET: "old-secret" })
      expect(Redacted.value(c.database.url!)).toBe("postgres://u:p@h:5433/x")
      expect(Redacted.value(c.security.webhookToken!)).toBe("old-secret")
      expect(c.renamed).toEqual([
        { variable: "POSTGRES_DSN", use: "DATABASE_URL" },
        { variable: "TRADINGVIEW_WEBHOOK_SECRET", use: "TRADINGVIEW_WEBHOOK_TOKEN" }
      ])
      const both = yield* load({ DATABASE_URL: "postgres://new@h/x", POSTGRES_DSN: "postgres://old@h/x" })
      expect(Redacted.value(both.database.url!)).toBe("postgres://new@h/x")
      const failure = yield* failureOf({ POSTGRES_DSN: "sqlite:///x.db" })
      expect(failure.message).toBe(
        "POSTGRES_DSN: SQLite is not supported; use a postgres:// URL, or leave it unset for the embedded database (example: POSTGRES_DSN=postgres://user:password@127.0.0.1:5432/tvtelegrambingx)"
      )
      const tls = yield* failureOf({ UVICORN_SSL_CERTFILE: "/nonexistent/cert.pem", TLS_KEY_FILE: "/nonexistent/key.pem" })
      expect(tls.message).toBe(
        'UVICORN_SSL_CERTFILE: file "/nonexistent/cert.pem" does not exist (example: UVICORN_SSL_CERTFILE=/etc/ssl/tvtelegrambingx.pem)'
      )
    }))

  it.effect("an error Effect's own Config raises is still one line naming the variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Config.Int("DEFAULT_LEVERAGE").parse(ConfigProvider.fromUnknown({ DEFAULT_LEVERAGE: "x" })))
      const invalid = configInvalid(error)
      expect(invalid.variable).toBe("DEFAULT_LEVERAGE")
      expect(invalid.message).toMatch(/^DEFAULT_LEVERAGE: .+ \(example: DEFAULT_LEVERAGE=5\)$/)
      expect(invalid.message).not.toContain("\n")
    }))

  it.effect("builds a database URL from the seed's DATABASE_* variables", () =>
    Effect.gen(function*() {
      const c = yield* load({ DATABASE_HOST: "db.internal", DATABASE_PASSWORD: "p@ss:w/rd", DATABASE_NAME: "tv" })
      expect(Redacted.value(c.database.url!)).toBe("postgres://postgres:p%40ss%3Aw%2Frd@db.internal:5432/tv")
      const seed = yield* load({ DATABASE_URL: "postgresql+asyncpg://u:p@h:5433/x" })
      expect(Redacted.value(seed.database.url!)).toBe("postgres://u:p@h:5433/x")
      const port = yield* load({ DATABASE_PORT: "6543" })
      expect(Redacted.value(port.database.url!)).toBe("postgres://postgres:postgres@localhost:6543/tvtelegrambingx")
      const ipv6 = yield* load({ DATABASE_HOST: "::1" })
      expect(Redacted.value(ipv6.database.url!)).toBe("postgres://postgres:postgres@[::1]:5432/tvtelegrambingx")
    }))

  const badValues: ReadonlyArray<readonly [string, Record<string, string>, RegExp]> = [
    ["PORT", { PORT: "eighty" }, /^PORT: "eighty" is not a port number \(0-65535\) \(example: PORT=8000\)$/],
    ["PORT", { PORT: "70000" }, /^PORT: "70000" is not a port number/],
    ["DEFAULT_LEVERAGE", { DEFAULT_LEVERAGE: "200" }, /^DEFAULT_LEVERAGE: 200 is out of range \(1\.\.125\) \(example: DEFAULT_LEVERAGE=5\)$/],
    ["DEFAULT_LEVERAGE", { DEFAULT_LEVERAGE: "2.5" }, /^DEFAULT_LEVERAGE: "2.5" is not a whole number/],
    ["AUTO_TRADE_ENABLED", { AUTO_TRADE_ENABLED: "maybe" }, /^AUTO_TRADE_ENABLED: "maybe" is not a boolean \(true\/false\)/],
    ["TRADING_MODE", { TRADING_MODE: "real" }, /^TRADING_MODE: "real" is not one of paper\|live/],
    ["TRADING_MODE", { TRADING_MODE: "live", BINGX_API_KEY: "k" }, /^TRADING_MODE: live trading needs BINGX_API_KEY and BINGX_API_SECRET \(BINGX_API_SECRET is not set\)/],
    ["DEFAULT_MARGIN_MODE", { DEFAULT_MARGIN_MODE: "hedge" }, /^DEFAULT_MARGIN_MODE: "hedge" is not one of isolated\|cross/],
    ["BINGX_BASE_URL", { BINGX_BASE_URL: "open-api.bingx.com" }, /^BINGX_BASE_URL: "open-api.bingx.com" is not a URL/],
    ["TELEGRAM_ADMIN_IDS", { TELEGRAM_ADMIN_IDS: "123,@bob" }, /^TELEGRAM_ADMIN_IDS: "@bob" is not a Telegram user id/],
    ["TELEGRAM_CHAT_ID", { TELEGRAM_CHAT_ID: "my chat" }, /^TELEGRAM_CHAT_ID: "my chat" is not a chat id/],
    ["TELEMETRY_SAMPLE_RATIO", { TELEMETRY_SAMPLE_RATIO: "1.5" }, /^TELEMETRY_SAMPLE_RATIO: 1.5 is out of range \(0\.\.1\)/],
    ["TELEMETRY_OTLP_HEADERS", { TELEMETRY_OTLP_HEADERS: "Authorization=x" }, /^TELEMETRY_OTLP_HEADERS: must be a JSON object of string values/],
    ["LOG_LEVEL", { LOG_LEVEL: "loud" }, /^LOG_LEVEL: "loud" is not one of trace\|debug\|info\|warn\|error\|fatal\|none/],
    ["DATABASE_URL", { DATABASE_URL: "sqlite+aiosqlite:///./storage.db" }, /^DATABASE_URL: SQLite is not supported/],
    ["DATABASE_URL", { DATABASE_URL: "mysql://x@y/z" }, /^DATABASE_URL: must start with postgres:\/\//],
    ["ROLE", { ROLE: "worker" }, /^ROLE: "worker" is not one of all\|api\|bot/],
    ["TLS_KEY_FILE", { TLS_CERT_FILE: "/nonexistent.pem" }, /^TLS_KEY_FILE: is required when the other TLS file is set/],
    ["PAPER_BALANCE_USDT", { PAPER_BALANCE_USDT: "-5" }, /^PAPER_BALANCE_USDT: "-5" is not a positive decimal amount/],
    ["WEBHOOK_DATABASE_TIMEOUT_MS", { WEBHOOK_DATABASE_TIMEOUT_MS: "50" }, /^WEBHOOK_DATABASE_TIMEOUT_MS: 50 is out of range \(100\.\.60000\)/],
    ["DATABASE_PORT", { DATABASE_HOST: "db", DATABASE_PORT: "x" }, /^DATABASE_PORT: "x" is not a port number \(0-65535\) \(example: DATABASE_PORT=5432\)$/],
    ["PAPER_TAKER_FEE_RATE", { PAPER_TAKER_FEE_RATE: "0.5" }, /^PAPER_TAKER_FEE_RATE: "0.5" is not a decimal from 0 to 0.01 \(example: PAPER_TAKER_FEE_RATE=0.0005\)$/],
    ["PAPER_POSITION_MODE", { PAPER_POSITION_MODE: "both" }, /^PAPER_POSITION_MODE: "both" is not one of one_way\|hedge \(example: PAPER_POSITION_MODE=one_way\)$/],
    ["PAPER_PRICE_FALLBACK", { PAPER_PRICE_FALLBACK: "signal" }, /^PAPER_PRICE_FALLBACK: "signal" is not one of alert\|refuse \(example: PAPER_PRICE_FALLBACK=refuse\)$/],
    ["BINGX_WS_URL", { BINGX_WS_URL: "https://x" }, /^BINGX_WS_URL: "https:\/\/x" must start with ws:\/\/ or wss:\/\//],
    ["BOT_BACKEND_TIMEOUT", { BOT_BACKEND_TIMEOUT: "soon" }, /^BOT_BACKEND_TIMEOUT: "soon" is not a number \(example: BOT_BACKEND_TIMEOUT=10\)$/],
    ["TRADING_MODE", { TRADING_MODE: "LIVE", BINGX_API_SECRET: "s" }, /^TRADING_MODE: live trading needs BINGX_API_KEY and BINGX_API_SECRET \(BINGX_API_KEY is not set\); set both, or use TRADING_MODE=paper \(example: TRADING_MODE=paper\)$/]
  ]

  for (const [variable, env, expected] of badValues) {
    it.effect(`bad ${variable} (${JSON.stringify(env)}) → one line naming it`, () =>
      Effect.gen(function*() {
        const error = yield* failureOf(env)
        expect(error._tag).toBe("ConfigInvalid")
        expect(error.variable).toBe(variable)
        expect(error.message).toMatch(expected)
        expect(error.message).not.toContain("\n")
      }))
  }

  it.effect("secret values never appear in messages or in the printed configuration", () =>
    Effect.gen(function*() {
      const secrets = {
        API_TOKEN: "api-secret-123456",
        TRADINGVIEW_WEBHOOK_TOKEN: "tv-secret-987654",
        BINGX_API_KEY: "bingx-key-abcdef",
        BINGX_API_SECRET: "bingx-secret-fedcba",
        TELEGRAM_BOT_TOKEN: "123:telegram-secret",
        DATABASE_URL: "postgres://u:db-password-xyz@127.0.0.1/x",
        TELEMETRY_OTLP_HEADERS: '{"Authorization":"Bearer otlp-secret-555"}'
      }
      const c = yield* load({ ...secrets, TRADING_MODE: "live" })
      const printed = [JSON.stringify(c), String(c.security.apiToken), `${c.bingx.apiSecret}`, JSON.stringify(c.database)]
      const failure = yield* failureOf({ ...secrets, PORT: "x" })
      printed.push(failure.message, String(failure))
      for (const text of printed) {
        for (const value of ["api-secret-123456", "tv-secret-987654", "bingx-key-abcdef", "bingx-secret-fedcba", "telegram-secret", "db-password-xyz", "otlp-secret-555"]) {
          expect(text).not.toContain(value)
        }
      }
      expect(Redacted.value(c.bingx.apiSecret!)).toBe("bingx-secret-fedcba")
    }))

  it.effect("the environment wins over .env; .env fills the rest", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-env-"))
      const file = Path.join(dir, ".env")
      Fs.writeFileSync(file, "DEFAULT_LEVERAGE=7\nENVIRONMENT=from-dotenv\n# comment\nTELEGRAM_BOT_TOKEN=\n")
      const before = { ...process.env }
      process.env.ENVIRONMENT = "from-env"
      try {
        const c = yield* loadConfig.pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, processConfigProvider({ ROLE: "api" }, file))
        )
        expect(c.trading.defaultLeverage).toBe(7)
        expect(c.environment).toBe("from-env")
        expect(c.role).toBe("api")
        expect(c.telegram.botToken).toBeUndefined()
      } finally {
        process.env = before
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it("AppConfig.layerFrom takes declared variable names only: a misspelt one does not type-check", () => {
    // @ts-expect-error DEFAULT_LEVERAG is not a declared variable
    const misspelt = AppConfig.layerFrom({ DEFAULT_LEVERAG: "7" })
    expect(Layer.isLayer(misspelt)).toBe(true)
  })

  it.effect("seed variables that have no effect here are reported", () =>
    Effect.gen(function*() {
      const c = yield* load({ BROKER_HOST: "rabbitmq", DRY_RUN: "false" })
      expect(c.ignored.map((i) => i.variable)).toEqual(["BROKER_HOST", "DRY_RUN"])
      expect(c.trading.mode).toBe("paper")
    }))
})
