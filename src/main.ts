/**
 * Entry point and the one place where the layers of each role are composed.
 *
 *   npm start -- --role all|api|bot     (or ROLE=…; default all)
 *
 * - `api`: the :8000 listener (API, webhook, health, metrics) and the backend services on the
 *   database (signals, queue, order actor, exchange, PnL, notifier).
 * - `bot`: the Telegram bot and the :9000 metrics exporter; no database (it reaches the backend
 *   over HTTP).
 * - `all`: both, in one process, sharing one runtime.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, ConfigProvider, Context, Effect, Exit, Layer, Runtime } from "effect"
import { AppConfig, type AppConfigShape, ConfigInvalid, loadConfig, processConfigProvider, type Role } from "./config.ts"
import { AuditLog } from "./audit/AuditLog.ts"
import * as Database from "./db/Database.ts"
import { BotBackend } from "./bot/BotBackend.ts"
import { type TelegramOptions, telegramLayers } from "./bot/layers.ts"
import type { Exchange } from "./exchange/Exchange.ts"
import { ExchangeEvents } from "./exchange/ExchangeEvents.ts"
import { operatorApiRoutes } from "./http/operatorApi.ts"
import { ApiListener, BotMetricsListener, layerApiServer, layerBotMetricsServerWith, type ListenAddress } from "./http/servers.ts"
import type { Notifier } from "./notify/Notifier.ts"
import { FillEvents } from "./orders/FillEvents.ts"
import { layerExchange, layerOrders, type OrdersLayerOptions } from "./orders/layers.ts"
import { OrderService } from "./orders/OrderService.ts"
import { SignalQueue } from "./orders/SignalQueue.ts"
import { PnlService } from "./pnl/PnlService.ts"
import { Secrets, type TokenAnnouncer } from "./security/Secrets.ts"
import { BotSettings } from "./settings/BotSettings.ts"
import { layerAnnounceWebhook, type Printer } from "./signals/announce.ts"
import { BotStatusParts } from "./signals/BotStatusParts.ts"
import { layerWebhookTraceRedaction, signalRoutes } from "./signals/routes.ts"
import { SignalService } from "./signals/SignalService.ts"
import { WebhookGuard } from "./signals/WebhookGuard.ts"
import { layerLogger, type LogSink } from "./telemetry/logger.ts"
import { Prometheus } from "./telemetry/prometheus.ts"
import { layerTelemetry, layerUntracedProbes, telemetryOptionsOf } from "./telemetry/tracing.ts"

/** What a started app reports about itself (tests use it to find the ports chosen for port 0). */
export class AppInfo extends Context.Service<AppInfo, {
  readonly role: Role
  readonly api: ListenAddress | undefined
  readonly botMetrics: ListenAddress | undefined
}>()("tvtelegrambingx/AppInfo") {}

/** Replaceable parts, so tests can run the real composition against fakes. */
export interface AppOverrides {
  /** The database layer (default: `DATABASE_URL` or embedded PGlite, migrated). */
  readonly database?: Layer.Layer<Database.DatabaseServices, Database.DatabaseStartError, AppConfig>
  /** Where generated tokens are printed (default: stdout, once). */
  readonly announceToken?: TokenAnnouncer
  /** Where log lines go (default: stdout). */
  readonly logSink?: LogSink
  /** Where the first-start TradingView alert setup (with the secret) is printed (default: stdout). */
  readonly printAlertSetup?: Printer
  /** How notifications are delivered (default: Telegram when TELEGRAM_BOT_TOKEN is set, else nowhere). */
  readonly notifier?: Layer.Layer<Notifier>
  /** The exchange (tests: a fake). */
  readonly exchange?: Layer.Layer<Exchange>
  /** Telegram tuning (tests shorten retry delays and queue sizes). */
  readonly telegram?: TelegramOptions
  /** Order execution tuning (tests: `{ actor: false }` leaves the queue to the test). */
  readonly orders?: OrdersLayerOptions
}

/** The parts of /bot/status owned by other services. */
const statusParts = BotStatusParts.layerFrom<PnlService | OrderService>({
  account: Effect.flatMap(PnlService, (pnl) => pnl.account),
  breaker: Effect.map(Effect.flatMap(OrderService, (orders) => orders.breakerStatus), (b) => ({
    state: b.state,
    consecutive_failures: b.consecutiveFailures,
    open_until: b.openUntil === null ? null : b.openUntil.toISOString()
  }))
})

/** Services of the backend (roles api and all), on the database. */
const backendServices = (overrides: AppOverrides, notifier: Layer.Layer<Notifier, never, AppConfig>) =>
  Layer.mergeAll(SignalService.layer, WebhookGuard.layer, statusParts).pipe(
    // PnL reads the Exchange (mark prices, balances), so the exchange is provided below it.
    Layer.provideMerge(PnlService.layer),
    // Order execution: OrderService + the actor, on the Exchange chosen by TRADING_MODE.
    Layer.provideMerge(layerOrders(overrides.orders)),
    Layer.provideMerge(
      overrides.exchange === undefined ? layerExchange() : Layer.merge(overrides.exchange, ExchangeEvents.layer)
    ),
    Layer.provideMerge(Layer.mergeAll(
      overrides.announceToken ? Secrets.layerWith(overrides.announceToken) : Secrets.layer,
      BotSettings.layer,
      SignalQueue.layer,
      FillEvents.layer,
      overrides.notifier ?? notifier
    )),
    Layer.provideMerge(AuditLog.layer),
    Layer.provideMerge(overrides.database ?? Database.layer)
  )

/** Feature routes on :8000 (each capability adds its route layer here). */
const apiRoutes = Layer.mergeAll(signalRoutes, operatorApiRoutes)

/** The whole application for the configured role. Requires only `AppConfig`. */
export const appLayer = (overrides: AppOverrides = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const config = yield* AppConfig
    const role = config.role
    const telegram = telegramLayers(config, overrides.telegram)
    const backend = backendServices(overrides, telegram.notifier)
    // The bot: in-process backend in role all, the HTTP client in role bot (none in role api).
    const telegramBot = role === "all"
      ? telegram.bot(BotBackend.layerLocal.pipe(Layer.provide(backend)))
      : telegram.bot(BotBackend.layerHttp)
    const api = role === "bot"
      ? Layer.empty
      : layerAnnounceWebhook(overrides.printAlertSetup).pipe(
        Layer.provideMerge(
          layerApiServer(Layer.mergeAll(apiRoutes, role === "all" ? telegramBot.routes : Layer.empty)).pipe(
            Layer.provide(layerWebhookTraceRedaction)
          )
        ),
        Layer.provideMerge(backend)
      )
    const bot = role === "api"
      ? Layer.empty
      : Layer.mergeAll(
        layerBotMetricsServerWith(role === "bot" ? telegramBot.routes : undefined),
        telegramBot.run
      )
    const info = Layer.effect(
      AppInfo,
      Effect.gen(function*() {
        const apiAddress = yield* Effect.serviceOption(ApiListener)
        const botAddress = yield* Effect.serviceOption(BotMetricsListener)
        return AppInfo.of({
          role,
          api: apiAddress._tag === "Some" ? apiAddress.value : undefined,
          botMetrics: botAddress._tag === "Some" ? botAddress.value : undefined
        })
      })
    )
    const logger = layerLogger({
      service: config.telemetry.serviceName,
      level: config.log.level,
      format: config.log.format,
      ...(overrides.logSink === undefined ? {} : { sink: overrides.logSink })
    })
    return info.pipe(
      Layer.provideMerge(Layer.mergeAll(api, bot)),
      Layer.provideMerge(Prometheus.layer),
      Layer.tap(() => announceStart(config)),
      // Built first, released last: every service, request and log line runs with the OTel
      // tracer/loggers (TELEMETRY_ENABLED), and the final flush sees the spans of the shutdown.
      Layer.provide(Layer.mergeAll(layerTelemetry(telemetryOptionsOf(config)), layerUntracedProbes)),
      // The console logger is there before the telemetry layer, whose OTLP logger joins it.
      Layer.provide(logger)
    )
  }))

const announceStart = (config: AppConfigShape) =>
  Effect.gen(function*() {
    for (const { variable, why } of config.ignored) {
      yield* Effect.logWarning(`${variable} is set but has no effect: ${why}`)
    }
    for (const { variable, use } of config.renamed) {
      yield* Effect.logWarning(`${variable} is deprecated and read as ${use}; rename it to ${use}`)
    }
    const database = config.role === "bot"
      ? "none (bot role)"
      : config.database.url === undefined
      ? `embedded PGlite in ${config.database.dataDir}`
      : "DATABASE_URL"
    yield* Effect.logInfo(
      `tvtelegrambingx started: role=${config.role} trading_mode=${config.trading.mode} database=${database} environment=${config.environment}`
    )
  })

/** The app with its configuration and logger: what `npm start` runs. */
export const program = (options: {
  readonly overrides?: Readonly<Record<string, string>>
  readonly app?: AppOverrides
} = {}) =>
  Effect.gen(function*() {
    const config = yield* loadConfig.pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, processConfigProvider(options.overrides))
    )
    return yield* Layer.launch(appLayer(options.app).pipe(Layer.provide(Layer.succeed(AppConfig, config))))
  })

const USAGE = `usage: npm start -- [--role all|api|bot]
  --role all   everything in one process (default)
  --role api   API, webhook, queue, order actor, notifier (:8000)
  --role bot   Telegram bot and its metrics exporter (:9000), talking to BACKEND_BASE_URL
Configuration comes from the environment and .env; see .env.example.`

export class UsageError extends Error {}

/** `--role x`, `--role=x`; anything else is a usage error. */
export const parseArgs = (argv: ReadonlyArray<string>): { readonly ROLE?: string; readonly help?: true } => {
  const out: { ROLE?: string; help?: true } = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--help" || arg === "-h") out.help = true
    else if (arg === "--role") {
      const value = argv[++i]
      if (value === undefined) throw new UsageError("--role needs a value: all, api or bot")
      out.ROLE = value
    } else if (arg.startsWith("--role=")) out.ROLE = arg.slice("--role=".length)
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`)
  }
  return out
}

/** Exit codes: 0 after a clean stop (also on SIGINT/SIGTERM), 1 on a start-up error. */
const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(typeof process.exitCode === "number" ? process.exitCode : 0)
  if (Cause.hasInterruptsOnly(exit.cause)) return onExit(0)
  return Runtime.defaultTeardown(exit, onExit)
}

/** One line on stderr, no stack trace, exit code 1. */
const fatal = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`tvtelegrambingx: ${message}\n`)
    process.exitCode = 1
  })

if (import.meta.main) {
  let args: ReturnType<typeof parseArgs>
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`tvtelegrambingx: ${(e as Error).message}\n${USAGE}\n`)
    process.exit(2)
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const overrides: Record<string, string> = args.ROLE === undefined ? {} : { ROLE: args.ROLE }
  program({ overrides }).pipe(
    Effect.catchTags({
      ConfigInvalid: (e: ConfigInvalid) => fatal(`configuration error: ${e.message}`),
      DatabaseStartError: (e) => fatal(`database error: ${e.message}`),
      SqlError: (e) => fatal(`database error during start-up: ${e.message}`)
    }),
    NodeRuntime.runMain({ teardown })
  )
}
