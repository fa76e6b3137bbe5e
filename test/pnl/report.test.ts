import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import { plain } from "../../src/domain/decimal.ts"
import type { ReportedFill, SymbolPeriod } from "../../src/pnl/records.ts"
import { parseCsvWindow, parsePeriod, periodSummary, periodWindow } from "../../src/pnl/report.ts"
import { CSV_COLUMNS, encodeReport, renderCsv } from "../../src/api/Pnl.ts"

const d = (s: string) => BigDecimal.fromStringUnsafe(s)
const iso = (s: string) => new Date(s).toISOString()

describe("report periods", () => {
  it("day is the UTC calendar day, week starts on Monday 00:00 UTC", () => {
    const wednesday = new Date("2026-03-04T10:15:00Z")
    expect(periodWindow("day", wednesday)).toEqual({
      from: new Date("2026-03-04T00:00:00Z"),
      to: new Date("2026-03-05T00:00:00Z"),
      reportedTo: new Date("2026-03-05T00:00:00Z")
    })
    expect(periodWindow("week", wednesday).from).toEqual(new Date("2026-03-02T00:00:00Z"))
    expect(periodWindow("week", wednesday).to).toEqual(new Date("2026-03-09T00:00:00Z"))
    // Sunday late evening still belongs to the week that began on Monday.
    expect(periodWindow("week", new Date("2026-03-08T23:59:59.999Z")).from).toEqual(new Date("2026-03-02T00:00:00Z"))
    // Monday 00:00 starts a new one.
    expect(periodWindow("week", new Date("2026-03-09T00:00:00Z")).from).toEqual(new Date("2026-03-09T00:00:00Z"))
    expect(periodWindow("all", wednesday)).toEqual({ from: undefined, to: undefined, reportedTo: wednesday })
  })

  it("period parameter: day by default, case-insensitive, else a field problem", () => {
    expect(parsePeriod(null)).toBe("day")
    expect(parsePeriod("WEEK")).toBe("week")
    expect(parsePeriod("all")).toBe("all")
    expect(parsePeriod("month")).toEqual({ field: "period", problem: "must be day, week or all (got \"month\")" })
  })
})

describe("CSV window", () => {
  it("dates cover whole UTC days; zoned timestamps are exact; both optional", () => {
    expect(parseCsvWindow("2026-03-01", "2026-03-01")).toEqual({
      window: { from: new Date("2026-03-01T00:00:00Z"), to: new Date("2026-03-02T00:00:00Z") }
    })
    expect(parseCsvWindow("2026-03-01T12:00:00+02:00", "2026-03-01T12:30:00.5Z")).toEqual({
      window: { from: new Date("2026-03-01T10:00:00Z"), to: new Date("2026-03-01T12:30:00.500Z") }
    })
    expect(parseCsvWindow(null, null)).toEqual({ window: { from: undefined, to: undefined } })
    expect(parseCsvWindow("", "2026-03-01")).toEqual({ window: { from: undefined, to: new Date("2026-03-02T00:00:00Z") } })
  })

  it("rejects impossible dates, zone-less times, garbage and an empty window", () => {
    const problem = "must be a date (2026-03-01) or an ISO-8601 time with a zone (2026-03-01T12:00:00Z)"
    expect(parseCsvWindow("2026-02-30", null)).toEqual({ problems: [{ field: "from", problem }] })
    expect(parseCsvWindow("2026-03-01T12:00:00", "yesterday")).toEqual({
      problems: [{ field: "from", problem }, { field: "to", problem }]
    })
    expect(parseCsvWindow(null, "1709251200")).toEqual({ problems: [{ field: "to", problem }] })
    expect(parseCsvWindow("2026-03-02", "2026-03-01")).toEqual({ problems: [{ field: "to", problem: "must be after from" }] })
    expect(parseCsvWindow("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z")).toEqual({
      problems: [{ field: "to", problem: "must be after from" }]
    })
  })
})

describe("CSV rendering", () => {
  const row = (over: Partial<ReportedFill>): ReportedFill => ({
    fillId: "7",
    orderId: "3",
    filledAt: new Date("2026-03-04T10:00:01.250Z"),
    symbol: "BTC-USDT",
    action: "sell",
    positionSide: null,
    quantity: d("0.4"),
    price: d("63000"),
    fee: d("12.6"),
    feeAsset: "USDT",
    realised: d("800"),
    closedQuantity: d("0.4"),
    ...over
  })

  it("header and one row per fill, decimals plain, CRLF, RFC 4180 quoting", () => {
    const csv = renderCsv([
      row({}),
      row({ fillId: "8", positionSide: "short", realised: null, closedQuantity: null }),
      row({ fillId: "9", symbol: "ODD,\"NAME\"", quantity: d("0.000000000000000001"), price: d("1"), fee: d("0") })
    ])
    const lines = csv.split("\r\n")
    expect(lines).toEqual([
      "fill_id,filled_at,order_id,symbol,action,position_side,quantity,price,notional,fee,fee_asset,closed_quantity,realised_pnl,net_pnl",
      "7,2026-03-04T10:00:01.250Z,3,BTC-USDT,sell,,0.4,63000,25200,12.6,USDT,0.4,800,787.4",
      "8,2026-03-04T10:00:01.250Z,3,BTC-USDT,sell,short,0.4,63000,25200,12.6,USDT,,,",
      "9,2026-03-04T10:00:01.250Z,3,\"ODD,\"\"NAME\"\"\",sell,,0.000000000000000001,1,0.000000000000000001,0,USDT,0.4,800,800",
      ""
    ])
    expect(lines[0]!.split(",")).toEqual([...CSV_COLUMNS])
  })

  it("an empty report is the header alone", () => {
    expect(renderCsv([])).toBe(`${CSV_COLUMNS.join(",")}\r\n`)
  })
})

describe("period summary (record and its JSON)", () => {
  const rows: ReadonlyArray<SymbolPeriod> = [
    { symbol: "BTC-USDT", trades: 4, volume: d("100.5"), fees: d("0.1"), realised: d("3"), realisingFills: 2, winningFills: 1 },
    { symbol: "ETH-USDT", trades: 2, volume: d("10"), fees: d("0.05"), realised: d("-1"), realisingFills: 1, winningFills: 1 }
  ]

  it("sums symbols exactly; win rate = winning / realising fills, 4 decimals half-even", () => {
    const window = periodWindow("day", new Date("2026-03-04T10:00:00Z"))
    const summary = periodSummary("day", window, rows, d("-0.5"))
    expect(summary.winRate).toEqual(BigDecimal.make(6667n, 4))
    expect(summary.from).toEqual(new Date("2026-03-04T00:00:00Z"))
    expect(encodeReport(summary)).toEqual({
      period: "day",
      from: iso("2026-03-04T00:00:00Z"),
      to: iso("2026-03-05T00:00:00Z"),
      realized: "2",
      fees: "0.15",
      net: "1.85",
      unrealized: "-0.5",
      volume: "110.5",
      trades: 6,
      realising_fills: 3,
      win_rate: "0.6667",
      by_symbol: [
        { symbol: "BTC-USDT", realized: "3", fees: "0.1", net: "2.9", volume: "100.5", trades: 4 },
        { symbol: "ETH-USDT", realized: "-1", fees: "0.05", net: "-1.05", volume: "10", trades: 2 }
      ]
    })
  })

  it("no fills: zeros and a null win rate", () => {
    const summary = periodSummary("all", periodWindow("all", new Date(0)), [], d("0"))
    expect(summary).toMatchObject({ from: null, winRate: null, trades: 0 })
    expect(encodeReport(summary)).toMatchObject({ from: null, realized: "0", fees: "0", volume: "0", trades: 0, win_rate: null })
  })
})

describe("plain decimals", () => {
  it("never uses exponent notation", () => {
    expect(plain(d("0.000000000000000001"))).toBe("0.000000000000000001")
    expect(plain(d("-1.666666666666666667"))).toBe("-1.666666666666666667")
    expect(plain(d("1e20"))).toBe("100000000000000000000")
    expect(plain(d("120.500"))).toBe("120.5")
    expect(plain(d("-0"))).toBe("0")
  })
})
