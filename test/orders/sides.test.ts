import { describe, expect, it } from "@effect/vitest"
import { clientOrderIdFor, exchangeSides } from "../../src/orders/OrderExecutor.ts"

type Case = readonly [action: "buy" | "sell", positionSide: "long" | "short" | null, reduceOnly: boolean]

describe("exchange side / positionSide / reduceOnly per action and position mode", () => {
  it.each([
    [["buy", null, false], { side: "BUY", positionSide: "BOTH", reduceOnly: false, closing: false }],
    [["sell", null, false], { side: "SELL", positionSide: "BOTH", reduceOnly: false, closing: false }],
    [["sell", null, true], { side: "SELL", positionSide: "BOTH", reduceOnly: true, closing: true }],
    [["buy", null, true], { side: "BUY", positionSide: "BOTH", reduceOnly: true, closing: true }],
    [["buy", "long", false], { side: "BUY", positionSide: "BOTH", reduceOnly: false, closing: false }],
    [["sell", "long", false], { side: "SELL", positionSide: "BOTH", reduceOnly: true, closing: true }],
    [["sell", "short", false], { side: "SELL", positionSide: "BOTH", reduceOnly: false, closing: false }],
    [["buy", "short", false], { side: "BUY", positionSide: "BOTH", reduceOnly: true, closing: true }]
  ] as const)("one-way %j → %j", ([action, position_side, reduce_only]: Case, expected) => {
    expect(exchangeSides({ action, position_side, reduce_only }, "one_way")).toEqual(expected)
  })

  it.each([
    [["buy", null, false], { side: "BUY", positionSide: "LONG", reduceOnly: false, closing: false }],
    [["sell", null, false], { side: "SELL", positionSide: "SHORT", reduceOnly: false, closing: false }],
    [["sell", null, true], { side: "SELL", positionSide: "LONG", reduceOnly: false, closing: true }],
    [["buy", null, true], { side: "BUY", positionSide: "SHORT", reduceOnly: false, closing: true }],
    [["buy", "long", false], { side: "BUY", positionSide: "LONG", reduceOnly: false, closing: false }],
    [["sell", "long", false], { side: "SELL", positionSide: "LONG", reduceOnly: false, closing: true }],
    [["sell", "short", false], { side: "SELL", positionSide: "SHORT", reduceOnly: false, closing: false }],
    [["buy", "short", false], { side: "BUY", positionSide: "SHORT", reduceOnly: false, closing: true }]
  ] as const)("hedge %j → %j (never reduceOnly)", ([action, position_side, reduce_only]: Case, expected) => {
    expect(exchangeSides({ action, position_side, reduce_only }, "hedge")).toEqual(expected)
  })

  it("clientOrderId: stable, lowercase, at most 40 characters even for the largest order id", () => {
    expect(clientOrderIdFor("k3j9x2ab", "34")).toBe("tvb-k3j9x2ab-34")
    expect(clientOrderIdFor("k3j9x2ab", "34")).toBe(clientOrderIdFor("k3j9x2ab", "34"))
    const largest = clientOrderIdFor("zzzzzzzz", "9223372036854775807")
    expect(largest.length).toBeLessThanOrEqual(40)
    expect(clientOrderIdFor("ABCDEFGH", "1")).toBe("tvb-abcdefgh-1")
  })
})
