/**
 * `GET /openapi.json`: served without a token, derived from the contract, and it lists every
 * operator endpoint (walked from the same definition) with the bearer scheme, its status codes and
 * the `{"error", "fields"}` error body.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { HttpClient, HttpRouter } from "effect/http"
import { HttpApi } from "effect/http-api"
import { Api, apiOf } from "../../src/api/Api.ts"
import { PnlApi } from "../../src/api/Pnl.ts"
import { layerApiRoutes, OPENAPI_PATH } from "../../src/api/server.ts"
import { pnlGroup } from "../../src/pnl/routes.ts"
import { PnlService } from "../../src/pnl/PnlService.ts"
import { Secrets } from "../../src/security/Secrets.ts"

const secrets = Layer.succeed(Secrets, Secrets.of({
  apiToken: Redacted.make("openapi-test-token"),
  webhookToken: Redacted.make("unused"),
  webhookTokens: [Redacted.make("unused")],
  generated: []
}))

const server = HttpRouter.serve(layerApiRoutes(apiOf(PnlApi), pnlGroup), { disableLogger: true }).pipe(
  Layer.provide([Layer.mock(PnlService)({}), secrets]),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

/** Every endpoint of the whole contract as "METHOD /path/{param}". */
const contractEndpoints = () => {
  const found: Array<string> = []
  HttpApi.reflect(Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => found.push(`${endpoint.method} ${endpoint.path.replace(/:(\w+)/g, "{$1}")}`)
  })
  return found.sort()
}

interface Document {
  readonly openapi: string
  readonly paths: Record<string, Record<string, {
    readonly security?: ReadonlyArray<Record<string, unknown>>
    readonly responses: Record<string, { readonly content?: Record<string, { readonly schema: unknown }> }>
  }>>
  readonly components: { readonly securitySchemes?: Record<string, { readonly type: string; readonly scheme?: string }> }
}

layer(server)("GET /openapi.json", (it) => {
  it.effect("is served without a token; the document of what is served lists its endpoints, each behind the bearer scheme", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const response = yield* client.get(OPENAPI_PATH)
      expect(response.status).toBe(200)
      const doc = (yield* response.json) as unknown as Document
      expect(doc.openapi).toMatch(/^3\./)
      const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort()
      // The document of the served part names the part; the full contract is checked below.
      expect(listed).toEqual(["GET /balances", "GET /pnl", "GET /positions", "GET /reports/pnl.csv"])
      for (const ops of Object.values(doc.paths)) {
        for (const op of Object.values(ops)) {
          expect(op.security?.length).toBeGreaterThan(0)
          expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["401", "422", "503"]))
        }
      }
      expect(Object.values(doc.components.securitySchemes ?? {})).toContainEqual(expect.objectContaining({ type: "http", scheme: "Bearer" }))
    }))
})

layer(Layer.empty)("the contract's OpenAPI document", (it) => {
  it.effect("lists exactly the contract's endpoints (15), with the error body {error, fields}", () =>
    Effect.gen(function*() {
      const { OpenApi } = yield* Effect.promise(() => import("effect/http-api"))
      const doc = OpenApi.fromApi(Api) as unknown as Document
      const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort()
      expect(listed).toEqual(contractEndpoints())
      expect(listed).toEqual([
        "GET /balances",
        "GET /bot/reports",
        "GET /bot/status",
        "GET /orders",
        "GET /orders/{id}",
        "GET /pnl",
        "GET /positions",
        "GET /reports/pnl.csv",
        "GET /signals",
        "GET /signals/{id}",
        "GET /system",
        "POST /bot/audit",
        "POST /bot/settings",
        "POST /orders/{id}/approve",
        "POST /orders/{id}/reject"
      ])
      // Every error status documents the body {error, fields}.
      const schemas = (doc.components as unknown as { schemas: Record<string, { properties?: Record<string, unknown>; required?: Array<string> }> }).schemas
      const bodyOf = (path: string, method: string, status: string) => {
        const ref = (doc.paths[path]![method]!.responses[status]!.content!["application/json"]!.schema as { $ref: string }).$ref
        return schemas[ref.replace("#/components/schemas/", "")]!
      }
      for (const [path, method, status] of [
        ["/orders/{id}", "get", "404"],
        ["/orders/{id}/approve", "post", "409"],
        ["/signals", "get", "422"],
        ["/signals", "get", "401"],
        ["/bot/status", "get", "503"]
      ] as const) {
        const body = bodyOf(path, method, status)
        expect(Object.keys(body.properties ?? {}).sort(), `${method} ${path} ${status}`).toEqual(["error", "fields"])
      }
    }))
})
