/**
 * Where an alert's fields are found: the accepted names of each canonical field and the lookup
 * over a parsed webhook body (pure).
 *
 * Invariants: aliases are normalised keys (lowercase, no separators — `normaliseKey`), tried in
 * their listed order; the top level of the body wins over the nested settings containers; an
 * empty string or null counts as absent. A found field keeps the name the sender wrote (nested
 * ones as `container.name`), so every problem names the field as sent.
 */
import { jsonNumberSource, normaliseKey, type ParsedBody } from "./webhookBody.ts"

export const ALIASES = {
  symbol: ["symbol", "ticker", "instrument", "tvinstrument", "pair"],
  action: ["action", "side", "signal", "direction", "orderaction"],
  actions: ["actions"],
  quantity: ["quantity", "qty", "contracts", "amount", "size", "volume"],
  price: ["price", "close", "triggerprice"],
  // {{timenow}} (fire time) before {{time}} (bar open time).
  timestamp: ["timestamp", "timenow", "time"],
  marginMode: ["marginmode", "margintype"],
  leverage: ["leverage", "lev"],
  stopLoss: ["stoploss", "stoplossprice", "slprice"],
  takeProfit: ["takeprofit", "takeprofitprice", "tpprice"],
  marginUsdt: ["marginusdt", "margin", "marginusd"],
  id: ["id", "alertid", "orderid", "idempotencykey"],
  marketPosition: ["marketposition", "sentiment"],
  prevMarketPosition: ["prevmarketposition"],
  positionSide: ["positionside"],
  reduceOnly: ["reduceonly"]
} as const satisfies Record<string, ReadonlyArray<string>>

export type FieldName = keyof typeof ALIASES

/** Containers some templates nest their trade settings in (e.g. `trade_settings`). */
const SETTINGS_CONTAINERS = ["tradesettings", "settings", "webhooksettings"]

/** Short field names whose meaning differs between bots (percent or price?): refused with a hint. */
export const AMBIGUOUS: Readonly<Record<string, string>> = {
  sl: "is ambiguous (a price or a percentage?); send stop_loss as a price",
  tp: "is ambiguous (a price or a percentage?); send take_profit as a price"
}

/** Looks a field up by its aliases: top level first, then the nested settings containers. */
export const lookup = (body: ParsedBody, field: FieldName): { readonly name: string; readonly value: unknown } | undefined => {
  const sources: Array<{ readonly values: ReadonlyMap<string, unknown>; readonly name: (key: string) => string }> = [
    { values: body.fields, name: (key) => body.names.get(key) ?? key }
  ]
  for (const c of SETTINGS_CONTAINERS) {
    const nested = body.fields.get(c)
    if (typeof nested === "object" && nested !== null && !Array.isArray(nested) && jsonNumberSource(nested) === undefined) {
      const values = new Map<string, unknown>()
      const names = new Map<string, string>()
      for (const [k, v] of Object.entries(nested as Record<string, unknown>)) {
        const key = normaliseKey(k)
        if (!values.has(key)) {
          values.set(key, v)
          names.set(key, k)
        }
      }
      const container = body.names.get(c) ?? c
      sources.push({ values, name: (key) => `${container}.${names.get(key) ?? key}` })
    }
  }
  for (const source of sources) {
    for (const alias of ALIASES[field]) {
      const value = source.values.get(alias)
      // Empty strings and nulls count as absent (optional template fields left blank).
      if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) continue
      return { name: source.name(alias), value }
    }
  }
  return undefined
}
