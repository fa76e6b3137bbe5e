/**
 * Reports (pure): reporting periods, the `/reports/pnl.csv` window, and the period summary as a
 * domain record (its wire form and the CSV are written by src/api/Pnl.ts).
 *
 * Periods (UTC, like the exchange's daily boundaries):
 * - `day`  = [today 00:00, tomorrow 00:00)
 * - `week` = [Monday 00:00 of this ISO week, next Monday 00:00)
 * - `all`  = every stored fill (`from` null; `to` = the time of the report)
 *
 * Report window `from`/`to`: `YYYY-MM-DD` (UTC day; a `to` day is included whole) or ISO-8601 with
 * a zone (`2026-03-01T12:00:00Z`, `…+02:00`); window [from, to); both optional.
 * Win rate: share of realising fills (closed quantity > 0) with a positive PnL, 4 decimals
 * (half-even); null without any realising fill.
 */
import { BigDecimal } from "effect"
import { divide, ZERO } from "../domain/decimal.ts"
import type { FieldProblem } from "../domain/vocabulary.ts"
import { Period, type PeriodSummary, type SymbolPeriod } from "./records.ts"

export { Period }
export const PERIODS: ReadonlyArray<Period> = Period.literals

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

// --- period summary ------------------------------------------------------------------------

export const WIN_RATE_DECIMALS = 4

export const periodSummary = (
  period: Period,
  window: { readonly from: Date | undefined; readonly reportedTo: Date },
  rows: ReadonlyArray<SymbolPeriod>,
  unrealised: BigDecimal.BigDecimal
): PeriodSummary => {
  const realised = BigDecimal.sumAll(rows.map((r) => r.realised))
  const fees = BigDecimal.sumAll(rows.map((r) => r.fees))
  const realising = rows.reduce((n, r) => n + r.realisingFills, 0)
  const wins = rows.reduce((n, r) => n + r.winningFills, 0)
  return {
    period,
    from: window.from ?? null,
    to: window.reportedTo,
    realised,
    fees,
    net: BigDecimal.subtract(realised, fees),
    unrealised,
    volume: rows.length === 0 ? ZERO : BigDecimal.sumAll(rows.map((r) => r.volume)),
    trades: rows.reduce((n, r) => n + r.trades, 0),
    realisingFills: realising,
    winRate: realising === 0
      ? null
      : divide(BigDecimal.fromNumberUnsafe(wins), BigDecimal.fromNumberUnsafe(realising), WIN_RATE_DECIMALS),
    bySymbol: rows.map((r) => ({
      symbol: r.symbol,
      realised: r.realised,
      fees: r.fees,
      net: BigDecimal.subtract(r.realised, r.fees),
      volume: r.volume,
      trades: r.trades
    }))
  }
}
