/**
 * The order plan, pure: sides and reduceOnly per action and position mode, sizing from margin,
 * rounding down to the contract's precision, minimum quantity / notional, SL/TP side and rounding.
 */
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import { parseUnsafe, plain } from "../../src/domain/decimal.ts"
import {
  type ContractRules,
  exchangeSides,
  type OrderIntent,
  type PlanResult,
  planOrder,
  protectionProblems,
  quantityFor,
  reasonOf
} from "../../src/domain/orderPlan.ts"
import type { PositionMode } from "../../src/domain/vocabulary.ts"
import { clientOrderIdFor } from "../../src/orders/OrderExecutor.ts"

const D = parseUnsafe

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
    expect(exchangeSides({ action, positionSide: position_side, reduceOnly: reduce_only }, "one_way")).toEqual(expected)
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
    expect(exchangeSides({ action, positionSide: position_side, reduceOnly: reduce_only }, "hedge")).toEqual(expected)
  })

  it("clientOrderId: stable, lowercase, at most 40 characters even for the largest order id", () => {
    expect(clientOrderIdFor("k3j9x2ab", "34")).toBe("tvb-k3j9x2ab-34")
    expect(clientOrderIdFor("k3j9x2ab", "34")).toBe(clientOrderIdFor("k3j9x2ab", "34"))
    const largest = clientOrderIdFor("zzzzzzzz", "9223372036854775807")
    expect(largest.length).toBeLessThanOrEqual(40)
    expect(clientOrderIdFor("ABCDEFGH", "1")).toBe("tvb-abcdefgh-1")
  })
})

const BTC: ContractRules = {
  symbol: "BTC-USDT",
  quantityPrecision: 4,
  pricePrecision: 1,
  minQuantity: D("0.0001"),
  minNotional: D("5"),
  maxLongLeverage: 125,
  maxShortLeverage: 100,
  tradable: true
}

const intent = (over: Partial<OrderIntent> = {}): OrderIntent => ({
  symbol: "BTC-USDT",
  action: "buy",
  positionSide: null,
  reduceOnly: false,
  quantity: D("0.01"),
  marginUsdt: null,
  leverage: null,
  marginMode: null,
  stopLoss: null,
  takeProfit: null,
  ...over
})

const plan = (
  order: OrderIntent,
  options: { readonly mode?: PositionMode; readonly rules?: Partial<ContractRules>; readonly price?: string | null } = {}
): PlanResult =>
  planOrder({
    order,
    settings: { leverage: 10, marginMode: "isolated" },
    mode: options.mode ?? "one_way",
    rules: { ...BTC, ...options.rules },
    price: options.price === null ? undefined : D(options.price ?? "65000.5"),
    clientOrderId: "tvb-test-1"
  })

const planned = (result: PlanResult) => {
  if (result._tag !== "Planned") throw new Error(`refused: ${reasonOf(result.problem)}`)
  return result.plan
}
const refusal = (result: PlanResult) => (result._tag === "Refused" ? reasonOf(result.problem) : `planned ${JSON.stringify(result)}`)
const text = (d: BigDecimal.BigDecimal | undefined) => (d === undefined ? undefined : plain(d))

describe("the order plan", () => {
  it("one-way: a buy opens BOTH without reduceOnly; a close sends reduceOnly; bot settings fill leverage and margin mode", () => {
    const open = planned(plan(intent()))
    expect(open.request).toMatchObject({ side: "BUY", positionSide: "BOTH", reduceOnly: false, type: "MARKET", clientOrderId: "tvb-test-1" })
    expect(open).toMatchObject({ leverage: 10, marginMode: "isolated", closing: false })
    const close = planned(plan(intent({ action: "sell", positionSide: "long", reduceOnly: true, leverage: 3, marginMode: "cross" })))
    expect(close.request).toMatchObject({ side: "SELL", positionSide: "BOTH", reduceOnly: true })
    expect(close).toMatchObject({ leverage: 3, marginMode: "cross", closing: true })
  })

  it("hedge: legs LONG/SHORT, never reduceOnly (a close is the opposite side on the same leg)", () => {
    expect(planned(plan(intent({ action: "sell", positionSide: "short" }), { mode: "hedge" })).request)
      .toMatchObject({ side: "SELL", positionSide: "SHORT", reduceOnly: false })
    const close = planned(plan(intent({ action: "buy", positionSide: "short", reduceOnly: true }), { mode: "hedge" }))
    expect(close.request).toMatchObject({ side: "BUY", positionSide: "SHORT", reduceOnly: false })
    expect(close.closing).toBe(true)
  })

  it("sizes from margin × leverage ÷ price, rounded DOWN to the quantity precision", () => {
    // 100 × 10 / 65000.5 = 0.015384497… → 0.0153 (never 0.0154)
    const sized = planned(plan(intent({ quantity: null, marginUsdt: D("100") })))
    expect(text(sized.request.quantity)).toBe("0.0153")
    expect(text(sized.request.priceHint)).toBe("65000.5")
    // the signal's own leverage wins over the settings
    expect(text(planned(plan(intent({ quantity: null, marginUsdt: D("100"), leverage: 20 }))).request.quantity)).toBe("0.0307")
    // a given quantity is rounded down, not to nearest
    expect(text(planned(plan(intent({ quantity: D("0.01239") }))).request.quantity)).toBe("0.0123")
    expect(text(planned(plan(intent({ quantity: D("3.99") }), { rules: { quantityPrecision: 0, minNotional: D("1") } })).request.quantity))
      .toBe("3")
  })

  it("refuses below the minimum quantity (any order) and below the minimum notional (entries only)", () => {
    expect(refusal(plan(intent({ quantity: D("0.00001") }))))
      .toBe("quantity 0 (0.00001 rounded down to 4 decimals) is below the minimum 0.0001 for BTC-USDT")
    expect(refusal(plan(intent({ quantity: D("0.0005") }), { rules: { minQuantity: D("0.001") } })))
      .toBe("quantity 0.0005 (0.0005 rounded down to 4 decimals) is below the minimum 0.001 for BTC-USDT")
    expect(refusal(plan(intent({ quantity: D("0.0001") }), { price: "40000" })))
      .toBe("order value 4 USDT is below the minimum 5 USDT for BTC-USDT")
    // a close of the same size is sent: the minimum notional does not apply to closes
    expect(planned(plan(intent({ quantity: D("0.0001"), action: "sell", positionSide: "long", reduceOnly: true }), { price: "40000" })).closing)
      .toBe(true)
  })

  it("refuses without a price, without anything to size from, untradable symbols and leverage above the maximum", () => {
    expect(refusal(plan(intent(), { price: null }))).toBe("no price for BTC-USDT: the exchange gave none and the signal has no price")
    expect(refusal(plan(intent({ quantity: null })))).toBe("quantity is missing and there is no margin_usdt to size the order from")
    expect(refusal(plan(intent(), { rules: { tradable: false } }))).toBe("BTC-USDT is not open for API trading on the exchange")
    expect(refusal(plan(intent({ leverage: 126 })))).toBe("leverage 126 is above the maximum 125 for BTC-USDT")
    expect(refusal(plan(intent({ action: "sell", leverage: 101 })))).toBe("leverage 101 is above the maximum 100 for BTC-USDT")
    // closes are not held to the leverage maximum
    expect(planned(plan(intent({ action: "sell", positionSide: "long", reduceOnly: true, leverage: 126 }))).closing).toBe(true)
  })

  it("stop-loss / take-profit: rounded to the price precision, on the protective side, attached to entries only", () => {
    const long = planned(plan(intent({ stopLoss: D("60000.04"), takeProfit: D("70000.06") })))
    expect([text(long.request.stopLoss), text(long.request.takeProfit)]).toEqual(["60000", "70000.1"])
    const short = planned(plan(intent({ action: "sell", stopLoss: D("70000"), takeProfit: D("60000") })))
    expect([text(short.request.stopLoss), text(short.request.takeProfit)]).toEqual(["70000", "60000"])
    expect(refusal(plan(intent({ stopLoss: D("70000") })))).toBe("stop_loss 70000 must be below the price 65000.5 for a long entry")
    expect(refusal(plan(intent({ takeProfit: D("60000") })))).toBe("take_profit 60000 must be above the price 65000.5 for a long entry")
    expect(refusal(plan(intent({ action: "sell", stopLoss: D("60000") })))).toBe("stop_loss 60000 must be above the price 65000.5 for a short entry")
    expect(refusal(plan(intent({ action: "sell", takeProfit: D("70000") })))).toBe("take_profit 70000 must be below the price 65000.5 for a short entry")
    // rounding decides the side: 65000.46 rounds to 65000.5, which is not below the price
    expect(refusal(plan(intent({ stopLoss: D("65000.46") })))).toBe("stop_loss 65000.5 must be below the price 65000.5 for a long entry")
    const close = planned(plan(intent({ action: "sell", positionSide: "long", reduceOnly: true, stopLoss: D("70000"), takeProfit: D("1") })))
    expect(close.request.stopLoss).toBeUndefined()
    expect(close.request.takeProfit).toBeUndefined()
    expect(close.droppedProtection).toBe(true)
  })

  it("ingest uses the same rules without an exchange: sizing at 8 decimals and the SL/TP side against the alert's price", () => {
    const sized = quantityFor({ quantity: null, marginUsdt: D("100") }, 10, D("65000.5"))
    expect("quantity" in sized && plain(sized.quantity)).toBe("0.01538449")
    const tiny = quantityFor({ quantity: null, marginUsdt: D("0.00000001") }, 1, D("65000"))
    expect("problem" in tiny && tiny.problem).toEqual({
      field: "margin_usdt",
      problem: "0.00000001 USDT at leverage 1 buys less than 0.00000001 at price 65000"
    })
    expect(protectionProblems("buy", { stopLoss: D("110"), takeProfit: D("90") }, D("100"))).toEqual([
      { field: "stop_loss", problem: "110 must be below the price 100 for a long entry" },
      { field: "take_profit", problem: "90 must be above the price 100 for a long entry" }
    ])
    expect(protectionProblems("sell", { stopLoss: D("110"), takeProfit: D("90") }, D("100"))).toEqual([])
  })
})
