/**
 * How the contract answers what is not a success, on the orders group with a faked OrderService:
 * 401 with `www-authenticate: Bearer` before anything is decoded, 422 listing every query problem
 * (also for a repeated parameter), 404 for text that is no id, 503 for a database failure, and a
 * logged 500 `{"error": "internal error"}` for a defect — always the `{"error", "fields"}` body.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Redacted } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter } from "effect/http"
import { ConnectionError, SqlError } from "effect/sql/SqlError"
import { apiOf } from "../../src/api/Api.ts"
import { OrdersApi } from "../../src/api/Orders.ts"
import { layerApiRoutes } from "../../src/api/server.ts"
import { OrderNotFound, OrderService } from "../../src/orders/OrderService.ts"
import { ordersGroup } from "../../src/orders/routes.ts"
import { Secrets } from "../../src/security/Secrets.ts"

const TOKEN = "errors-test-token"

const secrets = Layer.succeed(Secrets, Secrets.of({
  apiToken: Redacted.make(TOKEN),
  webhookToken: Redacted.make("unused"),
  webhookTokens: [Redacted.make("unused")],
  generated: []
}))

const listed: Array<unknown> = []

const orders = Layer.mock(OrderService)({
  list: (filter) => {
    listed.push(filter)
    if (filter?.symbol === "DOWN-USDT") {
      return Effect.fail(new SqlError({ reason: new ConnectionError({ cause: new Error("ECONNREFUSED"), message: "connection refused" }) }))
    }
    if (filter?.symbol === "BUG-USDT") return Effect.die(new Error("a bug"))
    return Effect.succeed([])
  },
  get: (id) => Effect.fail(new OrderNotFound({ orderId: id, message: `order ${id} not found` }))
})

const server = HttpRouter.serve(layerApiRoutes(apiOf(OrdersApi), ordersGroup), { disableLogger: true }).pipe(
  Layer.provide([orders, secrets, Logger.layer([])]),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

const get = (path: string, token: string | null = TOKEN) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const request = HttpClientRequest.get(path)
    const response = yield* client.execute(token === null ? request : HttpClientRequest.bearerToken(request, token))
    return { status: response.status, headers: response.headers, body: yield* response.json }
  })

layer(server)("the contract's error answers", (it) => {
  it.effect("401 with www-authenticate before the query is even looked at", () =>
    Effect.gen(function*() {
      const before = listed.length
      for (const token of [null, "wrong"]) {
        const r = yield* get("/orders?limit=0", token)
        expect(r.status).toBe(401)
        expect(r.headers["www-authenticate"]).toBe("Bearer")
        expect(r.body).toEqual({ error: "missing or invalid bearer token: send Authorization: Bearer <API_TOKEN>", fields: [] })
      }
      expect(listed.length).toBe(before)
    }))

  it.effect("422 lists every query problem, in the wording of each parameter", () =>
    Effect.gen(function*() {
      const r = yield* get("/orders?status=bogus&symbol=%24%24%24&limit=0")
      expect(r.status).toBe(422)
      expect(r.body).toEqual({
        error: "invalid query",
        fields: [
          { field: "status", problem: expect.stringContaining("must be one of awaiting_approval, pending") },
          { field: "symbol", problem: "must be a BingX symbol like BTC-USDT" },
          { field: "limit", problem: "must be a whole number from 1 to 500" }
        ]
      })
      const repeated = yield* get("/orders?limit=1&limit=2")
      expect(repeated.status).toBe(422)
      expect((repeated.body as { fields: Array<{ field: string }> }).fields.map((f) => f.field)).toEqual(["limit"])
      const ok = yield* get("/orders?limit=&symbol=btc-usdt")
      expect(ok).toMatchObject({ status: 200, body: { orders: [] } })
      expect(listed.at(-1)).toEqual({ status: undefined, symbol: "BTC-USDT", limit: 50 })
    }))

  it.effect("404 for an unknown id and for text that cannot be one", () =>
    Effect.gen(function*() {
      expect(yield* get("/orders/99")).toMatchObject({ status: 404, body: { error: "order 99 not found", fields: [] } })
      expect(yield* get("/orders/abc")).toMatchObject({ status: 404, body: { error: "order abc not found", fields: [] } })
    }))

  it.effect("503 for a database failure, a logged 500 for a defect; never a stack trace", () =>
    Effect.gen(function*() {
      expect(yield* get("/orders?symbol=DOWN-USDT")).toMatchObject({
        status: 503,
        body: { error: "database unavailable, try again shortly", fields: [] }
      })
      const bug = yield* get("/orders?symbol=BUG-USDT")
      expect(bug).toMatchObject({ status: 500, body: { error: "internal error", fields: [] } })
      expect(JSON.stringify(bug.body)).not.toContain("a bug")
    }))
})
