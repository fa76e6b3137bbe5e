/**
 * The two edges of PnL, pure: rows decode into domain records (and a malformed row is refused,
 * never read as zero), records encode into the documented JSON (plain decimals, snake_case keys,
 * ISO times, null for unknown; fields the wire does not carry are left out).
 */
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Schema } from "effect"
import { parseUnsafe as dec } from "../../src/domain/decimal.ts"
import type { OpenPosition } from "../../src/pnl/records.ts"
import { ReportedFillRow, SlotRow, storedSlot, SymbolPeriodRow } from "../../src/pnl/rows.ts"
import { encodeAccount, encodePosition } from "../../src/api/Pnl.ts"

const slotRow = {
  symbol: "BTC-USDT",
  slot: "net",
  side: "long",
  quantity: "0.300000000000000000",
  cost: "18300.000000000000000001",
  realised: "-1.5",
  fees: "0.0001",
  fills: "3",
  leverage: 5,
  opened_at: new Date("2026-03-04T10:00:00Z"),
  updated_at: "2026-03-04 10:00:05.25+00"
}

describe("rows → records", () => {
  it("a slot row: numerics exact, counts as numbers, times as Date (driver Date or text)", () => {
    const slot = storedSlot(Schema.decodeUnknownSync(SlotRow)(slotRow))
    expect(slot.state.leg.cost).toEqual(BigDecimal.make(18300000000000000000001n, 18))
    expect(BigDecimal.equals(slot.state.leg.quantity, dec("0.3"))).toBe(true)
    expect(slot.state.fills).toBe(3)
    expect(slot.state.openedAt).toEqual(new Date("2026-03-04T10:00:00Z"))
    expect(slot.updatedAt).toEqual(new Date("2026-03-04T10:00:05.250Z"))
    expect(slot.state.side).toBe("long")
    const flat = storedSlot(Schema.decodeUnknownSync(SlotRow)({ ...slotRow, side: null, opened_at: null, leverage: null }))
    expect([flat.state.side, flat.state.openedAt, flat.state.leverage]).toEqual([undefined, undefined, undefined])
  })

  it("a malformed row is an error that names the value, never a silent default", () => {
    expect(() => Schema.decodeUnknownSync(SlotRow)({ ...slotRow, fees: "abc" })).toThrow(/not a numeric: "abc"/)
    expect(() => Schema.decodeUnknownSync(SlotRow)({ ...slotRow, slot: "both" })).toThrow()
    expect(() => Schema.decodeUnknownSync(SlotRow)({ ...slotRow, updated_at: "yesterday" })).toThrow(/not a timestamp/)
    expect(() => Schema.decodeUnknownSync(SymbolPeriodRow)({
      symbol: "X", trades: "-1", volume: "1", fees: "0", realised: "0", realising: "0", wins: "0"
    })).toThrow(/not a count/)
  })

  it("a reported fill: ids stay text (beyond 2^53), unapplied PnL is null", () => {
    const row = Schema.decodeUnknownSync(ReportedFillRow)({
      id: "9007199254740993",
      order_id: "12",
      filled_at: new Date("2026-03-04T10:00:00Z"),
      symbol: "BTC-USDT",
      action: "buy",
      position_side: null,
      quantity: "0.5",
      price: "60000",
      fee: "0",
      fee_asset: "USDT",
      realised_pnl: null,
      closed: null
    })
    expect(row.fillId).toBe("9007199254740993")
    expect([row.realised, row.closedQuantity]).toEqual([null, null])
  })
})

describe("records → JSON", () => {
  const position: OpenPosition = {
    symbol: "BTC-USDT",
    slot: "net",
    side: "short",
    quantity: dec("0.000000000000000001"),
    cost: dec("1"),
    entryPrice: dec("1.666666666666666667"),
    markPrice: null,
    unrealised: null,
    leverage: null,
    openedAt: new Date("2026-03-04T10:00:00Z")
  }

  it("plain decimals (no exponent), snake_case keys in order, null for unknown, internal fields left out", () => {
    const json = encodePosition(position)
    expect(JSON.stringify(json)).toBe(
      "{\"symbol\":\"BTC-USDT\",\"side\":\"short\",\"quantity\":\"0.000000000000000001\",\"entry_price\":\"1.666666666666666667\"," +
        "\"mark_price\":null,\"unrealized_pnl\":null,\"leverage\":null,\"opened_at\":\"2026-03-04T10:00:00.000Z\"}"
    )
  })

  it("the account part of /bot/status", () => {
    const z = dec("0")
    expect(encodeAccount({
      balances: [{ asset: "USDT", free: dec("1e3"), locked: z, total: dec("1000.00") }],
      totals: { realised: dec("-0.5"), unrealised: z, total: dec("-0.5"), fees: dec("0.1"), net: dec("-0.6") },
      positions: [position]
    })).toEqual({
      balances: [{ asset: "USDT", free: "1000", locked: "0", total: "1000" }],
      pnl: { realized: "-0.5", unrealized: "0", total: "-0.5", fees: "0.1", net: "-0.6" },
      open_positions: [encodePosition(position)]
    })
  })
})
