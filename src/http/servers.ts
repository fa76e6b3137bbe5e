/**
 * The two listeners of one runtime:
 * - `:8000` (PORT) — API, TradingView webhook, `/health`, `/ready`, `/metrics` (backend metrics);
 * - `:9000` (BOT_METRICS_PORT) — the bot's Prometheus exporter (`/metrics`, `/health`).
 * Each `HttpRouter.serve` builds its own router, so routes never leak between ports; services are
 * shared because they are provided from outside.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Layer } from "effect"
import type * as NetAddress from "effect/net/NetAddress"
import { HttpRouter, HttpServer, HttpServerError, HttpServerResponse } from "effect/http"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import { AppConfig } from "../config.ts"
import { DatabaseHealth } from "../db/Database.ts"
import { Prometheus } from "../telemetry/prometheus.ts"
import type { Exporter } from "../telemetry/metrics.ts"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { errorResponse, json, publicRoute } from "./respond.ts"
import { transportMiddleware } from "./transport.ts"
import packageJson from "../../package.json" with { type: "json" }

const VERSION: string = packageJson.version

export interface ListenAddress {
  readonly host: string
  readonly port: number
  readonly url: string
}

/** Where the API listener is bound (tests read the port chosen for PORT=0). */
export class ApiListener extends Context.Service<ApiListener, ListenAddress>()("tvtelegrambingx/ApiListener") {}
/** Where the bot metrics exporter is bound. */
export class BotMetricsListener extends Context.Service<BotMetricsListener, ListenAddress>()(
  "tvtelegrambingx/BotMetricsListener"
) {}

/** Node's own limits: slow clients cannot hold a connection open (slow-loris), bodies are bounded. */
const serverOptions: Http.ServerOptions = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  // How often those two are enforced (Node's default, 30 s, lets a trickling client hold its
  // connection for up to 40 s instead of 10).
  connectionsCheckingInterval: 1_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 16 * 1024
}

const makeNodeServer = (tls: { readonly cert: string; readonly key: string } | undefined) => (): Http.Server => {
  const server = tls === undefined
    ? Http.createServer(serverOptions)
    : Https.createServer({ ...serverOptions, cert: Fs.readFileSync(tls.cert), key: Fs.readFileSync(tls.key) })
  server.maxConnections = 4_096
  return server
}

const addressOf = (address: NetAddress.SocketAddress, scheme: "http" | "https"): ListenAddress => {
  if (address._tag === "UnixPathAddress") return { host: address.path, port: 0, url: `unix:${address.path}` }
  const url = new URL(HttpServer.formatAddress(address).replace(/^http:/, `${scheme}:`))
  // A wildcard bind is reachable on loopback; say so in the URL we print and hand to tests.
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = "127.0.0.1"
  return { host: url.hostname, port: address.port, url: url.origin }
}

const metricsRoute = (exporter: Exporter) =>
  publicRoute(
    "GET",
    "/metrics",
    Effect.gen(function*() {
      const prometheus = yield* Prometheus
      return yield* prometheus.render(exporter).pipe(
        Effect.map(({ body, contentType }) => HttpServerResponse.text(body, { contentType })),
        Effect.catchTag("MetricsRenderError", (e) => Effect.succeed(errorResponse(500, e.message)))
      )
    })
  )

const health = publicRoute("GET", "/health", Effect.succeed(json({ status: "ok" })))

const ready = publicRoute(
  "GET",
  "/ready",
  Effect.gen(function*() {
    const db = yield* DatabaseHealth
    return yield* db.check.pipe(
      Effect.as(json({ status: "ready" })),
      Effect.catchTag("DatabaseUnavailable", (e) => Effect.succeed(json({ status: "unavailable", error: e.message }, 503)))
    )
  })
)

const startedAt = new Date()

/** The contract's `system` group: what is running, for operators (no secrets). */
export const systemGroup = HttpApiBuilder.group(Api, "system", (handlers) =>
  handlers.handle("info", () =>
    Effect.map(AppConfig, (config) => ({
      name: "tvtelegrambingx",
      version: VERSION,
      role: config.role,
      environment: config.environment,
      tradingMode: config.trading.mode,
      database: config.database.url === undefined ? "embedded" as const : "postgres" as const,
      startedAt,
      uptimeSeconds: Math.floor((Date.now() - startedAt.getTime()) / 1000)
    }))))

const notFound = publicRoute("*", "/*", Effect.succeed(errorResponse(404, "not found")))

/**
 * A path the router cannot match at all — an invalid percent-encoding (`/%E0%A4%A`), a parameter
 * longer than the router's limit — gets the same JSON 404 as any unknown path (the router's own
 * answer is an empty body).
 */
const routeNotFoundAsJson = HttpRouter.middleware(
  (app) =>
    Effect.catchCause(app, (cause) => {
      const failure = cause.reasons.find((r) => r._tag === "Fail")
      const error: unknown = failure?._tag === "Fail" ? failure.error : undefined
      return error instanceof HttpServerError.HttpServerError && error.reason._tag === "RouteNotFound"
        ? Effect.succeed(errorResponse(404, "not found"))
        : Effect.failCause(cause)
    }),
  { global: true }
)

/** Routes every `:8000` deployment has. */
export const coreApiRoutes = Layer.mergeAll(health, ready, metricsRoute("backend"), notFound)

/**
 * The `:8000` listener serving `routes` (plus the core routes). The route layers' services must be
 * provided from outside so that they are shared with the rest of the runtime.
 */
export const layerApiServer = <E, R>(routes: Layer.Layer<never, E, R>) =>
  Layer.unwrap(Effect.gen(function*() {
    const config = yield* AppConfig
    const tls = config.http.tlsCertFile !== undefined && config.http.tlsKeyFile !== undefined
      ? { cert: config.http.tlsCertFile, key: config.http.tlsKeyFile }
      : undefined
    const server = NodeHttpServer.layer(makeNodeServer(tls), {
      port: config.http.port,
      host: config.http.host,
      gracefulShutdownTimeout: "10 seconds"
    })
    const listener = Layer.effect(
      ApiListener,
      Effect.gen(function*() {
        const address = addressOf((yield* HttpServer.HttpServer).address, tls === undefined ? "http" : "https")
        yield* Effect.logInfo(`API listening on ${address.url} (webhook: POST /webhook/tradingview)`)
        return address
      })
    )
    return Layer.mergeAll(
      HttpRouter.serve(Layer.mergeAll(coreApiRoutes, routes, transportMiddleware, routeNotFoundAsJson), {
        disableLogger: true,
        disableListenLog: true
      }),
      listener
    ).pipe(Layer.provide(server))
  }))

/**
 * The `:9000` listener with extra public routes (role bot in Telegram webhook mode serves the
 * webhook here). With BOT_METRICS_ENABLED=false and extra routes, only those routes are served.
 */
export const layerBotMetricsServerWith = <E, R>(routes: Layer.Layer<never, E, R> | undefined) =>
  Layer.unwrap(Effect.gen(function*() {
    const config = yield* AppConfig
    if (!config.http.botMetricsEnabled && routes === undefined) {
      return Layer.effectDiscard(Effect.logInfo("bot metrics exporter disabled (BOT_METRICS_ENABLED=false)"))
    }
    const server = NodeHttpServer.layer(makeNodeServer(undefined), {
      port: config.http.botMetricsPort,
      host: config.http.botMetricsHost,
      gracefulShutdownTimeout: "5 seconds"
    })
    const listener = Layer.effect(
      BotMetricsListener,
      Effect.gen(function*() {
        const address = addressOf((yield* HttpServer.HttpServer).address, "http")
        yield* Effect.logInfo(
          config.http.botMetricsEnabled
            ? `bot metrics exporter listening on ${address.url}/metrics`
            : `bot metrics exporter disabled (BOT_METRICS_ENABLED=false); bot routes listening on ${address.url}`
        )
        return address
      })
    )
    const base = config.http.botMetricsEnabled ? Layer.mergeAll(health, metricsRoute("bot"), notFound) : Layer.mergeAll(health, notFound)
    return Layer.mergeAll(
      HttpRouter.serve(Layer.mergeAll(routes === undefined ? base : Layer.mergeAll(base, routes), routeNotFoundAsJson), {
        disableLogger: true,
        disableListenLog: true
      }),
      listener
    ).pipe(Layer.provide(server))
  }))

/** The `:9000` bot metrics exporter (only when BOT_METRICS_ENABLED). */
export const layerBotMetricsServer = layerBotMetricsServerWith<never, never>(undefined)
