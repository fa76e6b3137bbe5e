/**
 * The real application (`appLayer` of src/main.ts, its log lines captured)
 * started inside a test: a fresh test database (PGlite temp dir, or a fresh database on
 * TEST_DATABASE_URL), loopback listeners on OS-chosen ports, log lines captured. Stops when the
 * surrounding scope closes (layers released: servers drained, telemetry flushed).
 *
 *     const app = yield* startApp({ TELEMETRY_ENABLED: "true", TELEMETRY_OTLP_ENDPOINT: receiver.url })
 *     const text = yield* scrapeText(`${app.api}/metrics`)
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { AppConfig, type AppConfigShape } from "../../src/config.ts"
import { AppInfo, appLayer } from "../../src/main.ts"
import { testDatabaseEnv } from "./db.ts"

export interface StartedApp {
  readonly info: AppInfo["Service"]
  readonly config: AppConfigShape
  /** Base URL of the :8000 listener (undefined for role bot). */
  readonly api: string | undefined
  /** Base URL of the :9000 exporter (undefined when disabled or role api). */
  readonly botMetrics: string | undefined
  /** Every log line written so far (JSON unless LOG_FORMAT=pretty). */
  readonly lines: ReadonlyArray<string>
}

/** Nothing listens here: a service that tries to call out fails fast instead of reaching the internet. */
export const UNREACHABLE = "http://127.0.0.1:1"

/**
 * Loopback, OS-chosen ports, generated tokens not printed, BingX and Telegram pointed at a dead
 * loopback address (tests never touch the real world); `env` overrides any of it.
 */
export const defaultTestEnv: Readonly<Record<string, string>> = {
  HOST: "127.0.0.1",
  PORT: "0",
  BOT_METRICS_HOST: "127.0.0.1",
  BOT_METRICS_PORT: "0",
  LOG_LEVEL: "info",
  BINGX_BASE_URL: UNREACHABLE,
  TELEGRAM_API_ROOT: UNREACHABLE,
  BACKEND_BASE_URL: UNREACHABLE,
  TELEMETRY_OTLP_ENDPOINT: UNREACHABLE
}

export const startApp = (env: Readonly<Record<string, string>> = {}): Effect.Effect<StartedApp, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const dbEnv = env["ROLE"] === "bot" ? {} : yield* testDatabaseEnv
    const configLayer = AppConfig.layerFrom({ ...defaultTestEnv, ...dbEnv, ...env })
    const config = yield* Effect.provide(AppConfig.use(Effect.succeed), configLayer)
    const context = yield* Layer.build(
      appLayer({ announceToken: () => {}, logSink: (line) => lines.push(line) }).pipe(
        Layer.provide(Layer.succeed(AppConfig, config))
      )
    )
    const info = Context.get(context, AppInfo)
    return { info, config, api: info.api?.url, botMetrics: info.botMetrics?.url, lines }
  })

/** GET a URL; fails unless it answers 200. */
export const scrapeText = (url: string) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(url)
      const body = await response.text()
      if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${body.slice(0, 200)}`)
      return body
    },
    catch: (e) => (e instanceof Error ? e : new Error(String(e)))
  })
