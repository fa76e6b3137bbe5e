import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import { divide } from "../../src/domain/decimal.ts"
import { applyToLeg, applyToNet, averagePrice, FLAT, FLAT_NET, unrealised } from "../../src/domain/ledger.ts"

const d = (s: string) => BigDecimal.fromStringUnsafe(s)
const s = (x: BigDecimal.BigDecimal | undefined) => (x === undefined ? undefined : BigDecimal.format(BigDecimal.normalize(x)))

describe("ledger (hand-computed)", () => {
  it("open, add, partial close, full close (long)", () => {
    let r = applyToLeg("long", FLAT, "buy", d("1"), d("100"))
    expect(s(averagePrice(r.leg))).toBe("100")
    r = applyToLeg("long", r.leg, "buy", d("3"), d("120"))
    // avg = (100 + 360) / 4 = 115
    expect(s(averagePrice(r.leg))).toBe("115")
    expect(s(r.leg.quantity)).toBe("4")
    r = applyToLeg("long", r.leg, "sell", d("1"), d("130"))
    // (130 − 115) × 1 = 15
    expect(s(r.realised)).toBe("15")
    expect(s(averagePrice(r.leg))).toBe("115")
    r = applyToLeg("long", r.leg, "sell", d("3"), d("110"))
    // (110 − 115) × 3 = −15
    expect(s(r.realised)).toBe("-15")
    expect(s(r.leg.quantity)).toBe("0")
    expect(s(r.leg.cost)).toBe("0")
  })

  it("short: (avg − exit) × qty", () => {
    let r = applyToLeg("short", FLAT, "sell", d("2"), d("50.5"))
    r = applyToLeg("short", r.leg, "buy", d("0.5"), d("48.5"))
    expect(s(r.realised)).toBe("1")
    expect(s(unrealised("short", r.leg, d("49.5")))).toBe("1.5")
  })

  it("hedge: reducing more than held closes the leg and reports the excess", () => {
    const open = applyToLeg("long", FLAT, "buy", d("1"), d("10"))
    const r = applyToLeg("long", open.leg, "sell", d("1.5"), d("12"))
    expect(s(r.realised)).toBe("2")
    expect(s(r.excess)).toBe("0.5")
    expect(s(r.leg.quantity)).toBe("0")
  })

  it("one-way: flip through zero closes, then opens the rest at the fill price", () => {
    const long = applyToNet(FLAT_NET, "buy", d("2"), d("100"))
    const r = applyToNet(long.position, "sell", d("5"), d("90"))
    expect(s(r.realised)).toBe("-20")
    expect(r.position.side).toBe("short")
    expect(s(r.position.leg.quantity)).toBe("3")
    expect(s(averagePrice(r.position.leg))).toBe("90")
  })

  it("a non-terminating average keeps realised + remaining cost exact", () => {
    let r = applyToLeg("long", FLAT, "buy", d("1"), d("1"))
    r = applyToLeg("long", r.leg, "buy", d("2"), d("2"))
    // cost 5, qty 3: avg 1.666…; close 1 → removed 5/3 rounded at 18 places
    const part = applyToLeg("long", r.leg, "sell", d("1"), d("2"))
    const rest = applyToLeg("long", part.leg, "sell", d("2"), d("2"))
    // total realised = 2×3 − 5 = 1 exactly, whatever the split
    expect(s(BigDecimal.sum(part.realised, rest.realised))).toBe("1")
  })

  it("rejects non-positive quantities and prices", () => {
    expect(() => applyToLeg("long", FLAT, "buy", d("0"), d("1"))).toThrow(/quantity/)
    expect(() => applyToLeg("long", FLAT, "buy", d("1"), d("-1"))).toThrow(/price/)
  })

  it("decimal.divide (the ledger's cost split) rounds half-even at the scale, exactly", () => {
    expect(s(divide(d("1"), d("8"), 2))).toBe("0.12")
    expect(s(divide(d("3"), d("8"), 2))).toBe("0.38")
    expect(s(divide(d("-1"), d("8"), 2))).toBe("-0.12")
    expect(s(divide(d("-3"), d("8"), 2))).toBe("-0.38")
    expect(s(divide(d("2"), d("3"), 4))).toBe("0.6667")
    expect(s(divide(d("2"), d("-3"), 4))).toBe("-0.6667")
    expect(s(divide(d("1.5"), d("0.05"), 0))).toBe("30")
    expect(() => divide(d("1"), d("0"))).toThrow(/division by zero/)
  })

  it("a partial close rounds the removed cost exactly even beyond 100 significant digits", () => {
    // removed = cost × 1 / open = (5·10^101 + 1) / (10^120 + 1) = 5·10^-19 + ~10^-120: just above
    // half a unit at 18 places, so it rounds up to 10^-18. A quotient truncated at 100 significant
    // digits reads exactly 5·10^-19 and half-even would round it down to 0.
    const leg = { quantity: d(`1${"0".repeat(119)}1`), cost: d(`5${"0".repeat(100)}1`) }
    const r = applyToLeg("long", leg, "sell", d("1"), d("1"))
    // (BigDecimal.format switches to exponent notation at 16+ decimals: compare exactly instead.)
    const exactly = (x: BigDecimal.BigDecimal, expected: string) =>
      expect(BigDecimal.equals(x, d(expected)) ? expected : BigDecimal.toExponential(x)).toBe(expected)
    exactly(r.realised, "0.999999999999999999")
    exactly(BigDecimal.subtract(leg.cost, r.leg.cost), "0.000000000000000001")
  })
})
