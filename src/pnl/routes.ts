/**
 * The handlers of the contract's `pnl` group (src/api/Pnl.ts): `GET /pnl?period=` (default day),
 * `GET /positions`, `GET /balances` (503 while the exchange cannot be read) and
 * `GET /reports/pnl.csv?from=&to=` (text/csv, one row per fill; columns: see report.ts). Bad query
 * values → 422 with `fields`.
 */
import { Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { Invalid, Unavailable } from "../api/errors.ts"
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
        return { positions: yield* orUnavailable((yield* PnlService).positionsJson) }
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
        const body = yield* orUnavailable((yield* PnlService).csvReport(parsed.window))
        return HttpServerResponse.text(body, {
          contentType: "text/csv; charset=utf-8",
          headers: { "content-disposition": "attachment; filename=\"pnl.csv\"" }
        })
      })))
