/**
 * The `pnl` group (PnL and reports): `GET /pnl?period=day|week|all`, `GET /positions`,
 * `GET /balances` (503 while the exchange cannot be read) and `GET /reports/pnl.csv?from=&to=`
 * (text/csv, one row per fill). The wire forms are declared here, once: Schemas whose Type is the
 * PnL service's record (src/pnl/records.ts) and whose Encoded form is the JSON README documents —
 * snake_case keys, decimals as plain strings (never an exponent), ISO-8601 UTC times, null for an
 * unknown value; fields a record has beyond them (a position's slot and cost) are not written.
 * The handlers (src/pnl/routes.ts) return records; these Schemas encode them. `/bot/status`
 * (src/api/Bot.ts) uses the same Schemas for its balances, pnl and open_positions, and the bot's
 * in-process backend hands the records over without encoding.
 *
 * CSV (`GET /reports/pnl.csv`), RFC 4180 (CRLF, quoted when needed), one row per fill, oldest
 * first, header:
 *   fill_id, filled_at, order_id, symbol, action, position_side, quantity, price, notional, fee,
 *   fee_asset, closed_quantity, realised_pnl, net_pnl
 * - position_side: long | short | empty (one-way mode)
 * - notional = price × quantity
 * - closed_quantity: how much of a position the fill closed (> 0 = a realising fill)
 * - realised_pnl: PnL the fill realised (before fees; 0 for opening fills)
 * - net_pnl = realised_pnl − fee
 * - closed_quantity, realised_pnl and net_pnl are empty while the fill is not applied yet.
 */
import { BigDecimal, Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { plain } from "../domain/decimal.ts"
import { PositionSide } from "../domain/vocabulary.ts"
import { type Account, Period, type ReportedFill } from "../pnl/records.ts"
import { Operator } from "./middleware.ts"
import { Decimal, Timestamp } from "./wire.ts"

export const Balance = Schema.Struct({
  asset: Schema.String,
  free: Decimal,
  locked: Decimal,
  total: Decimal
})

/** PnL totals (`pnl` of `/bot/status`). */
export const PnlSummary = Schema.Struct({
  realised: Decimal,
  unrealised: Decimal,
  total: Decimal,
  fees: Decimal,
  net: Decimal
}).pipe(Schema.encodeKeys({ realised: "realized", unrealised: "unrealized" }))

export const Position = Schema.Struct({
  symbol: Schema.String,
  side: PositionSide,
  quantity: Decimal,
  entryPrice: Decimal,
  markPrice: Schema.NullOr(Decimal),
  unrealised: Schema.NullOr(Decimal),
  leverage: Schema.NullOr(Schema.Int),
  openedAt: Schema.NullOr(Timestamp)
}).pipe(Schema.encodeKeys({
  entryPrice: "entry_price",
  markPrice: "mark_price",
  unrealised: "unrealized_pnl",
  openedAt: "opened_at"
}))

export const PnlBySymbol = Schema.Struct({
  symbol: Schema.String,
  realised: Decimal,
  fees: Decimal,
  net: Decimal,
  volume: Decimal,
  trades: Schema.Int
}).pipe(Schema.encodeKeys({ realised: "realized" }))

/** `GET /pnl?period=`. */
export const PnlReport = Schema.Struct({
  period: Period,
  from: Schema.NullOr(Timestamp),
  to: Timestamp,
  realised: Decimal,
  fees: Decimal,
  net: Decimal,
  unrealised: Decimal,
  volume: Decimal,
  trades: Schema.Int,
  realisingFills: Schema.Int,
  winRate: Schema.NullOr(Decimal),
  bySymbol: Schema.Array(PnlBySymbol)
}).pipe(Schema.encodeKeys({
  realised: "realized",
  unrealised: "unrealized",
  realisingFills: "realising_fills",
  winRate: "win_rate",
  bySymbol: "by_symbol"
}))

export type Balance = typeof Balance.Type
export type PnlSummary = typeof PnlSummary.Type
export type Position = typeof Position.Type
export type PnlReport = typeof PnlReport.Type
/** The `period` of `GET /pnl`. */
export const PnlPeriod = Period
export type PnlPeriod = Period

/** `GET /positions`. */
export const PositionList = Schema.Struct({ positions: Schema.Array(Position) })
/** `GET /balances`. */
export const BalanceList = Schema.Struct({ balances: Schema.Array(Balance) })

/** The PnL part of `GET /bot/status` (`balances`, `pnl`, `open_positions`) as one record. */
export const AccountPart = Schema.Struct({
  balances: Schema.Array(Balance),
  totals: PnlSummary,
  positions: Schema.Array(Position)
}).pipe(Schema.encodeKeys({ totals: "pnl", positions: "open_positions" }))

// Our own records always encode (a failure would be a bug, hence the sync encoders).
export const encodeReport = Schema.encodeSync(PnlReport)
export const encodePosition = Schema.encodeSync(Position)
export const encodePositions = Schema.encodeSync(PositionList)
export const encodeBalances = Schema.encodeSync(BalanceList)
export const encodeAccount: (account: Account) => typeof AccountPart.Encoded = Schema.encodeSync(AccountPart)

// --- CSV ---------------------------------------------------------------------------------------

export const CSV_COLUMNS = [
  "fill_id",
  "filled_at",
  "order_id",
  "symbol",
  "action",
  "position_side",
  "quantity",
  "price",
  "notional",
  "fee",
  "fee_asset",
  "closed_quantity",
  "realised_pnl",
  "net_pnl"
] as const

const csvField = (value: string): string => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, "\"\"")}"` : value)

export const csvRow = (row: ReportedFill): string =>
  [
    row.fillId,
    row.filledAt.toISOString(),
    row.orderId,
    row.symbol,
    row.action,
    row.positionSide ?? "",
    plain(row.quantity),
    plain(row.price),
    plain(BigDecimal.multiply(row.price, row.quantity)),
    plain(row.fee),
    row.feeAsset,
    row.closedQuantity === null ? "" : plain(row.closedQuantity),
    row.realised === null ? "" : plain(row.realised),
    row.realised === null ? "" : plain(BigDecimal.subtract(row.realised, row.fee))
  ].map(csvField).join(",")

export const renderCsv = (rows: ReadonlyArray<ReportedFill>): string =>
  [CSV_COLUMNS.join(","), ...rows.map(csvRow)].join("\r\n") + "\r\n"

// --- the group ---------------------------------------------------------------------------------

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
