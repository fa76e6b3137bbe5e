import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Schema } from "effect"
import fc from "fast-check"
import { plain, sizeFromMargin } from "../../src/domain/decimal.ts"
import { parseAction, resolveAction } from "../../src/domain/actions.ts"
import { parsePositiveDecimal, parseTimestamp } from "../../src/domain/alertValues.ts"
import { CanonicalSignal, type DecodeContext, decodeSignals, staleReason } from "../../src/domain/signal.ts"
import { normaliseSymbol } from "../../src/domain/symbols.ts"
import { SIZING_SCALE } from "../../src/domain/orderPlan.ts"
import { parseBody, REDACTED, tokenFromBody, tokenFromUnparsedBody } from "../../src/domain/webhookBody.ts"

const NOW = Date.parse("2026-03-01T12:00:30Z")
const CTX: DecodeContext = { now: NOW, defaultLeverage: 5, maxAgeSeconds: 60, maxFutureSkewSeconds: 30 }

const decode = (text: string, ctx: Partial<DecodeContext> = {}) => {
  const parsed = parseBody(text)
  if (!parsed.ok) throw new Error(`body did not parse: ${parsed.problem.message}`)
  return decodeSignals(parsed.body, { ...CTX, ...ctx })
}

const decodeOk = (text: string, ctx: Partial<DecodeContext> = {}) => {
  const r = decode(text, ctx)
  if (!r.ok) throw new Error(`expected a signal, got ${JSON.stringify(r.problems)}`)
  return r.value
}

const problemsOf = (text: string, ctx: Partial<DecodeContext> = {}) => {
  const r = decode(text, ctx)
  if (r.ok) throw new Error("expected problems")
  return r.problems
}

const dec = (s: string) => BigDecimal.fromStringUnsafe(s)

describe("normaliseSymbol", () => {
  const accepted: ReadonlyArray<readonly [string, string]> = [
    ["BTCUSDT", "BTC-USDT"],
    ["btcusdt", "BTC-USDT"],
    [" ethusdt ", "ETH-USDT"],
    ["BINANCE:BTCUSDT.P", "BTC-USDT"],
    ["BYBIT:ETHUSDT.P", "ETH-USDT"],
    ["BINGX:SOLUSDT.P", "SOL-USDT"],
    ["BTC/USDT", "BTC-USDT"],
    ["btc_usdt", "BTC-USDT"],
    ["BTC-USDT", "BTC-USDT"],
    ["BTC/USDT:USDT", "BTC-USDT"],
    ["BTCUSDTPERP", "BTC-USDT"],
    ["BTCUSDT.PERP", "BTC-USDT"],
    ["BTC-USDT-SWAP", "BTC-USDT"],
    ["1000PEPEUSDT", "1000PEPE-USDT"],
    ["BINANCE:1000PEPEUSDT.P", "1000PEPE-USDT"],
    ["ETHUSDC", "ETH-USDC"],
    ["BTC-PERP", "BTC-USDT"],
    ["LUNA-PERP", "LUNA-USDT"],
    // BingX's own perpetual swaps on TradingView: BINGX:BTCUSDT.PS, {{ticker}} = BTCUSDT.PS
    ["BINGX:BTCUSDT.PS", "BTC-USDT"],
    ["BTCUSDT.PS", "BTC-USDT"],
    ["bingx:ethusdt.ps", "ETH-USDT"],
    ["BINGX:1000PEPEUSDT.PS", "1000PEPE-USDT"],
    ["BINGX:ETHUSDC.PS", "ETH-USDC"],
    // Other signal services' pair forms
    ["BTCUSDT.P", "BTC-USDT"],
    ["BTC_USDT", "BTC-USDT"],
    ["BTCUSDT_PERP", "BTC-USDT"],
    ["BTC-USDT-PERP", "BTC-USDT"],
    ["BTC_USDT_SWAP", "BTC-USDT"],
    ["USDT_BTC", "BTC-USDT"],
    ["USDC_ETH", "ETH-USDC"],
    ["USDT_BTCUSDT", "BTC-USDT"],
    ["USDT_1000PEPEUSDT", "1000PEPE-USDT"],
    ["BTC/USDC:USDC", "BTC-USDC"],
    ["BTCUSDT_UMCBL", "BTC-USDT"],
    ["BTCUSDTM", "BTC-USDT"],
    ["XBTUSDTM", "BTC-USDT"],
    ["ETHUSDCM", "ETH-USDC"],
    ["XBT/USDT", "BTC-USDT"]
  ]
  it.each(accepted)("%s → %s", (input, expected) => {
    expect(normaliseSymbol(input)).toEqual({ ok: true, value: expected })
  })

  const rejected: ReadonlyArray<readonly [string, string]> = [
    ["BTCUSD", "BASE-USDT"],
    ["BTC", "BASE-USDT"],
    ["ETHBTC", "BASE-USDT"],
    ["BTC-USDT-XYZ", "BASE-USDT"],
    ["BTÇUSDT", "BASE-USDT"],
    ["{{ticker}}", "placeholder {{ticker}}"],
    ["", "empty"],
    // Coin-margined or non-USDT/USDC quotes, and forms that could be read two ways, stay refused.
    ["BINGX:BTCUSD.PS", "BASE-USDT"],
    ["BTCUSD_PERP", "BASE-USDT"],
    ["BTC-PERPETUAL", "BASE-USDT"],
    ["PF_XBTUSD", "BASE-USDT"],
    ["BTCUSD_DMCBL", "BASE-USDT"],
    ["USD_BTC", "BASE-USDT"],
    ["USDT_BTCUSDC", "BASE-USDT"],
    ["USDT_BTCUSD", "BASE-USDT"],
    ["USDT-PERP", "BASE-USDT"],
    ["BTCUSDT.PSX", "BASE-USDT"],
    ["BTC_ETH", "BASE-USDT"]
  ]
  it.each(rejected)("refuses %j", (input, words) => {
    const r = normaliseSymbol(input)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem).toContain(words)
  })

  it("is idempotent on its output", () => {
    fc.assert(fc.property(fc.string({ maxLength: 30 }), (s) => {
      const once = normaliseSymbol(s)
      if (once.ok) expect(normaliseSymbol(once.value)).toEqual(once)
    }))
  })
})

describe("parseAction + resolveAction", () => {
  const none = { positionSide: undefined, marketPosition: undefined, prevMarketPosition: undefined, reduceOnly: undefined }
  const cases: ReadonlyArray<readonly [string, "buy" | "sell", "long" | "short" | null, boolean]> = [
    ["buy", "buy", null, false],
    ["BUY", "buy", null, false],
    ["sell", "sell", null, false],
    ["Sell", "sell", null, false],
    ["long", "buy", "long", false],
    ["SHORT", "sell", "short", false],
    ["LONG_BUY", "buy", "long", false],
    ["LONG_SELL", "sell", "long", true],
    ["SHORT_SELL", "sell", "short", false],
    ["SHORT_BUY", "buy", "short", true],
    ["long-buy", "buy", "long", false],
    ["Long Sell", "sell", "long", true],
    ["shortSell", "sell", "short", false],
    ["short.buy", "buy", "short", true],
    ["LONG/SELL", "sell", "long", true],
    ["close_long", "sell", "long", true],
    ["exit_short", "buy", "short", true],
    ["Close Long", "sell", "long", true],
    ["EXIT-LONG", "sell", "long", true],
    ["closeShort", "buy", "short", true],
    ["long_close", "sell", "long", true],
    ["short_exit", "buy", "short", true],
    ["LONG_OPEN", "buy", "long", false],
    ["SHORT_CLOSE", "buy", "short", true],
    ["open_long", "buy", "long", false],
    ["enter_short", "sell", "short", false],
    ["entry_long", "buy", "long", false],
    ["buy_to_open", "buy", "long", false],
    ["sell_to_close", "sell", "long", true],
    ["sell_to_open", "sell", "short", false],
    ["buy_to_close", "buy", "short", true],
    ["cover", "buy", "short", true]
  ]
  it.each(cases)("%s → %s %s reduce=%s", (text, action, side, reduceOnly) => {
    const intent = parseAction(text)
    expect(intent.ok).toBe(true)
    if (!intent.ok) return
    expect(resolveAction(intent.value, none)).toEqual({ ok: true, value: { action, positionSide: side, reduceOnly } })
  })

  it.each(["hold", "open", "long_short", "", "buysell", "{{strategy.order.action}}", "liquidate"])("refuses %j", (text) => {
    expect(parseAction(text).ok).toBe(false)
  })

  it("names the placeholder", () => {
    const r = parseAction("{{strategy.order.action}}")
    expect(r.ok ? "" : r.problem).toContain("unsubstituted TradingView placeholder {{strategy.order.action}}")
  })
})

describe("TradingView strategy placeholders: order action + market position", () => {
  type Row = readonly [string, Record<string, string>, "buy" | "sell", "long" | "short" | null, boolean]
  const rows: ReadonlyArray<Row> = [
    ["open long", { action: "buy", market_position: "long", prev_market_position: "flat" }, "buy", "long", false],
    ["close short", { action: "buy", market_position: "flat", prev_market_position: "short" }, "buy", "short", true],
    ["reduce short", { action: "buy", market_position: "short", prev_market_position: "short" }, "buy", "short", true],
    ["reverse short→long", { action: "buy", market_position: "long", prev_market_position: "short" }, "buy", null, false],
    ["open short", { action: "sell", market_position: "short", prev_market_position: "flat" }, "sell", "short", false],
    ["close long", { action: "sell", market_position: "flat", prev_market_position: "long" }, "sell", "long", true],
    ["reduce long", { action: "sell", market_position: "long", prev_market_position: "long" }, "sell", "long", true],
    ["reverse long→short", { action: "sell", market_position: "short", prev_market_position: "long" }, "sell", null, false],
    ["long, no prev", { action: "buy", market_position: "long" }, "buy", "long", false],
    ["sentiment bullish", { action: "buy", sentiment: "bullish" }, "buy", "long", false],
    ["sentiment flat", { action: "sell", sentiment: "flat" }, "sell", "long", true],
    ["close, prev long", { action: "close", market_position: "flat", prev_market_position: "long" }, "sell", "long", true],
    ["exit, still short", { action: "exit", market_position: "short" }, "buy", "short", true],
    ["position_side long + sell", { action: "sell", position_side: "long" }, "sell", "long", true],
    ["position_side short + sell", { action: "sell", position_side: "short" }, "sell", "short", false],
    ["position_side both + buy", { action: "buy", position_side: "both" }, "buy", null, false],
    ["reduce_only plain sell", { action: "sell", reduce_only: "true" }, "sell", null, true],
    ["camelCase keys", { action: "sell", marketPosition: "flat", prevMarketPosition: "long" }, "sell", "long", true]
  ]
  it.each(rows)("%s", (_name, fields, action, side, reduceOnly) => {
    const body = JSON.stringify({ symbol: "BTCUSDT", quantity: "1", ...fields })
    const [signal] = decodeOk(body).signals
    expect(signal).toMatchObject({ action, positionSide: side, reduceOnly })
  })

  it("close without a side or position is refused on the action field", () => {
    expect(problemsOf(JSON.stringify({ symbol: "BTCUSDT", quantity: "1", action: "close", market_position: "flat" })))
      .toEqual([{ field: "action", problem: expect.stringContaining("cannot tell which position to close") }])
  })

  it("an explicit action contradicting position_side is refused", () => {
    expect(problemsOf(JSON.stringify({ symbol: "BTCUSDT", quantity: "1", action: "LONG_BUY", position_side: "short" })))
      .toEqual([{ field: "action", problem: expect.stringContaining("contradicts") }])
  })

  it("an unknown market position is refused", () => {
    expect(problemsOf(JSON.stringify({ symbol: "BTCUSDT", quantity: "1", action: "buy", market_position: "up" })))
      .toEqual([{ field: "market_position", problem: "\"up\" must be long, short or flat" }])
  })
})

describe("decimals", () => {
  const accepted: ReadonlyArray<readonly [unknown, string]> = [
    ["0.010", "0.01"],
    ["1", "1"],
    ["+2.50", "2.5"],
    [".5", "0.5"],
    ["1e-3", "0.001"],
    ["65000.5", "65000.5"],
    ["123456789.123456789012345678", "123456789.123456789012345678"],
    ["99999999999999999999", "99999999999999999999"]
  ]
  it.each(accepted)("%j → %s", (input, expected) => {
    const r = parsePositiveDecimal(input)
    expect(r.ok && plain(r.value)).toBe(expected)
  })

  it("JSON numbers keep their exact source text", () => {
    const parsed = parseBody("{\"quantity\": 123456789.123456789012345678, \"price\": 0.1}")
    if (!parsed.ok) throw new Error("parse")
    const q = parsePositiveDecimal(parsed.body.fields.get("quantity"))
    const p = parsePositiveDecimal(parsed.body.fields.get("price"))
    expect(q.ok && plain(q.value)).toBe("123456789.123456789012345678")
    expect(p.ok && plain(p.value)).toBe("0.1")
  })

  const rejected: ReadonlyArray<readonly [unknown, string]> = [
    ["NaN", "not a decimal number"],
    ["Infinity", "not a decimal number"],
    ["-1", "greater than 0"],
    ["0", "greater than 0"],
    ["0.000", "greater than 0"],
    ["1e400", "exponent out of range"],
    ["1e21", "too large"],
    ["0x10", "not a decimal number"],
    ["1,5", "not a decimal number"],
    ["12abc", "not a decimal number"],
    ["0.0000000000000000001", "more than 18 decimal places"],
    ["1".repeat(70), "too long"],
    ["{{close}}", "placeholder {{close}}"],
    [true, "must be a decimal number"],
    [[1], "must be a decimal number"]
  ]
  it.each(rejected)("refuses %j", (input, words) => {
    const r = parsePositiveDecimal(input)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem).toContain(words)
  })

  it("plain never uses exponent notation and round-trips", () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.integer({ min: -10, max: 18 }), (value, scale) => {
      const d = BigDecimal.make(value, scale)
      const text = plain(d)
      expect(text).toMatch(/^\d+(\.\d+)?$/)
      const back = parsePositiveDecimal(text)
      if (back.ok) expect(BigDecimal.equals(back.value, d)).toBe(true)
    }))
  })
})

describe("timestamps", () => {
  const accepted: ReadonlyArray<readonly [unknown, string]> = [
    ["2019-08-27T09:56:00Z", "2019-08-27T09:56:00.000Z"],
    ["2019-08-27T09:56:00.123+02:00", "2019-08-27T07:56:00.123Z"],
    ["2019-08-27 09:56:00", "2019-08-27T09:56:00.000Z"],
    ["2019-08-27T09:56Z", "2019-08-27T09:56:00.000Z"],
    ["2019-08-27T09:56:00+0530", "2019-08-27T04:26:00.000Z"],
    ["1566899760", "2019-08-27T09:56:00.000Z"],
    ["1566899760000", "2019-08-27T09:56:00.000Z"],
    ["1566899760.5", "2019-08-27T09:56:00.500Z"]
  ]
  it.each(accepted)("%j → %s", (input, expected) => {
    const r = parseTimestamp(input)
    expect(r.ok && new Date(r.value).toISOString()).toBe(expected)
  })

  it.each(["yesterday", "2019-02-30T00:00:00Z", "2019-08-27T25:00:00Z", "{{timenow}}", "123", "1899-01-01T00:00:00Z"])(
    "refuses %j",
    (input) => {
      expect(parseTimestamp(input).ok).toBe(false)
    }
  )
})

describe("decodeSignals", () => {
  it("a full TradingView strategy alert becomes a canonical signal", () => {
    const { signals, stale, ageSeconds } = decodeOk(JSON.stringify({
      secret: "x",
      symbol: "BINANCE:ETHUSDT.P",
      action: "sell",
      market_position: "short",
      prev_market_position: "flat",
      quantity: "0.5",
      price: "3000.25",
      leverage: "10",
      margin_mode: "CROSSED",
      stop_loss: "3100",
      take_profit: "2800.5",
      timestamp: "2026-03-01T12:00:00Z"
    }))
    expect(stale).toBe(false)
    expect(ageSeconds).toBe(30)
    expect(signals).toHaveLength(1)
    const s = signals[0]!
    expect({
      ...s,
      quantity: plain(s.quantity!),
      price: plain(s.price!),
      stopLoss: plain(s.stopLoss!),
      takeProfit: plain(s.takeProfit!)
    }).toEqual({
      symbol: "ETH-USDT",
      action: "sell",
      positionSide: "short",
      reduceOnly: false,
      quantity: "0.5",
      marginUsdt: null,
      price: "3000.25",
      leverage: 10,
      marginMode: "cross",
      stopLoss: "3100",
      takeProfit: "2800.5",
      timestamp: Date.parse("2026-03-01T12:00:00Z"),
      idempotencyKey: expect.stringMatching(/^h:[0-9a-f]{64}$/),
      sizedWithLeverage: null
    })
  })

  it("collects every problem with its field", () => {
    expect(problemsOf(JSON.stringify({ ticker: "{{ticker}}", side: "hold", qty: "-1", leverage: "200", margin_mode: "hedge" })))
      .toEqual([
        { field: "ticker", problem: expect.stringContaining("placeholder {{ticker}}") },
        { field: "side", problem: expect.stringContaining("\"hold\" is not an action") },
        { field: "qty", problem: "must be greater than 0 (got \"-1\")" },
        { field: "leverage", problem: "\"200\" must be a whole number from 1 to 125" },
        { field: "margin_mode", problem: "\"hedge\" must be isolated or cross" }
      ])
  })

  it("missing symbol, action and quantity are each named", () => {
    expect(problemsOf("{\"note\": \"hi\"}").map((p) => p.field)).toEqual(["symbol", "action", "quantity"])
  })

  it("sl/tp shorthand is refused as ambiguous", () => {
    expect(problemsOf(JSON.stringify({ symbol: "BTCUSDT", action: "buy", qty: 1, sl: 1.2 })))
      .toEqual([{ field: "sl", problem: expect.stringContaining("ambiguous") }])
  })

  it("stop-loss and take-profit must be on the right side of the price for an entry", () => {
    expect(problemsOf(JSON.stringify({ symbol: "BTCUSDT", action: "long", qty: 1, price: 100, stop_loss: 110, take_profit: 90 })))
      .toEqual([
        { field: "stop_loss", problem: "110 must be below the price 100 for a long entry" },
        { field: "take_profit", problem: "90 must be above the price 100 for a long entry" }
      ])
    expect(decodeOk(JSON.stringify({ symbol: "BTCUSDT", action: "short", qty: 1, price: 100, stop_loss: 110, take_profit: 90 })).signals)
      .toHaveLength(1)
  })

  it("margin sizing: qty = margin × leverage ÷ price, rounded down, when the price is known", () => {
    const [s] = decodeOk(JSON.stringify({ symbol: "BTCUSDT", action: "buy", margin_usdt: "50", price: "65000.5" })).signals
    // 50 × 5 (default leverage) ÷ 65000.5 = 0.0038461242605826…
    expect(plain(s!.quantity!)).toBe("0.00384612")
    expect(s!.sizedWithLeverage).toBe(5)
    expect(plain(s!.marginUsdt!)).toBe("50")
    const [t] = decodeOk(JSON.stringify({ symbol: "BTCUSDT", action: "buy", margin: 35, leverage: 15, close: "2" })).signals
    expect(plain(t!.quantity!)).toBe("262.5")
    expect(t!.sizedWithLeverage).toBe(15)
  })

  it("margin without a price leaves sizing to the order actor", () => {
    const [s] = decodeOk(JSON.stringify({ symbol: "BTCUSDT", action: "buy", margin_usdt: "50" })).signals
    expect(s!.quantity).toBeNull()
    expect(plain(s!.marginUsdt!)).toBe("50")
    expect(s!.sizedWithLeverage).toBeNull()
  })

  it("a margin too small for one unit is refused", () => {
    expect(problemsOf(JSON.stringify({ symbol: "BTCUSDT", action: "buy", margin_usdt: "0.000001", price: "100000", leverage: 1 })))
      .toEqual([{ field: "margin_usdt", problem: expect.stringContaining("buys less than 0.00000001") }])
  })

  it("sizeFromMargin is exact", () => {
    expect(plain(sizeFromMargin(dec("100"), 3, dec("0.0003"), SIZING_SCALE))).toBe("1000000")
    expect(plain(sizeFromMargin(dec("10"), 1, dec("3"), SIZING_SCALE))).toBe("3.33333333")
  })

  it("stale: older than SIGNAL_MAX_AGE_SECONDS", () => {
    const r = decodeOk(JSON.stringify({ symbol: "BTCUSDT", action: "buy", qty: 1, timestamp: "2026-03-01T11:58:00Z" }))
    expect(r.stale).toBe(true)
    expect(r.ageSeconds).toBe(150)
  })

  it("a stale {{time}} (bar open time) gets a hint in the reason", () => {
    const r = decodeOk(JSON.stringify({ symbol: "BTCUSDT", action: "buy", qty: 1, time: "2026-03-01T08:00:00Z" }))
    expect(r.stale).toBe(true)
    expect(staleReason(r.ageSeconds!, 60, r.timestampField)).toBe(
      "signal is 14430 s old (older than SIGNAL_MAX_AGE_SECONDS=60); never executed — \"time\" looks like {{time}}, the bar's OPEN time; send {{timenow}} (the alert's fire time)"
    )
    expect(staleReason(90, 60, "timestamp")).toBe("signal is 90 s old (older than SIGNAL_MAX_AGE_SECONDS=60); never executed")
  })

  it("future beyond the skew is refused; within it is accepted", () => {
    expect(problemsOf(JSON.stringify({ symbol: "BTCUSDT", action: "buy", qty: 1, timenow: "2026-03-01T12:02:00Z" })))
      .toEqual([{ field: "timenow", problem: expect.stringContaining("90 s in the future") }])
    expect(decodeOk(JSON.stringify({ symbol: "BTCUSDT", action: "buy", qty: 1, timenow: "2026-03-01T12:00:50Z" })).stale)
      .toBe(false)
  })

  it("{{timenow}} wins over {{time}} (bar open time)", () => {
    const [s] = decodeOk(JSON.stringify({
      symbol: "BTCUSDT",
      action: "buy",
      qty: 1,
      time: "2026-03-01T08:00:00Z",
      timenow: "2026-03-01T12:00:20Z"
    })).signals
    expect(new Date(s!.timestamp!).toISOString()).toBe("2026-03-01T12:00:20.000Z")
  })

  it("idempotency keys: same alert same key; a different fire time or field, another key", () => {
    const base = { symbol: "BTCUSDT", action: "buy", qty: "1", timestamp: "2026-03-01T12:00:00Z" }
    const key = (o: object) => decodeOk(JSON.stringify(o)).signals[0]!.idempotencyKey
    expect(key(base)).toBe(key({ ...base, qty: "1.0", symbol: "BINANCE:BTCUSDT.P", comment: "ignored" }))
    expect(key(base)).not.toBe(key({ ...base, timestamp: "2026-03-01T12:00:01Z" }))
    expect(key(base)).not.toBe(key({ ...base, qty: "2" }))
    expect(key({ ...base, id: "Long" })).toBe("id:Long@2026-03-01T12:00:00.000Z")
    expect(key({ ...base, id: "Long", timestamp: "2026-03-01T12:00:05Z" })).not.toBe(key({ ...base, id: "Long" }))
    const { timestamp: _t, ...untimed } = base
    expect(key({ ...untimed, alert_id: "a-1" })).toBe("id:a-1")
    // Without a time: the received minute scopes the hash.
    const untimedKey = (now: number) => decodeOk(JSON.stringify(untimed), { now }).signals[0]!.idempotencyKey
    expect(untimedKey(NOW)).toBe(untimedKey(NOW + 20_000))
    expect(untimedKey(NOW)).not.toBe(untimedKey(NOW + 60_000))
  })

  it("an actions list gives one signal per action, in order, with indexed keys", () => {
    const r = decodeOk(JSON.stringify({
      symbol: "BTCUSDT",
      actions: ["long_buy", ["short_sell", "LONG_BUY"]],
      qty: 1,
      timestamp: "2026-03-01T12:00:00Z"
    }))
    expect(r.list).toBe(true)
    expect(r.signals.map((s) => [s.action, s.positionSide, s.reduceOnly])).toEqual([
      ["buy", "long", false],
      ["sell", "short", false]
    ])
    const [a, b] = r.signals
    expect(a!.idempotencyKey.endsWith(":0")).toBe(true)
    expect(b!.idempotencyKey).toBe(a!.idempotencyKey.replace(/:0$/, ":1"))
    expect(decodeOk("SYMBOL=BTCUSDT\nACTIONS=long_buy;short_buy\nQTY=1").signals.map((s) => s.reduceOnly)).toEqual([false, true])
  })

  it("the seed's nested trade_settings are read after the top-level fields", () => {
    const [s] = decodeOk(JSON.stringify({
      symbol: "ETHUSDT",
      action: "long_buy",
      trade_settings: { margin: 35, leverage: 15 },
      price: 100
    })).signals
    expect(s!.leverage).toBe(15)
    expect(plain(s!.quantity!)).toBe("5.25")
  })

  it("never throws, whatever JSON object arrives", () => {
    const value = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom("buy", "close", "BTCUSDT", "{{ticker}}", "1e5", "-3", "0.5", "long", "flat", "2026-03-01T12:00:00Z"),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.jsonValue({ maxDepth: 2 })
    )
    const keys = fc.constantFrom(
      "symbol", "ticker", "action", "actions", "side", "qty", "quantity", "price", "margin_usdt", "leverage", "margin_mode",
      "stop_loss", "take_profit", "timestamp", "timenow", "id", "market_position", "prev_market_position", "position_side",
      "reduce_only", "trade_settings", "sl", "other"
    )
    // Mostly plausible values (weight 3), so that valid alerts come up on every run (~13 of 2000
    // expected; with equal weights it was ~5 and "accepted > 0" failed about once in a hundred runs).
    const mostly = <A>(plausibleValues: fc.Arbitrary<A>) =>
      fc.oneof({ arbitrary: plausibleValues, weight: 3 }, { arbitrary: value, weight: 1 })
    const plausible = fc.record({
      symbol: mostly(fc.constantFrom("BTCUSDT", "BINANCE:ETHUSDT.P", "1000PEPE-USDT", "BTCUSD", "{{ticker}}")),
      action: mostly(fc.constantFrom("buy", "sell", "LONG_BUY", "close", "exit_short", "hold")),
      qty: mostly(fc.constantFrom("1", "0.5", "-1", "1e3", "abc", "0.000000001")),
      price: mostly(fc.constantFrom("100", "65000.5", "0")),
      stop_loss: mostly(fc.constantFrom("90", "110"))
    }, { requiredKeys: [] })
    const alert = fc.tuple(fc.dictionary(keys, value, { maxKeys: 8 }), plausible).map(([extra, main]) => ({ ...extra, ...main }))
    let accepted = 0
    fc.assert(fc.property(alert, (object) => {
      const r = decode(JSON.stringify(object))
      if (r.ok) accepted++
      if (!r.ok) {
        expect(r.problems.length).toBeGreaterThan(0)
        for (const p of r.problems) {
          expect(p.field.length).toBeGreaterThan(0)
          expect(p.problem.length).toBeGreaterThan(0)
        }
      } else {
        for (const s of r.value.signals) {
          expect(s.symbol).toMatch(/^[A-Z0-9]+-(USDT|USDC)$/)
          expect(Schema.is(CanonicalSignal)(s)).toBe(true)
          expect(s.quantity !== null || s.marginUsdt !== null).toBe(true)
        }
      }
    }), { numRuns: 2000 })
    // Some generated alerts are valid, so both branches were exercised.
    expect(accepted).toBeGreaterThan(0)
  })
})

describe("parseBody", () => {
  it("JSON object: fields by normalised key, numbers exact", () => {
    const r = parseBody("{\"Symbol\": \"BTCUSDT\", \"Stop-Loss\": 1.10, \"marketPosition\": \"long\"}")
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.body.format).toBe("json")
    expect([...r.body.fields.keys()]).toEqual(["symbol", "stoploss", "marketposition"])
  })

  it("KEY=VALUE lines, any case, newline or ';' separated, comments and quotes", () => {
    const r = parseBody("# my alert\r\nSYMBOL=BTCUSDT; Action = buy\nqty=\"0.5\"\n\nACTIONS=long_buy;short_sell")
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.body.format).toBe("text")
    expect(Object.fromEntries(r.body.fields)).toEqual({
      symbol: "BTCUSDT",
      action: "buy",
      qty: "0.5",
      actions: "long_buy;short_sell"
    })
  })

  const problems: ReadonlyArray<readonly [string, string]> = [
    ["", "body is empty"],
    ["   \n ", "body is empty"],
    ["[1,2]", "must be a JSON object (or KEY=VALUE lines), got an array"],
    ["42", "got a number"],
    ["null", "got null"],
    ["\"text\"", "got a string"],
    ["buy BTCUSDT 0.01", "line 1: \"buy BTCUSDT 0.01\" is not KEY=VALUE"],
    ["{\"symbol\": \"BTC\", \"price\": {{close}}}", "did not substitute"],
    ["{\"symbol\": ", "does not parse"],
    [`{"a":${"[".repeat(40)}${"]".repeat(40)}}`, "nests deeper than 32"]
  ]
  it.each(problems)("refuses %j", (text, words) => {
    const r = parseBody(text)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem.message).toContain(words)
  })

  it("redacts secrets at any depth in the stored JSON, keeps the rest exactly", () => {
    const r = parseBody(
      "{\"secret\":\"s1\",\"symbol\":\"BTCUSDT\",\"qty\":0.10,\"nested\":{\"api_key\":\"k\",\"Token\":\"t\",\"keep\":[1,{\"passphrase\":\"p\"}]},\"nul\":\"a\\u0000b\",\"lone\":\"\\ud800\"}"
    )
    if (!r.ok) throw new Error("parse")
    expect(JSON.stringify(r.body.raw)).toBe(
      `{"format":"json","body":{"secret":"${REDACTED}","symbol":"BTCUSDT","qty":0.10,"nested":{"api_key":"${REDACTED}","Token":"${REDACTED}","keep":[1,{"passphrase":"${REDACTED}"}]},"nul":"a\uFFFDb","lone":"\uFFFD"}}`
    )
    expect(JSON.stringify(r.body.raw)).not.toMatch(/s1|"k"|"t"|"p"/)
  })

  it("redacts TOKEN= lines in stored text bodies", () => {
    const r = parseBody("SYMBOL=BTCUSDT\nTOKEN=abc;ACTION=buy\nkey=zzz")
    if (!r.ok) throw new Error("parse")
    expect(r.body.raw).toEqual({
      format: "text",
      fields: { SYMBOL: "BTCUSDT", TOKEN: REDACTED, ACTION: "buy", key: REDACTED },
      text: `SYMBOL=BTCUSDT\nTOKEN=${REDACTED};ACTION=buy\nkey=${REDACTED}`
    })
  })

  it("finds the token: secret, passphrase, token, key, in that order", () => {
    const token = (text: string) => {
      const r = parseBody(text)
      return r.ok ? tokenFromBody(r.body) : "unparsed"
    }
    expect(token("{\"key\":\"k\",\"token\":\"t\",\"secret\":\"s\"}")).toBe("s")
    expect(token("{\"key\":\"k\",\"token\":\"t\"}")).toBe("t")
    expect(token("{\"passphrase\":\"p\",\"key\":\"k\"}")).toBe("p")
    expect(token("TOKEN=abc\nSYMBOL=BTCUSDT")).toBe("abc")
    expect(token("{\"symbol\":\"x\"}")).toBeUndefined()
    expect(tokenFromUnparsedBody("{\"secret\": \"abc\", \"price\": {{close}}}")).toBe("abc")
    expect(tokenFromUnparsedBody("garbage\nTOKEN=xyz")).toBe("xyz")
  })

  it("form-encoded bodies (only when declared so)", () => {
    const form = "symbol=BTCUSDT&action=buy&qty=0.5&token=abc%20d"
    const r = parseBody(form, "application/x-www-form-urlencoded")
    expect(r.ok && Object.fromEntries(r.body.fields)).toEqual({ symbol: "BTCUSDT", action: "buy", qty: "0.5", token: "abc d" })
    expect(r.ok && JSON.stringify(r.body.raw)).not.toContain("abc")
    // curl -d '{…}' declares a form but sends JSON: still JSON.
    expect(parseBody("{\"symbol\":\"BTCUSDT\"}", "application/x-www-form-urlencoded").ok && "json").toBe("json")
    // Without the declaration '&' is part of the value.
    const plain = parseBody(form)
    expect(plain.ok && plain.body.fields.get("symbol")).toBe("BTCUSDT&action=buy&qty=0.5&token=abc%20d")
  })

  it("problems name the field as the sender spelled it", () => {
    expect(problemsOf(JSON.stringify({ Ticker: "{{ticker}}", SIDE: "buy", Qty: "1", trade_settings: { Leverage: 500 } })))
      .toEqual([
        { field: "Ticker", problem: expect.stringContaining("placeholder") },
        { field: "trade_settings.Leverage", problem: "\"500\" must be a whole number from 1 to 125" }
      ])
    expect(problemsOf("SYMBOL=BTCUSDT\nACTION=buy\nQTY=-1").map((p) => p.field)).toEqual(["QTY"])
  })

  it("every JSON number keeps its source text, wherever it is (never a float)", () => {
    const floats = (v: unknown): number => {
      if (typeof v === "number") return 1
      if (typeof v !== "object" || v === null || (JSON as unknown as { isRawJSON(v: unknown): boolean }).isRawJSON(v)) return 0
      return Object.values(v).reduce((n: number, x) => n + floats(x), 0)
    }
    const numbersIn = (v: unknown): number => {
      if (typeof v === "number") return 1
      if (typeof v !== "object" || v === null) return 0
      return Object.values(v).reduce((n: number, x) => n + numbersIn(x), 0)
    }
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
      const text = JSON.stringify(object)
      const r = parseBody(text)
      if (!r.ok) return
      expect(floats(Object.fromEntries(r.body.fields))).toBe(0)
      expect(floats(r.body.raw)).toBe(0)
    }), { numRuns: 500 })
    // A body without numbers (strings that merely look like them) and one with them.
    const strings = parseBody("{\"symbol\":\"BTCUSDT\",\"note\":\"a:1, [2\",\"qty\":\"0.5\"}")
    expect(strings.ok && Object.fromEntries(strings.body.fields)).toEqual({ symbol: "BTCUSDT", note: "a:1, [2", qty: "0.5" })
    const numbers = parseBody("{\"qty\" :\n-0.10000000000000000001,\"list\":[ 1e400]}")
    expect(numbers.ok && numbersIn(Object.fromEntries(numbers.body.fields))).toBe(0)
    expect(numbers.ok && JSON.stringify(numbers.body.raw)).toBe("{\"format\":\"json\",\"body\":{\"qty\":-0.10000000000000000001,\"list\":[\"1e400\"]}}")
  })

  it("never throws on any text", () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.string({ unit: "binary" })), (text) => {
      const r = parseBody(text)
      if (r.ok) {
        expect(() => JSON.stringify(r.body.raw)).not.toThrow()
        expect(JSON.stringify(r.body.raw)).not.toContain("\\u0000")
      } else expect(r.problem.message.length).toBeGreaterThan(0)
    }), { numRuns: 500 })
  })
})

describe("jsonForPostgres", () => {
  it("replaces NUL and lone surrogates (values and keys) with U+FFFD, nothing else", async () => {
    const { jsonForPostgres } = await import("../../src/domain/webhookBody.ts")
    const text = jsonForPostgres({ "a\u0000b": "x\u0000y", lone: "\ud800", pair: "\ud83d\ude00", literal: "\\u0000", both: "\\\u0000" })
    expect(JSON.parse(text)).toEqual({ "a\ufffdb": "x\ufffdy", lone: "\ufffd", pair: "\ud83d\ude00", literal: "\\u0000", both: "\\\ufffd" })
    expect(text).not.toMatch(/(?<!\\)(\\\\)*\\u(0000|d[89a-f])/i)
  })

  it("an id with control characters is refused with a field problem", () => {
    const r = decode(JSON.stringify({ id: "a\u0000b", symbol: "BTCUSDT", action: "buy", qty: "1" }))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problems).toEqual([{ field: "id", problem: "contains control characters or invalid Unicode; send a printable id" }])
    const lone = decode(JSON.stringify({ id: "a\ud800", symbol: "BTCUSDT", action: "buy", qty: "1" }))
    expect(lone.ok).toBe(false)
  })
})
