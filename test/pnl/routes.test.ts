/**
 * The PnL routes alone (loopback server, PnlService faked): errors map to the contract's statuses.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter } from "effect/http"
import { ConnectionError, SqlError } from "effect/sql/SqlError"
import { BalancesUnavailable, PnlService } from "../../src/pnl/PnlService.ts"
import { apiOf } from "../../src/api/Api.ts"
import { PnlApi } from "../../src/api/Pnl.ts"
import { layerApiRoutes } from "../../src/api/server.ts"
import { pnlGroup } from "../../src/pnl/routes.ts"
import { Secrets } from "../../src/security/Secrets.ts"

const TOKEN = "routes-test-token"

const secrets = Layer.succeed(Secrets, Secrets.of({
  apiToken: Redacted.make(TOKEN),
  webhookToken: Redacted.make("unused"),
  webhookTokens: [Redacted.make("unused")],
  generated: []
}))

const seenWindows: Array<unknown> = []

const fakePnl = Layer.mock(PnlService)({
  balances: Effect.fail(new BalancesUnavailable({ message: "the exchange did not answer the balance request" })),
  openPositions: Effect.fail(
    new SqlError({ reason: new ConnectionError({ cause: new Error("connect ECONNREFUSED 10.1.2.3:5432"), message: "connection refused" }) })
  ),
  fillsReport: (window) => Effect.sync(() => {
    seenWindows.push(window)
    return []
  })
})

const server = HttpRouter.serve(layerApiRoutes(apiOf(PnlApi), pnlGroup), { disableLogger: true }).pipe(
  Layer.provide([fakePnl, secrets]),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

const get = (path: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(HttpClientRequest.get(path).pipe(HttpClientRequest.bearerToken(TOKEN)))
    return { status: response.status, body: yield* response.text }
  })

layer(server)("PnL routes", (it) => {
  it.effect("balances the exchange cannot give → 503 with the reason", () =>
    Effect.gen(function*() {
      const r = yield* get("/balances")
      expect(r.status).toBe(503)
      expect(JSON.parse(r.body)).toEqual({
        error: "balances unavailable: the exchange did not answer the balance request; try again shortly",
        fields: []
      })
    }))

  it.effect("a database failure → 503, no details leaked", () =>
    Effect.gen(function*() {
      const r = yield* get("/positions")
      expect(r.status).toBe(503)
      expect(JSON.parse(r.body)).toEqual({ error: "database unavailable, try again shortly", fields: [] })
      expect(r.body).not.toContain("10.1.2.3")
    }))

  it.effect("CSV window: dates parsed into [from, to) before the service is asked; bad input never reaches it", () =>
    Effect.gen(function*() {
      const ok = yield* get("/reports/pnl.csv?from=2026-03-01&to=2026-03-02")
      expect(ok.status).toBe(200)
      expect(seenWindows).toEqual([{ from: new Date("2026-03-01T00:00:00Z"), to: new Date("2026-03-03T00:00:00Z") }])
      const bad = yield* get("/reports/pnl.csv?from=2026-03-02&to=2026-03-01")
      expect(bad.status).toBe(422)
      expect(JSON.parse(bad.body)).toEqual({
        error: "invalid report window",
        fields: [{ field: "to", problem: "must be after from" }]
      })
      expect(seenWindows).toHaveLength(1)
    }))
})
