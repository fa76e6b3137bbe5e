import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import { divide, floorTo, parse, parseUnsafe, plain, plainOrNull, roundTo, sizeFromMargin } from "../../src/domain/decimal.ts"
import { isId, parseId } from "../../src/domain/ids.ts"

const d = (s: string) => parseUnsafe(s)

describe("domain decimal", () => {
  it("plain never writes an exponent", () => {
    expect(plain(d("1e-8"))).toBe("0.00000001")
    expect(plain(d("65000.50"))).toBe("65000.5")
    expect(plain(d("-3"))).toBe("-3")
    expect(plain(d("1.2e3"))).toBe("1200")
    expect(plain(d("-0.000000000000000001"))).toBe("-0.000000000000000001")
    expect(plainOrNull(undefined)).toBeNull()
  })
  it("parse refuses what is not a number", () => {
    for (const bad of ["", " ", "abc", "1,5", "0x10", "NaN", "Infinity", "1e"]) expect(parse(bad)).toBeUndefined()
    expect(plain(parse(" +2.50 ")!)).toBe("2.5")
    expect(() => parseUnsafe("x")).toThrow(RangeError)
  })
  it("floorTo rounds down, roundTo half-even", () => {
    expect(plain(floorTo(d("0.0199"), 2))).toBe("0.01")
    expect(plain(roundTo(d("0.125"), 2))).toBe("0.12")
    expect(plain(roundTo(d("0.135"), 2))).toBe("0.14")
  })
  it("divide rounds once, half-even, exactly", () => {
    expect(plain(divide(d("1"), d("3"), 4))).toBe("0.3333")
    expect(plain(divide(d("2"), d("3"), 4))).toBe("0.6667")
    expect(plain(divide(d("-1"), d("8"), 2))).toBe("-0.12")
    expect(() => divide(d("1"), d("0"))).toThrow(RangeError)
  })
  it("sizeFromMargin = margin × leverage ÷ price, rounded down at the given places", () => {
    expect(plain(sizeFromMargin(d("100"), 5, d("65000"), 8))).toBe("0.0076923")
    expect(plain(sizeFromMargin(d("100"), 5, d("65000"), 3))).toBe("0.007")
    expect(plain(sizeFromMargin(d("10"), 10, d("0.5"), 0))).toBe("200")
    expect(BigDecimal.isZero(sizeFromMargin(d("1"), 1, d("1000000"), 2))).toBe(true)
  })
})

describe("domain ids", () => {
  it("accepts positive bigint text only", () => {
    for (const good of ["1", "42", "9223372036854775807"]) expect(isId(good)).toBe(true)
    for (const bad of [undefined, null, "", "0", "01", "-1", "1.0", "9223372036854775808", "99999999999999999999", "1e3", " 1"])
      expect(isId(bad)).toBe(false)
    expect(parseId("7")).toBe("7")
    expect(parseId("x")).toBeUndefined()
  })
})
