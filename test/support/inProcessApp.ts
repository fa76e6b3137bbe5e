/**
 * The one in-process app starter: the real application (`appLayer` of src/main.ts, the composition
 * `npm start` runs) built inside the test's own process, so a test can read its services (SqlClient,
 * SignalQueue…) and replace parts of it (`AppOverrides`: a fake exchange, an in-memory notifier, a
 * proxied database). For the real `node src/main.ts` process use childProcessApp.ts.
 *
 * - Environment: `defaultTestEnv` (loopback, ports chosen by the OS, BingX / Telegram / backend /
 *   OTLP pointed at a dead loopback port), then `env`; a key set to "" is removed.
 * - Database: a fresh one (database.ts: PGlite copy or a new database on TEST_DATABASE_URL), unless
 *   `env` names one (DATA_DIR / DATABASE_URL) or the role is `bot` (it has none).
 * - Log lines, the first-start alert print and generated tokens are captured, not printed.
 * - Stops when the surrounding scope closes (layers released: servers drained, telemetry flushed).
 *
 *     const app = yield* startInProcessApp({ TELEMETRY_ENABLED: "true", TELEMETRY_OTLP_ENDPOINT: receiver.url })
 *     const text = yield* scrapeText(`${app.api}/metrics`)
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { AppConfig, type AppConfigShape } from "../../src/config.ts"
import { AppInfo, appLayer, type AppOverrides } from "../../src/main.ts"
import { testDatabaseEnv } from "./database.ts"

/** Everything the started app provides (its services, AppInfo, AppConfig). */
export type InProcessServices = Layer.Success<ReturnType<typeof appLayer>> | AppConfig

export interface InProcessApp {
  readonly info: AppInfo["Service"]
  readonly config: AppConfigShape
  /** Base URL of the :8000 listener (undefined for role bot). */
  readonly api: string | undefined
  /** Base URL of the :9000 exporter (undefined when disabled or role api). */
  readonly botMetrics: string | undefined
  /** Every log line written so far (JSON unless LOG_FORMAT=pretty), unless `overrides.logSink` took them. */
  readonly lines: ReadonlyArray<string>
  /** The first-start alert setup prints and `VARIABLE=token` announcements, in order. */
  readonly printed: ReadonlyArray<string>
  /** The app's services, to run test effects against (`Effect.provideContext`). */
  readonly context: Context.Context<InProcessServices>
}

/** Nothing listens here: a service that tries to call out fails fast instead of reaching the internet. */
export const UNREACHABLE = "http://127.0.0.1:1"

/** Loopback, OS-chosen ports, every outside service on a dead loopback address. */
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

/** `defaultTestEnv`, then `env`, without the keys set to "". */
const testEnv = (env: Readonly<Record<string, string>>) => {
  const merged: Record<string, string> = { ...defaultTestEnv, ...env }
  for (const [k, v] of Object.entries(merged)) if (v === "") delete merged[k]
  return merged
}

export const startInProcessApp = (
  env: Readonly<Record<string, string>> = {},
  overrides: AppOverrides = {}
): Effect.Effect<InProcessApp, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const printed: Array<string> = []
    const merged = testEnv(env)
    const ownDatabase = merged["ROLE"] === "bot" || merged["DATA_DIR"] !== undefined || merged["DATABASE_URL"] !== undefined
    const dbEnv = ownDatabase ? {} : yield* testDatabaseEnv
    const config = yield* Effect.provide(AppConfig.use(Effect.succeed), AppConfig.layerFrom({ ...merged, ...dbEnv }))
    const context = yield* Layer.build(
      appLayer({
        logSink: (line) => void lines.push(line),
        printAlertSetup: (text) => void printed.push(text),
        announceToken: (variable, token) => void printed.push(`${variable}=${token}`),
        ...overrides
      }).pipe(Layer.provideMerge(Layer.succeed(AppConfig, config)))
    )
    const info = Context.get(context, AppInfo)
    return { info, config, api: info.api?.url, botMetrics: info.botMetrics?.url, lines, printed, context }
  })

/** The started app as a layer: its services plus `InProcessAppInfo` (for `layer(...)` of @effect/vitest). */
export class InProcessAppInfo extends Context.Service<InProcessAppInfo, InProcessApp>()("test/InProcessApp") {}

export const layerInProcessApp = (env: Readonly<Record<string, string>> = {}, overrides: AppOverrides = {}) =>
  Layer.effectContext(
    Effect.map(startInProcessApp(env, overrides), (app) => Context.add(app.context, InProcessAppInfo, app))
  )

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
