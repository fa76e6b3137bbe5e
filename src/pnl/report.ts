/**
 * Report shapes and parsing (pure): reporting periods, the `/reports/pnl.csv` window and rows,
 * and the JSON bodies of the PnL API (snake_case, decimals as plain strings, ISO-8601 UTC times).
 *
 * Periods (UTC, like the exchange's daily boundaries):
 * - `day`  = [today 00:00, tomorrow 00:00)
 * - `week` = [Monday 00:00 of this ISO week, next Monday 00:00)
 * - `all`  = every stored fill (`from` null; `to` = the time of the report)
 *
 * CSV (`GET /reports/pnl.csv?from=&to=`), RFC 4180 (CRLF, quoted when needed), one row per fill,
 * oldest first, header:
 *   fill_id, filled_at, order_id, symbol, action, position_side, quantity, price, notional, fee,
 *   fee_asset, closed_quantity, realised_pnl, net_pnl
 * - position_side: long | short | empty (one-way mode)
 * - notional = price × quantity
 * - closed_quantity: how much of a position the fill closed (> 0 = a realising fill)
 * - realised_pnl: PnL the fill realised (before fees; 0 for opening fills)
 * - net_pnl = realised_pnl − fee
 * - closed_quantity, realised_pnl and net_pnl are empty while the fill is not applied yet.
 * `from`/`to`: `YYYY-MM-DD` (UTC day; a `to` day is included whole) or ISO-8601 with a zone
 * (`2026-03-01T12:00:00Z`, `…+02:00`); window [from, to); both optional.
 */
import { BigDecimal } from "effect"
import { divide, plain, ZERO } from "../domain/decimal.ts"
import type { FieldProblem } from "../domain/vocabulary.ts"
import type { FillReportRow, SymbolPeriodRow } from "./PnlRepo.ts"
import type { AccountPart, BalanceJson, OpenPositionJson, PnlSummaryJson } from "../signals/BotStatusParts.ts"

export type Period = "day" | "week" | "all"
export const PERIODS: ReadonlyArray<Period> = ["day", "week", "all"]

const DAY_MS = 86_400_000

export interface Window {
  /** Inclusive; undefined = since the first fill. */
  readonly from: Date | undefined
  /** Exclusive; undefined = no upper bound. */
  readonly to: Date | undefined
}

/** The window of a period containing `now`; `reportedTo` is what the JSON says as `to`. */
export const periodWindow = (period: Period, now: Date): Window & { readonly reportedTo: Date } => {
  const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())
  switch (period) {
    case "day":
      return { from: new Date(dayStart), to: new Date(dayStart + DAY_MS), reportedTo: new Date(dayStart + DAY_MS) }
    case "week": {
      const sinceMonday = (now.getUTCDay() + 6) % 7
      const from = dayStart - sinceMonday * DAY_MS
      return { from: new Date(from), to: new Date(from + 7 * DAY_MS), reportedTo: new Date(from + 7 * DAY_MS) }
    }
    case "all":
      return { from: undefined, to: undefined, reportedTo: now }
  }
}

export const parsePeriod = (value: string | null): Period | FieldProblem => {
  if (value === null || value === "") return "day"
  const period = PERIODS.find((p) => p === value.toLowerCase())
  return period ?? { field: "period", problem: `must be day, week or all (got ${JSON.stringify(value.slice(0, 40))})` }
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i

/** `YYYY-MM-DD` (the day's start, or the next day's start for an inclusive `to`) or a zoned ISO time. */
const parseBound = (field: "from" | "to", value: string): Date | FieldProblem => {
  const bad = {
    field,
    problem: "must be a date (2026-03-01) or an ISO-8601 time with a zone (2026-03-01T12:00:00Z)"
  }
  const day = DATE_ONLY.exec(value)
  if (day !== null) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])]
    const ms = Date.UTC(y, m - 1, d)
    const check = new Date(ms)
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) return bad
    return new Date(field === "to" ? ms + DAY_MS : ms)
  }
  if (!TIMESTAMP.test(value)) return bad
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? bad : new Date(ms)
}

const isProblem = (v: unknown): v is FieldProblem => typeof v === "object" && v !== null && "problem" in v

/** The CSV window from the query, or the problems (→ 422). */
export const parseCsvWindow = (
  from: string | null,
  to: string | null
): { readonly window: Window } | { readonly problems: ReadonlyArray<FieldProblem> } => {
  const problems: Array<FieldProblem> = []
  const f = from === null || from === "" ? undefined : parseBound("from", from)
  const t = to === null || to === "" ? undefined : parseBound("to", to)
  if (isProblem(f)) problems.push(f)
  if (isProblem(t)) problems.push(t)
  if (problems.length > 0) return { problems }
  const window = { from: f as Date | undefined, to: t as Date | undefined }
  if (window.from !== undefined && window.to !== undefined && window.to.getTime() <= window.from.getTime()) {
    return { problems: [{ field: "to", problem: "must be after from" }] }
  }
  return { window }
}

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

export const csvRow = (row: FillReportRow): string =>
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
    row.closedQuantity === undefined ? "" : plain(row.closedQuantity),
    row.realised === undefined ? "" : plain(row.realised),
    row.realised === undefined ? "" : plain(BigDecimal.subtract(row.realised, row.fee))
  ].map(csvField).join(",")

export const renderCsv = (rows: ReadonlyArray<FillReportRow>): string =>
  [CSV_COLUMNS.join(","), ...rows.map(csvRow)].join("\r\n") + "\r\n"

// --- JSON --------------------------------------------------------------------------------------

export interface SymbolSummaryJson {
  readonly symbol: string
  readonly realized: string
  readonly fees: string
  readonly net: string
  readonly volume: string
  readonly trades: number
}

export interface PeriodSummaryJson {
  readonly period: Period
  readonly from: string | null
  readonly to: string
  readonly realized: string
  readonly fees: string
  readonly net: string
  readonly unrealized: string
  readonly volume: string
  readonly trades: number
  readonly realising_fills: number
  /** Share of realising fills with a positive PnL, 4 decimals (half-even); null without any. */
  readonly win_rate: string | null
  readonly by_symbol: ReadonlyArray<SymbolSummaryJson>
}

export const WIN_RATE_DECIMALS = 4

export const periodSummaryJson = (
  period: Period,
  window: { readonly from: Date | undefined; readonly reportedTo: Date },
  rows: ReadonlyArray<SymbolPeriodRow>,
  unrealised: BigDecimal.BigDecimal
): PeriodSummaryJson => {
  const realised = BigDecimal.sumAll(rows.map((r) => r.realised))
  const fees = BigDecimal.sumAll(rows.map((r) => r.fees))
  const realising = rows.reduce((n, r) => n + r.realisingFills, 0)
  const wins = rows.reduce((n, r) => n + r.winningFills, 0)
  return {
    period,
    from: window.from?.toISOString() ?? null,
    to: window.reportedTo.toISOString(),
    realized: plain(realised),
    fees: plain(fees),
    net: plain(BigDecimal.subtract(realised, fees)),
    unrealized: plain(unrealised),
    volume: plain(rows.length === 0 ? ZERO : BigDecimal.sumAll(rows.map((r) => r.volume))),
    trades: rows.reduce((n, r) => n + r.trades, 0),
    realising_fills: realising,
    win_rate: realising === 0
      ? null
      : plain(divide(BigDecimal.fromNumberUnsafe(wins), BigDecimal.fromNumberUnsafe(realising), WIN_RATE_DECIMALS)),
    by_symbol: rows.map((r) => ({
      symbol: r.symbol,
      realized: plain(r.realised),
      fees: plain(r.fees),
      net: plain(BigDecimal.subtract(r.realised, r.fees)),
      volume: plain(r.volume),
      trades: r.trades
    }))
  }
}

/** JSON shapes shared with `/bot/status` (one definition, in BotStatusParts). */
export type { BalanceJson, PnlSummaryJson }
export type PositionJson = OpenPositionJson
/** The parts of `GET /bot/status` that come from PnL. */
export type BotStatusPnlParts = AccountPart

