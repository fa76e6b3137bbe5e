import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import type { BotState, Order, Position, Signal } from "../../src/bot/BotBackend.ts"
import {
  alreadyDecidedText,
  approvedText,
  botStartupText,
  notificationText,
  ordersText,
  pnlText,
  positionsText,
  signalsText,
  statusText
} from "../../src/bot/format.ts"
import { byteLength, escapeHtml, fitLines, fixed, MAX_CALLBACK_DATA_BYTES, percent, visibleLength } from "../../src/bot/html.ts"
import { approvalKeyboard, mainMenu, parseCallback } from "../../src/bot/keyboards.ts"
import { parseTelegramHtml } from "../fakes/telegram.ts"

const EVIL = "<b>&\"x\"</b>&amp;<script>"

const state: BotState = {
  auto_trade_enabled: true,
  manual_confirmation_required: false,
  margin_mode: "cross",
  leverage: 20,
  paused: true,
  updated_at: "2026-01-02T03:04:05.678Z",
  trading_mode: "live"
}

const d = BigDecimal.fromStringUnsafe

const position = (i: number): Position => ({
  symbol: `${EVIL}${i}-USDT`,
  side: "short",
  quantity: d("1.23456789"),
  entryPrice: d("65000.5"),
  markPrice: d("64000"),
  unrealised: d("1000.6149"),
  leverage: 5,
  openedAt: new Date("2026-01-01T00:00:00Z")
})

const order: Order = {
  id: "12345678901234567890",
  signal_id: "1",
  symbol: EVIL,
  action: "buy",
  position_side: "long",
  reduce_only: false,
  status: "partially_filled",
  quantity: "0.01",
  margin_usdt: null,
  filled_quantity: "0.005",
  price: null,
  average_price: "65010.1",
  leverage: 5,
  margin_mode: "isolated",
  stop_loss: null,
  take_profit: null,
  client_order_id: null,
  exchange_order_id: null,
  reason: EVIL,
  created_at: "2026-01-02T03:04:05Z",
  updated_at: "2026-01-02T03:04:05Z",
  fills: []
}

/** Parses like Telegram does: throws on invalid HTML; returns the visible text. */
const telegramAccepts = (html: string) => {
  const text = parseTelegramHtml(html)
  expect(text.length).toBeLessThanOrEqual(4096)
  return text
}

describe("bot texts", () => {
  it("escapes &, <, > and quotes so any value is shown literally", () => {
    expect(escapeHtml(EVIL)).toBe("&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;&amp;amp;&lt;script&gt;")
    expect(parseTelegramHtml(escapeHtml(EVIL))).toBe(EVIL)
  })

  it("the status shows the seed's fields, with the missing parts marked as not available", () => {
    const text = telegramAccepts(statusText(state, "Leverage updated to x20"))
    expect(text).toContain("Leverage updated to x20\n\nAutomation Status")
    expect(text).toContain("Auto-Trade: ON")
    expect(text).toContain("Manual Confirmations: OFF")
    expect(text).toContain("Margin Mode: cross")
    expect(text).toContain("Leverage: x20")
    expect(text).toContain("Paused: YES")
    expect(text).toContain("Trading Mode: live")
    expect(text).toContain("Last Updated: 2026-01-02 03:04:05 UTC")
    expect(text.match(/• not available/g)).toHaveLength(4)
  })

  it("the status shows balances, PnL (2 decimals), positions and the breaker when present", () => {
    const text = telegramAccepts(statusText({
      ...state,
      balances: [{ asset: "USDT", free: d("100.5"), locked: d("0"), total: d("100.5") }],
      pnl: { realised: d("12.345"), unrealised: d("-0.004"), total: d("12.341"), fees: d("0.1"), net: d("12.241") },
      open_positions: [position(1)],
      breaker: { state: "half_open", consecutive_failures: 3, open_until: null }
    }))
    expect(text).toContain("• USDT: free 100.5, locked 0, total 100.5")
    expect(text).toContain("Realized: 12.35")
    expect(text).toContain("Unrealized: 0.00")
    expect(text).toContain(`• ${EVIL}1-USDT — SHORT qty 1.23456789 @ 65000.5, mark 64000, uPnL 1000.61 (lev x5)`)
    expect(text).toContain("State: half-open (3 consecutive failures)")
  })

  it("long lists stay under 4096 characters and say how many lines were left out", () => {
    const positions = Array.from({ length: 200 }, (_, i) => position(i))
    const text = telegramAccepts(positionsText(positions))
    expect(text).toMatch(/… \d+ more lines$/)
    const shown = text.split("\n").filter((l) => l.startsWith("• ")).length
    expect(shown).toBeGreaterThan(10)
    expect(Number(/… (\d+) more lines$/.exec(text)![1]) + shown).toBe(200)
    const statusWithMany = telegramAccepts(statusText({ ...state, open_positions: positions }))
    expect(statusWithMany.length).toBeLessThanOrEqual(4096)
    const one = telegramAccepts(fitLines([escapeHtml("y".repeat(10_000))]))
    expect(one.length).toBeLessThanOrEqual(4096)
  })

  it("signals, orders and PnL reports render any value safely", () => {
    const signal: Signal = {
      id: "1",
      symbol: EVIL,
      action: "sell",
      positionSide: null,
      reduceOnly: false,
      quantity: null,
      marginUsdt: BigDecimal.fromStringUnsafe("50"),
      price: null,
      leverage: null,
      marginMode: null,
      stopLoss: null,
      takeProfit: null,
      timestamp: null,
      receivedAt: new Date("2026-01-02T03:04:05Z"),
      orderId: "2",
      orderStatus: "awaiting_approval"
    }
    expect(telegramAccepts(signalsText([signal]))).toContain(`• #1 ${EVIL} — SELL — qty 50 USDT margin at 2026-01-02 03:04:05 UTC — awaiting approval`)
    expect(telegramAccepts(signalsText([]))).toBe("No recent signals were found.")
    expect(telegramAccepts(ordersText([order]))).toContain(`— partially filled — ${EVIL}`)
    const pnl = telegramAccepts(pnlText({
      period: "all",
      from: null,
      to: new Date("2026-01-02T00:00:00Z"),
      realised: d("10"),
      fees: d("0.5"),
      net: d("9.5"),
      unrealised: d("1"),
      volume: d("1000"),
      trades: 3,
      realisingFills: 2,
      winRate: d("0.5"),
      bySymbol: [{ symbol: EVIL, realised: d("10"), fees: d("0.5"), net: d("9.5"), volume: d("1000"), trades: 3 }]
    }))
    expect(pnl).toContain("Win rate: 50.0%")
    expect(pnl).toContain(`• ${EVIL}: net 9.50`)
    expect(telegramAccepts(approvedText(order, { userId: 1, username: undefined }))).toContain("Approved by user 1")
    expect(telegramAccepts(alreadyDecidedText("5", EVIL, undefined))).toContain(EVIL)
    expect(telegramAccepts(botStartupText(undefined))).toBe("🤖 Bot started, the status could not be loaded.")
  })

  it("notifications with hostile values are valid HTML under the limit", () => {
    for (const n of [
      { _tag: "OrderUpdate", orderId: "1", symbol: EVIL, action: "sell", status: "failed", quantity: null, price: null, priceSource: null, reason: EVIL.repeat(1000) },
      { _tag: "BreakerChanged", state: "open", reason: EVIL },
      { _tag: "Startup", role: EVIL, tradingMode: "paper", environment: EVIL }
    ] as const) {
      expect(telegramAccepts(notificationText(n))).toContain(EVIL)
    }
  })

  it("an order filled at the alert's price says so; a market-priced fill does not", () => {
    const filled = (priceSource: "exchange" | "alert" | null) =>
      telegramAccepts(notificationText({
        _tag: "OrderUpdate",
        orderId: "9",
        symbol: "FOO-USDT",
        action: "buy",
        status: "filled",
        quantity: "10",
        price: "1.5",
        priceSource,
        reason: null
      }))
    expect(filled("alert")).toContain("Paper fill at the alert's price, not a market price")
    expect(filled("alert")).toContain("PAPER_PRICE_FALLBACK=alert")
    expect(filled("alert")).toContain("FOO-USDT BUY qty 10 @ 1.5")
    expect(filled("exchange")).not.toContain("alert")
    expect(filled(null)).not.toContain("alert")
  })

  it("decimals are rounded for display without floats", () => {
    expect(fixed("12.345")).toBe("12.35")
    expect(fixed("-12.345")).toBe("-12.35")
    expect(fixed("0.1")).toBe("0.10")
    expect(fixed("100")).toBe("100.00")
    expect(fixed("0.1", 0)).toBe("0")
    expect(fixed("123456789012345678901234567890.125")).toBe("123456789012345678901234567890.13")
    expect(fixed("n/a")).toBe("n/a")
    expect(percent("0.3333")).toBe("33.3")
    expect(visibleLength("<b>a&amp;b</b>")).toBe(3)
  })
})

describe("keyboards", () => {
  it("every callback_data fits Telegram's 64 bytes, also for the largest order id", () => {
    const all = [...mainMenu(state).inline_keyboard, ...approvalKeyboard("18446744073709551615").inline_keyboard]
      .flat()
      .map((b) => (b as { callback_data: string }).callback_data)
    expect(all.length).toBe(13)
    for (const data of all) expect(byteLength(data)).toBeLessThanOrEqual(MAX_CALLBACK_DATA_BYTES)
  })

  it("parses only the buttons the bot makes", () => {
    expect(parseCallback("approve:34")).toEqual({ _tag: "Approve", orderId: "34" })
    expect(parseCallback("reject:34")).toEqual({ _tag: "Reject", orderId: "34" })
    expect(parseCallback("leverage:10")).toEqual({ _tag: "Leverage", leverage: 10 })
    expect(parseCallback("margin:cross")).toEqual({ _tag: "Margin", mode: "cross" })
    for (const bad of ["approve:", "approve:1;DROP", "leverage:0", "leverage:126", "margin:portfolio", "x"]) {
      expect(parseCallback(bad)).toBeUndefined()
    }
  })
})
