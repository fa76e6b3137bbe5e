/**
 * The `pnl` group (PnL and reports): `GET /pnl?period=day|week|all`, `GET /positions`,
 * `GET /balances` (503 while the exchange cannot be read) and `GET /reports/pnl.csv?from=&to=`
 * (text/csv, one row per fill). The wire forms of a period summary, a position and a balance are
 * declared here, once.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { PositionSide } from "../domain/vocabulary.ts"
import { Operator } from "./middleware.ts"

/** Decimal text as the PnL service writes it (plain). */
const DecimalText = Schema.String

export const PnlPeriod = Schema.Literals(["day", "week", "all"])
export type PnlPeriod = typeof PnlPeriod.Type

export const Balance = Schema.Struct({
  asset: Schema.String,
  free: DecimalText,
  locked: DecimalText,
  total: DecimalText
})
export type Balance = typeof Balance.Type

export const PnlSummary = Schema.Struct({
  realized: DecimalText,
  unrealized: DecimalText,
  total: DecimalText,
  fees: DecimalText,
  net: DecimalText
})
export type PnlSummary = typeof PnlSummary.Type

export const Position = Schema.Struct({
  symbol: Schema.String,
  side: PositionSide,
  quantity: DecimalText,
  entry_price: DecimalText,
  mark_price: Schema.NullOr(DecimalText),
  unrealized_pnl: Schema.NullOr(DecimalText),
  leverage: Schema.NullOr(Schema.Int),
  opened_at: Schema.NullOr(Schema.String)
})
export type Position = typeof Position.Type

export const PnlBySymbol = Schema.Struct({
  symbol: Schema.String,
  realized: DecimalText,
  fees: DecimalText,
  net: DecimalText,
  volume: DecimalText,
  trades: Schema.Int
})

export const PnlReport = Schema.Struct({
  period: PnlPeriod,
  from: Schema.NullOr(Schema.String),
  to: Schema.String,
  realized: DecimalText,
  fees: DecimalText,
  net: DecimalText,
  unrealized: DecimalText,
  volume: DecimalText,
  trades: Schema.Int,
  realising_fills: Schema.Int,
  win_rate: Schema.NullOr(DecimalText),
  by_symbol: Schema.Array(PnlBySymbol)
})
export type PnlReport = typeof PnlReport.Type

export const PositionList = Schema.Struct({ positions: Schema.Array(Position) })
export const BalanceList = Schema.Struct({ balances: Schema.Array(Balance) })

export class PnlApi extends HttpApiGroup.make("pnl")
  .add(
    HttpApiEndpoint.get("summary", "/pnl", {
      query: { period: Schema.optional(Schema.String.annotate({ description: "day (default), week or all" })) },
      success: PnlReport
    }),
    HttpApiEndpoint.get("positions", "/positions", { success: PositionList }),
    HttpApiEndpoint.get("balances", "/balances", { success: BalanceList }),
    HttpApiEndpoint.get("csv", "/reports/pnl.csv", {
      query: {
        from: Schema.optional(Schema.String.annotate({ description: "a date (2026-03-01) or an ISO-8601 time with a zone" })),
        to: Schema.optional(Schema.String.annotate({ description: "a date (inclusive) or an ISO-8601 time (exclusive)" }))
      },
      success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/csv" }))
    })
  )
  .middleware(Operator)
  .annotateMerge(OpenApi.annotations({ title: "PnL and reports", description: "Realised and unrealised PnL, positions, balances, the CSV report" }))
{}
