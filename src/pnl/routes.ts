/**
 * The handlers of the contract's `pnl` group (src/api/Pnl.ts): `GET /pnl?period=` (default day),
 * `GET /positions`, `GET /balances` (503 while the exchange cannot be read) and
 * `GET /reports/pnl.csv?from=&to=` (text/csv, one row per fill; columns: see src/api/Pnl.ts). Bad
 * query values → 422 with `fields`. Handlers return the service's records; the contract's Schemas
 * write the JSON, `renderCsv` the CSV — nothing here builds a body by hand.
 */
import { Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { Invalid, Unavailable } from "../api/errors.ts"
import { renderCsv } from "../api/Pnl.ts"
import { orUnavailable } from "../api/server.ts"
import { PnlService } from "./PnlService.ts"
import { parseCsvWindow, parsePeriod } from "./report.ts"

export const pnlGroup = HttpApiBuilder.group(Api, "pnl", (handlers) =>
  handlers
    .handle("summary", ({ query }) =>
      Effect.gen(function*() {
        const period = parsePeriod(query.period ?? null)
        if (typeof period !== "string") return yield* Invalid.of("invalid query", [period])
        return yield* orUnavailable((yield* PnlService).periodSummary(period))
      }))
    .handle("positions", () =>
      Effect.gen(function*() {
        return { positions: yield* orUnavailable((yield* PnlService).openPositions) }
      }))
    .handle("balances", () =>
      Effect.gen(function*() {
        const balances = yield* (yield* PnlService).balances.pipe(
          Effect.mapError((e) => Unavailable.of(`balances unavailable: ${e.message}; try again shortly`))
        )
        return { balances }
      }))
    .handle("csv", ({ query }) =>
      Effect.gen(function*() {
        const parsed = parseCsvWindow(query.from ?? null, query.to ?? null)
        if ("problems" in parsed) return yield* Invalid.of("invalid report window", parsed.problems)
        const rows = yield* orUnavailable((yield* PnlService).fillsReport(parsed.window))
        return HttpServerResponse.text(renderCsv(rows), {
          contentType: "text/csv; charset=utf-8",
          headers: { "content-disposition": "attachment; filename=\"pnl.csv\"" }
        })
      })))
