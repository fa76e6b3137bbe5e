/**
 * Every text the bot sends, in Telegram HTML. Dynamic values are escaped here and nowhere else;
 * every function returns a message under 4096 visible characters.
 */
import type { BigDecimal } from "effect"
import { plain } from "../domain/decimal.ts"
import type { Notification } from "../notify/Notifier.ts"
import type { BotActor, BotState, Order, PnlReport, Position, Signal } from "./contract.ts"
import { clip, escapeHtml as e, fitLines, fixed, percent, utc } from "./html.ts"

export const UNAUTHORIZED_TEXT = "You are not authorized to use this bot."

/** `setMyCommands`: exactly the commands the bot handles. */
export const BOT_COMMANDS: ReadonlyArray<{ readonly command: string; readonly description: string }> = [
  { command: "start", description: "Start the bot and show the commands" },
  { command: "help", description: "Show the commands" },
  { command: "status", description: "Show the current automation status" },
  { command: "autotrade", description: "Toggle auto-trading (or: on | off)" },
  { command: "confirmations", description: "Toggle manual confirmations (or: on | off)" },
  { command: "margin", description: "Set the margin mode: isolated | cross" },
  { command: "leverage", description: "Set the leverage (1-125)" },
  { command: "reports", description: "Show recent signals" },
  { command: "pnl", description: "Show profit and loss: day | week | all" },
  { command: "positions", description: "Show open positions" },
  { command: "orders", description: "Show recent orders" },
  { command: "pause", description: "Stop acting on new signals" },
  { command: "resume", description: "Act on new signals again" }
]

export const helpText = (): string =>
  [
    "<b>TVTelegramBingX Control Bot</b>",
    "",
    "Available commands:",
    "/status - Show current automation status",
    "/autotrade [on|off] - Toggle auto-trading",
    "/confirmations [on|off] - Toggle manual confirmations",
    "/margin [isolated|cross] - Set margin mode",
    "/leverage [value] - Set leverage multiplier (1-125)",
    "/reports [n] - Show recent signals",
    "/pnl [day|week|all] - Show profit and loss",
    "/positions - Show open positions",
    "/orders [n] - Show recent orders",
    "/pause - Stop acting on new signals (settings stay)",
    "/resume - Act on new signals again",
    "/help - Show this message"
  ].join("\n")

const onOff = (b: boolean) => (b ? "ON" : "OFF")
const side = (s: string | null) => (s === null ? "" : ` (${e(s)})`)
const NOT_AVAILABLE = "• not available"

/** A PnL decimal for display: plain digits, 2 decimals (half away from zero). */
const money = (d: BigDecimal.BigDecimal): string => e(fixed(plain(d)))
const time = (d: Date | null, fallback?: string): string => utc(d === null ? null : d.toISOString(), fallback)

const positionLine = (p: Position): string => {
  const lev = p.leverage === null ? "—" : `x${p.leverage}`
  const mark = p.markPrice === null ? "" : `, mark ${e(plain(p.markPrice))}`
  const upnl = p.unrealised === null ? "" : `, uPnL ${money(p.unrealised)}`
  return `• ${e(p.symbol)} — ${e(p.side.toUpperCase())} qty ${e(plain(p.quantity))} @ ${e(plain(p.entryPrice))}${mark}${upnl} (lev ${lev}) opened ${
    time(p.openedAt, "unknown")
  }`
}

/** The seed's status view, plus pause, trading mode and the breaker. */
export const statusText = (state: BotState, notice?: string): string => {
  const lines: Array<string> = []
  if (notice !== undefined) lines.push(e(notice), "")
  lines.push(
    "<b>Automation Status</b>",
    `Auto-Trade: ${onOff(state.auto_trade_enabled)}`,
    `Manual Confirmations: ${onOff(state.manual_confirmation_required)}`,
    `Margin Mode: ${e(state.margin_mode)}`,
    `Leverage: x${e(state.leverage)}`,
    `Paused: ${state.paused ? "YES (new signals are stored, not traded)" : "no"}`,
    `Trading Mode: ${e(state.trading_mode)}`,
    `Last Updated: ${utc(state.updated_at)}`,
    "",
    "<b>Balances</b>"
  )
  if (state.balances === undefined) lines.push(NOT_AVAILABLE)
  else if (state.balances.length === 0) lines.push("• None recorded")
  else {
    for (const b of state.balances) {
      lines.push(`• ${e(b.asset)}: free ${e(plain(b.free))}, locked ${e(plain(b.locked))}, total ${e(plain(b.total))}`)
    }
  }
  lines.push("", "<b>PnL</b>")
  if (state.pnl === undefined) lines.push(NOT_AVAILABLE)
  else {
    lines.push(
      `Realized: ${money(state.pnl.realised)}`,
      `Unrealized: ${money(state.pnl.unrealised)}`,
      `Total: ${money(state.pnl.total)}`,
      `Fees: ${money(state.pnl.fees)}`,
      `Net: ${money(state.pnl.net)}`
    )
  }
  lines.push("", "<b>Open Positions</b>")
  if (state.open_positions === undefined) lines.push(NOT_AVAILABLE)
  else if (state.open_positions.length === 0) lines.push("• No open positions")
  else for (const p of state.open_positions) lines.push(positionLine(p))
  lines.push("", "<b>Exchange Breaker</b>")
  if (state.breaker === undefined) lines.push(NOT_AVAILABLE)
  else {
    const until = state.breaker.open_until === null ? "" : ` until ${utc(state.breaker.open_until)}`
    lines.push(
      `State: ${e(state.breaker.state.replace("_", "-"))}${until} (${e(state.breaker.consecutive_failures)} consecutive failures)`
    )
  }
  return fitLines(lines)
}

export const signalsText = (signals: ReadonlyArray<Signal>): string => {
  if (signals.length === 0) return "No recent signals were found."
  const lines = ["<b>Recent Signals</b>"]
  for (const s of signals) {
    const qty = s.quantity !== null ? plain(s.quantity) : s.marginUsdt === null ? "n/a" : `${plain(s.marginUsdt)} USDT margin`
    const status = s.orderStatus === null ? "" : ` — ${e(s.orderStatus.replace("_", " "))}`
    lines.push(
      `• #${e(s.id)} ${e(s.symbol)} — <b>${e(s.action.toUpperCase())}</b>${side(s.positionSide)} — qty ${e(qty)} at ${
        utc((s.timestamp ?? s.receivedAt).toISOString())
      }${status}`
    )
  }
  return fitLines(lines)
}

export const ordersText = (orders: ReadonlyArray<Order>): string => {
  if (orders.length === 0) return "No orders yet."
  const lines = ["<b>Recent Orders</b>"]
  for (const o of orders) {
    const price = o.average_price === null ? "" : ` @ ${e(o.average_price)}`
    const reason = o.reason === null ? "" : ` — ${e(clip(o.reason, 120))}`
    lines.push(
      `• #${e(o.id)} ${e(o.symbol)} <b>${e(o.action.toUpperCase())}</b>${side(o.position_side)} qty ${e(o.quantity ?? "n/a")} filled ${
        e(o.filled_quantity)
      }${price} — <b>${e(o.status.replace("_", " "))}</b>${reason} (${utc(o.created_at)})`
    )
  }
  return fitLines(lines)
}

export const positionsText = (positions: ReadonlyArray<Position>): string => {
  if (positions.length === 0) return "<b>Open Positions</b>\n• No open positions"
  return fitLines(["<b>Open Positions</b>", ...positions.map(positionLine)])
}

export const pnlText = (r: PnlReport): string => {
  const from = time(r.from, "the beginning")
  const lines = [
    `<b>PnL — ${e(r.period)}</b>`,
    `From ${from} to ${time(r.to)}`,
    `Realized: ${money(r.realised)}`,
    `Fees: ${money(r.fees)}`,
    `Net: ${money(r.net)}`,
    `Unrealized: ${money(r.unrealised)}`,
    `Volume: ${money(r.volume)}`,
    `Trades: ${e(r.trades)} (realising fills: ${e(r.realisingFills)})`,
    `Win rate: ${r.winRate === null ? "n/a" : `${e(percent(plain(r.winRate)))}%`}`
  ]
  if (r.bySymbol.length > 0) {
    lines.push("", "<b>By symbol</b>")
    for (const s of r.bySymbol) {
      lines.push(
        `• ${e(s.symbol)}: net ${money(s.net)} (realized ${money(s.realised)}, fees ${money(s.fees)}), volume ${
          money(s.volume)
        }, ${e(s.trades)} trades`
      )
    }
  }
  return fitLines(lines)
}

export const who = (actor: BotActor): string => (actor.username === undefined ? `user ${actor.userId}` : `@${actor.username}`)

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

const STATUS_WORDS: Readonly<Record<string, string>> = {
  awaiting_approval: "awaiting approval",
  pending: "pending",
  submitted: "submitted",
  partially_filled: "partially filled",
  filled: "filled",
  rejected: "rejected",
  cancelled: "cancelled",
  expired: "expired",
  failed: "failed",
  skipped: "skipped"
}

export const statusWord = (status: string): string => STATUS_WORDS[status] ?? status

export const signalReceivedText = (n: Extract<Notification, { _tag: "SignalReceived" }>): string => {
  const lines = [
    `📥 <b>New signal</b> ${e(n.symbol)}`,
    `Action: <b>${e(n.action.toUpperCase())}</b>${side(n.positionSide)}${n.reduceOnly ? " reduce-only" : ""}`,
    `Quantity: ${e(n.quantity ?? "sized from margin")}`,
    `Price: ${e(n.price ?? "market")}`,
    `Order: #${e(n.orderId)} — <b>${e(statusWord(n.orderStatus))}</b>`
  ]
  if (n.orderStatus === "awaiting_approval") lines.push("", "Approve or reject:")
  return fitLines(lines)
}

const ORDER_ICONS: Readonly<Record<string, string>> = {
  filled: "✅",
  partially_filled: "🟡",
  rejected: "❌",
  failed: "⚠️",
  expired: "⌛",
  cancelled: "🚫"
}

export const orderUpdateText = (n: Extract<Notification, { _tag: "OrderUpdate" }>): string => {
  const icon = ORDER_ICONS[n.status] ?? "ℹ️"
  const lines = [
    `${icon} <b>Order #${e(n.orderId)} ${e(statusWord(n.status))}</b>`,
    `${e(n.symbol)} ${e(n.action.toUpperCase())} qty ${e(n.quantity ?? "n/a")}${n.price === null ? "" : ` @ ${e(n.price)}`}`
  ]
  if (n.priceSource === "alert") {
    lines.push("⚠️ Paper fill at the alert's price, not a market price: BingX's public price could not be had (PAPER_PRICE_FALLBACK=alert)")
  }
  if (n.reason !== null) lines.push(`Reason: ${e(clip(n.reason, 1000))}`)
  return fitLines(lines)
}

export const breakerText = (n: Extract<Notification, { _tag: "BreakerChanged" }>): string => {
  const lines = n.state === "open"
    ? ["🔴 <b>Exchange circuit breaker OPEN</b>", "New orders wait until the exchange answers again."]
    : n.state === "half_open"
    ? ["🟡 <b>Exchange circuit breaker half-open</b>", "Trying the exchange again."]
    : ["🟢 <b>Exchange circuit breaker closed</b>", "Orders flow to the exchange again."]
  if (n.reason !== null) lines.push(`Reason: ${e(clip(n.reason, 1000))}`)
  return fitLines(lines)
}

export const backendStartupText = (n: Extract<Notification, { _tag: "Startup" }>): string =>
  `🤖 <b>tvtelegrambingx started</b>\nRole: ${e(n.role)} · Trading: ${e(n.tradingMode)} · Environment: ${e(n.environment)}`

/** The seed's `_announce_startup` message. */
export const botStartupText = (state: BotState | undefined): string => {
  if (state === undefined) return "🤖 Bot started, the status could not be loaded."
  return [
    "🤖 <b>Bot started</b>",
    `• Auto-trade: ${state.auto_trade_enabled ? "enabled" : "disabled"}`,
    `• Confirmation: ${state.manual_confirmation_required ? "required" : "optional"}`,
    `• Margin mode: ${e(state.margin_mode)}`,
    `• Leverage: ${e(state.leverage)}x`,
    `• Paused: ${state.paused ? "yes" : "no"}`,
    `• Trading mode: ${e(state.trading_mode)}`
  ].join("\n")
}

export const notificationText = (n: Notification): string => {
  switch (n._tag) {
    case "SignalReceived":
      return signalReceivedText(n)
    case "OrderUpdate":
      return orderUpdateText(n)
    case "BreakerChanged":
      return breakerText(n)
    case "Startup":
      return backendStartupText(n)
  }
}

// ---------------------------------------------------------------------------------------------
// Approval outcomes (the approval message is edited to one of these)
// ---------------------------------------------------------------------------------------------

const orderSummary = (o: Order): string =>
  `Order #${e(o.id)} ${e(o.symbol)} <b>${e(o.action.toUpperCase())}</b>${side(o.position_side)} qty ${e(o.quantity ?? "n/a")}`

export const approvedText = (o: Order, actor: BotActor): string =>
  fitLines([`✅ <b>Approved</b> by ${e(who(actor))}`, orderSummary(o), `Status: <b>${e(statusWord(o.status))}</b>`])

export const rejectedText = (o: Order, actor: BotActor): string =>
  fitLines([`❌ <b>Rejected</b> by ${e(who(actor))}`, orderSummary(o), `Status: <b>${e(statusWord(o.status))}</b>`])

/** Pressed on an order that was already decided, or that expired meanwhile. */
export const alreadyDecidedText = (orderId: string, serverMessage: string, order: Order | undefined): string => {
  const icon = order?.status === "expired" ? "⌛" : "ℹ️"
  const lines = [`${icon} <b>No longer awaiting approval</b>`]
  lines.push(order === undefined ? `Order #${e(orderId)}` : orderSummary(order))
  if (order !== undefined) lines.push(`Status: <b>${e(statusWord(order.status))}</b>`)
  lines.push(e(clip(serverMessage, 500)))
  return fitLines(lines)
}

export const orderNotFoundText = (orderId: string): string => `❔ Order #${e(orderId)} was not found.`
