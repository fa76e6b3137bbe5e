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
import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigProvider, Context, Effect, Exit, Layer, Runtime } from "effect"
import { AppConfig, type AppConfigShape, ConfigInvalid, loadConfig, processConfigProvider, type Role } from "./config.ts"
import { AuditLog } from "./audit/AuditLog.ts"
import * as Database from "./db/Database.ts"
import { ApiListener, BotMetricsListener, layerApiServer, layerBotMetricsServer, type ListenAddress } from "./http/servers.ts"
import { Notifier } from "./notify/Notifier.ts"
import { FillEvents } from "./orders/FillEvents.ts"
import { layerExchange, layerOrders } from "./orders/layers.ts"
import { orderRoutes } from "./orders/routes.ts"
import { SignalQueue } from "./orders/SignalQueue.ts"
import { Secrets, type TokenAnnouncer } from "./security/Secrets.ts"
import { BotSettings } from "./settings/BotSettings.ts"
import { layerLogger, type LogSink } from "./telemetry/logger.ts"
import { Prometheus } from "./telemetry/prometheus.ts"

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
}

/** Services of the backend (roles api and all), on the database. */
const backendServices = (overrides: AppOverrides) =>
  // Order execution: OrderService + the actor, on the Exchange chosen by TRADING_MODE.
  layerOrders().pipe(
    Layer.provideMerge(layerExchange()),
    Layer.provideMerge(Layer.mergeAll(
      overrides.announceToken ? Secrets.layerWith(overrides.announceToken) : Secrets.layer,
      BotSettings.layer,
      SignalQueue.layer,
      FillEvents.layer,
      // Until the Telegram notifier (bot issue) is wired here.
      Notifier.layerNoop
    )),
    Layer.provideMerge(AuditLog.layer),
    Layer.provideMerge(overrides.database ?? Database.layer)
  )

/** Feature routes on :8000 (each capability adds its route layer here). */
const apiRoutes = Layer.mergeAll(orderRoutes)

/** The whole application for the configured role. Requires only `AppConfig`. */
export const appLayer = (overrides: AppOverrides = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const config = yield* AppConfig
    const role = config.role
    const api = role === "bot"
      ? Layer.empty
      : layerApiServer(apiRoutes).pipe(Layer.provideMerge(backendServices(overrides)))
    const bot = role === "api" ? Layer.empty : layerBotMetricsServer
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
    return info.pipe(
      Layer.provideMerge(Layer.mergeAll(api, bot)),
      Layer.provideMerge(Prometheus.layer),
      Layer.tap(() => announceStart(config))
    )
  }))

const announceStart = (config: AppConfigShape) =>
  Effect.gen(function*() {
    for (const { variable, why } of config.ignored) {
      yield* Effect.logWarning(`${variable} is set but has no effect: ${why}`)
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
  readonly logSink?: LogSink
} = {}) =>
  Effect.gen(function*() {
    const config = yield* loadConfig.pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, processConfigProvider(options.overrides))
    )
    const logger = layerLogger({
      service: config.telemetry.serviceName,
      level: config.log.level,
      format: config.log.format,
      ...(options.logSink === undefined ? {} : { sink: options.logSink })
    })
    return yield* Layer.launch(
      appLayer(options.app).pipe(Layer.provide(Layer.succeed(AppConfig, config)), Layer.provide(logger))
    )
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
