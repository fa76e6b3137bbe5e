import { describe, expect, it } from "@effect/vitest"
import { asNumber, asText, parseExact } from "../../../src/exchange/bingx/json.ts"

describe("64-bit-safe JSON", () => {
  it("keeps order ids above 2^53 exact", () => {
    const text = `{"code":0,"msg":"","data":{"order":{"orderId":1736011869418901234,"price":"65000.5","avgPrice":65010.123456789012345}}}`
    // What a naive parser does: the id is rounded.
    expect(String(JSON.parse(text).data.order.orderId)).toBe("1736011869418901200")
    const parsed = parseExact(text) as any
    expect(parsed.data.order.orderId).toBe("1736011869418901234")
    expect(parsed.data.order.avgPrice).toBe("65010.123456789012345")
    expect(parsed.data.order.price).toBe("65000.5")
    expect(asNumber(parsed.code)).toBe(0)
  })

  it("does not touch digits inside strings, handles escapes, negatives, exponents, arrays", () => {
    const parsed = parseExact(`{"a":"x\\"1234567890123456789","b":[-1,2.5e-3,true,null],"c":{"d":"-7"}}`) as any
    expect(parsed.a).toBe("x\"1234567890123456789")
    expect(parsed.b).toEqual(["-1", "2.5e-3", true, null])
    expect(parsed.c.d).toBe("-7")
  })

  it("string and number codes read the same", () => {
    expect(asNumber((parseExact(`{"code":"0"}`) as any).code)).toBe(0)
    expect(asNumber((parseExact(`{"code":100410}`) as any).code)).toBe(100410)
    expect(asText("")).toBeUndefined()
    expect(asText(12)).toBe("12")
  })
})
