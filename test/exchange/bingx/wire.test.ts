import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect } from "effect"
import { plain } from "../../../src/domain/decimal.ts"
import { parseExact } from "../../../src/exchange/bingx/json.ts"
import { contractOf } from "../../../src/exchange/bingx/wire.ts"
import { decodeOrder, decodePlacedOrder } from "../../../src/exchange/bingx/wireOrder.ts"

const D = BigDecimal.fromStringUnsafe

describe("BingX wire schemas (raw answer text → records)", () => {
  it.effect("a 64-bit id written as a bare number stays exact; `orderID` is read like `orderId`; fee = −commission exactly", () =>
    Effect.gen(function*() {
      const query = parseExact(
        `{"order":{"orderId":1736011869418901234,"symbol":"BTC-USDT","side":"SELL","positionSide":"SHORT","status":"CANCELED",` +
          `"origQty":"0.0123","executedQty":"0.0100","avgPrice":"65000.50","commission":-0.32500250000000000001,` +
          `"time":1700000000000,"updateTime":1700000000123,"clientOrderId":"tvb-x-1"}}`
      )
      const order = yield* decodeOrder(query)
      expect(order).toMatchObject({
        orderId: "1736011869418901234",
        side: "SELL",
        positionSide: "SHORT",
        status: "cancelled",
        clientOrderId: "tvb-x-1",
        updatedAt: new Date(1700000000123)
      })
      expect(plain(order.fee)).toBe("0.32500250000000000001")
      expect(BigDecimal.equals(order.executedQuantity, D("0.01"))).toBe(true)

      const placed = yield* decodePlacedOrder(
        parseExact(`{"order":{"orderID":1736011869418901235,"symbol":"BTC-USDT","side":"BUY","positionSide":"BOTH","type":"MARKET",` +
          `"clientOrderID":"","status":"NEW","executedQty":"0"}}`),
        { symbol: "BTC-USDT", side: "BUY", positionSide: "BOTH", type: "MARKET", quantity: D("0.5"), clientOrderId: "tvb-x-2", reduceOnly: false }
      )
      expect(placed).toMatchObject({ orderId: "1736011869418901235", clientOrderId: "tvb-x-2", status: "new", fee: undefined, updatedAt: undefined })
      expect(BigDecimal.equals(placed.quantity, D("0.5"))).toBe(true)
    }))

  it.effect("contracts: the wanted entry's problem is its own; a list that is not a list is an error", () =>
    Effect.gen(function*() {
      const list = parseExact(
        `[{"symbol":"BTC-USDT","quantityPrecision":4,"pricePrecision":1,"tradeMinQuantity":0.0001,"tradeMinUSDT":2,` +
          `"status":1,"apiStateOpen":"true","apiStateClose":"false"},{"symbol":"ETH-USDT","pricePrecision":2}]`
      )
      const btc = yield* Effect.fromResult(contractOf(list, "BTC-USDT"))
      expect(btc).toMatchObject({ quantityPrecision: 4, maxLongLeverage: undefined, tradable: false })
      const eth = yield* Effect.flip(Effect.fromResult(contractOf(list, "ETH-USDT")))
      expect(eth.message).toBe("BingX /openApi/swap/v2/quote/contracts answer: [1].quantityPrecision is missing")
      expect(yield* Effect.fromResult(contractOf(list, "SOL-USDT"))).toBeUndefined()
      const notAList = yield* Effect.flip(Effect.fromResult(contractOf({ symbol: "BTC-USDT" }, "BTC-USDT")))
      expect(notAList.message).toContain("answer: data is {\"symbol\":\"BTC-USDT\"}: expected array")
    }))
})
