/**
 * PnL API on :8000 (operator routes: `Authorization: Bearer <API_TOKEN>`):
 * - `GET /pnl?period=day|week|all` (default day) → period summary
 * - `GET /positions` → `{"positions": [...]}`
 * - `GET /balances` → `{"balances": [...]}` (503 when the exchange cannot be read)
 * - `GET /reports/pnl.csv?from=&to=` → text/csv, one row per fill (columns: see report.ts)
 * Bad query values → 422 with `fields`.
 */
import { Effect, Layer } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { ApiError, json, operatorRoute } from "../http/respond.ts"
import { PnlService } from "./PnlService.ts"
import { parseCsvWindow, parsePeriod } from "./report.ts"

const query = Effect.map(HttpServerRequest.HttpServerRequest, (request) => new URL(request.url, "http://localhost").searchParams)

const pnl = operatorRoute(
  "GET",
  "/pnl",
  Effect.gen(function*() {
    const period = parsePeriod((yield* query).get("period"))
    if (typeof period !== "string") {
      return yield* new ApiError({ status: 422, message: "invalid query", fields: [period] })
    }
    return json(yield* (yield* PnlService).periodSummary(period))
  })
)

const positions = operatorRoute(
  "GET",
  "/positions",
  Effect.gen(function*() {
    return json({ positions: yield* (yield* PnlService).positionsJson })
  })
)

const balances = operatorRoute(
  "GET",
  "/balances",
  Effect.gen(function*() {
    const list = yield* (yield* PnlService).balances.pipe(
      Effect.mapError((e) => new ApiError({ status: 503, message: `balances unavailable: ${e.message}; try again shortly` }))
    )
    return json({ balances: list })
  })
)

const csv = operatorRoute(
  "GET",
  "/reports/pnl.csv",
  Effect.gen(function*() {
    const params = yield* query
    const parsed = parseCsvWindow(params.get("from"), params.get("to"))
    if ("problems" in parsed) {
      return yield* new ApiError({ status: 422, message: "invalid report window", fields: parsed.problems })
    }
    const body = yield* (yield* PnlService).csvReport(parsed.window)
    return HttpServerResponse.text(body, {
      contentType: "text/csv; charset=utf-8",
      headers: { "content-disposition": "attachment; filename=\"pnl.csv\"" }
    })
  })
)

/** The PnL routes; need PnlService and Secrets from the runtime. */
export const pnlRoutes = Layer.mergeAll(pnl, positions, balances, csv)
