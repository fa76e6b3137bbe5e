/**
 * Inline keyboards and their callback data. The main menu is the seed's (toggles, Isolated/Cross,
 * x3/x5/x10/x20, Refresh); approvals carry the order id. Every callback_data is ≤ 64 bytes
 * (order ids are at most 20 digits: "approve:" + 20 = 28 bytes).
 */
import { Schema } from "effect"
import type { InlineKeyboardMarkup } from "grammy/types"
import { isId } from "../domain/ids.ts"
import { MarginMode } from "../domain/vocabulary.ts"
import type { BotState } from "./contract.ts"

export const CB = {
  toggleAutoTrade: "toggle:auto_trade",
  toggleManual: "toggle:manual",
  marginPrefix: "margin:",
  leveragePrefix: "leverage:",
  noopPrefix: "noop:",
  refresh: "refresh:status",
  approvePrefix: "approve:",
  rejectPrefix: "reject:"
} as const

export const MENU_LEVERAGES = [3, 5, 10, 20] as const

const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

export const mainMenu = (state: BotState): InlineKeyboardMarkup => ({
  inline_keyboard: [
    [{ text: `Auto-Trade: ${state.auto_trade_enabled ? "ON" : "OFF"}`, callback_data: CB.toggleAutoTrade }],
    [{ text: `Manual Confirmations: ${state.manual_confirmation_required ? "ON" : "OFF"}`, callback_data: CB.toggleManual }],
    [
      { text: "Isolated", callback_data: `${CB.marginPrefix}isolated` },
      { text: "Cross", callback_data: `${CB.marginPrefix}cross` }
    ],
    MENU_LEVERAGES.map((n) => ({ text: `x${n}`, callback_data: `${CB.leveragePrefix}${n}` })),
    [{ text: `Margin: ${title(state.margin_mode)}`, callback_data: `${CB.noopPrefix}margin` }],
    [{ text: `Leverage: x${state.leverage}`, callback_data: `${CB.noopPrefix}leverage` }],
    [{ text: "Refresh", callback_data: CB.refresh }]
  ]
})

export const approvalKeyboard = (orderId: string): InlineKeyboardMarkup => ({
  inline_keyboard: [[
    { text: "✅ Approve", callback_data: `${CB.approvePrefix}${orderId}` },
    { text: "❌ Reject", callback_data: `${CB.rejectPrefix}${orderId}` }
  ]]
})

/** Parsed callback data of a button this bot made; undefined for anything else. */
export type Callback =
  | { readonly _tag: "ToggleAutoTrade" }
  | { readonly _tag: "ToggleManual" }
  | { readonly _tag: "Margin"; readonly mode: MarginMode }
  | { readonly _tag: "Leverage"; readonly leverage: number }
  | { readonly _tag: "Noop" }
  | { readonly _tag: "Refresh" }
  | { readonly _tag: "Approve"; readonly orderId: string }
  | { readonly _tag: "Reject"; readonly orderId: string }

const isMarginMode = Schema.is(MarginMode)

export const parseCallback = (data: string): Callback | undefined => {
  if (data === CB.toggleAutoTrade) return { _tag: "ToggleAutoTrade" }
  if (data === CB.toggleManual) return { _tag: "ToggleManual" }
  if (data === CB.refresh) return { _tag: "Refresh" }
  if (data.startsWith(CB.noopPrefix)) return { _tag: "Noop" }
  if (data.startsWith(CB.marginPrefix)) {
    const mode = data.slice(CB.marginPrefix.length)
    return isMarginMode(mode) ? { _tag: "Margin", mode } : undefined
  }
  if (data.startsWith(CB.leveragePrefix)) {
    const raw = data.slice(CB.leveragePrefix.length)
    const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN
    return Number.isInteger(n) && n >= 1 && n <= 125 ? { _tag: "Leverage", leverage: n } : undefined
  }
  for (const [prefix, tag] of [[CB.approvePrefix, "Approve"], [CB.rejectPrefix, "Reject"]] as const) {
    if (data.startsWith(prefix)) {
      const orderId = data.slice(prefix.length)
      return isId(orderId) ? { _tag: tag, orderId } : undefined
    }
  }
  return undefined
}
