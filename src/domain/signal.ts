/**
 * TradingView alert → canonical signal (pure: no I/O, the clock is a parameter).
 *
 * Canonical signal (ARCHITECTURE §4): `symbol` in BingX form (`BTC-USDT`), `action` buy|sell (the
 * order side), `position_side` long|short|null (null = one-way semantics, the actor sends BOTH),
 * `reduce_only`, `quantity` (decimal) or a USDT margin to size from, optional `price`, `leverage`,
 * `margin_mode`, `stop_loss`, `take_profit`, and the alert's own `timestamp`.
 *
 *   LONG_BUY  = buy  / long  open      LONG_SELL  = sell / long  close (reduce only)
 *   SHORT_SELL = sell / short open     SHORT_BUY  = buy  / short close (reduce only)
 *
 * Every problem with a field is collected (`{field, problem}`), so one 422 names them all.
 */
import { BigDecimal, Schema } from "effect"
import { createHash } from "node:crypto"
import { plain } from "./decimal.ts"
import { closes, protectionProblems, quantityFor } from "./orderPlan.ts"
import {
  Action,
  type FieldProblem,
  MarginMode,
  type MarketPosition,
  PositionSide,
  SignalPositionSide
} from "./vocabulary.ts"
import { jsonNumberSource, normaliseKey, type ParsedBody } from "./webhookBody.ts"

// ---------------------------------------------------------------------------------------------
// The canonical signal
// ---------------------------------------------------------------------------------------------

export const CanonicalSignal = Schema.Struct({
  symbol: Schema.String,
  action: Action,
  positionSide: SignalPositionSide,
  reduceOnly: Schema.Boolean,
  /** Given, or sized from `marginUsdt` when the price is known; null = the actor sizes it. */
  quantity: Schema.NullOr(Schema.BigDecimal),
  marginUsdt: Schema.NullOr(Schema.BigDecimal),
  price: Schema.NullOr(Schema.BigDecimal),
  leverage: Schema.NullOr(Schema.Int),
  marginMode: Schema.NullOr(MarginMode),
  stopLoss: Schema.NullOr(Schema.BigDecimal),
  takeProfit: Schema.NullOr(Schema.BigDecimal),
  /** The alert's own time (epoch ms), when it carried one. */
  timestamp: Schema.NullOr(Schema.Number),
  idempotencyKey: Schema.String,
  /** Leverage used to size `quantity` from `marginUsdt` (the order keeps it), else null. */
  sizedWithLeverage: Schema.NullOr(Schema.Int)
})
export type CanonicalSignal = typeof CanonicalSignal.Type

// ---------------------------------------------------------------------------------------------
// Field aliases (normalised keys: lowercase, no separators)
// ---------------------------------------------------------------------------------------------

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

type FieldName = keyof typeof ALIASES

/** Containers some templates nest their trade settings in (the seed's `trade_settings`). */
const SETTINGS_CONTAINERS = ["tradesettings", "settings", "webhooksettings"]

/** Short field names whose meaning differs between bots (percent or price?): refused with a hint. */
const AMBIGUOUS: Readonly<Record<string, string>> = {
  sl: "is ambiguous (a price or a percentage?); send stop_loss as a price",
  tp: "is ambiguous (a price or a percentage?); send take_profit as a price"
}

// ---------------------------------------------------------------------------------------------
// Decimals: exact, bounded, no exponent tricks
// ---------------------------------------------------------------------------------------------

export const MAX_INTEGER_DIGITS = 20
export const MAX_FRACTION_DIGITS = 18
const MAX_DECIMAL_TEXT = 64
const MAX_EXPONENT = 30

const PLACEHOLDER = /\{\{[^}]*\}\}/

/** The first unsubstituted `{{placeholder}}` of a text, if any. */
export const placeholderIn = (s: string): string | undefined => PLACEHOLDER.exec(s)?.[0]

const placeholderProblem = (p: string) =>
  `contains the unsubstituted TradingView placeholder ${p}: TradingView leaves a placeholder as text when it is misspelled or not available for this alert type (check the alert message)`

type Parse<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly problem: string }
const ok = <A>(value: A): Parse<A> => ({ ok: true, value })
const bad = <A>(problem: string): Parse<A> => ({ ok: false, problem })

const show = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 37)}...` : s)

/** Text of a scalar field value (string, or a JSON number's exact source); undefined for others. */
const scalarText = (v: unknown): string | undefined => {
  if (typeof v === "string") return v.trim()
  const source = jsonNumberSource(v)
  if (source !== undefined) return source
  if (typeof v === "number" && Number.isFinite(v)) return String(v)
  return undefined
}

const DECIMAL = /^\+?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/

/** A positive decimal from a string or JSON number: exact, bounded, no NaN/Infinity/huge exponents. */
export const parsePositiveDecimal = (v: unknown): Parse<BigDecimal.BigDecimal> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be a decimal number such as "0.01" (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  if (text.length > MAX_DECIMAL_TEXT) return bad(`is too long to be a decimal number (${text.length} characters)`)
  if (text.startsWith("-")) return bad(`must be greater than 0 (got ${show(text)})`)
  const m = DECIMAL.exec(text)
  if (m === null) return bad(`${show(text)} is not a decimal number (write it like "0.01")`)
  const intPart = m[1] ?? ""
  const fracPart = m[2] ?? m[3] ?? ""
  const exponent = m[4] === undefined ? 0 : Number(m[4])
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > MAX_EXPONENT) {
    return bad(`${show(text)} has an exponent out of range`)
  }
  const d = BigDecimal.normalize(BigDecimal.make(BigInt(`${intPart}${fracPart}` || "0"), fracPart.length - exponent))
  if (BigDecimal.isZero(d)) return bad(`must be greater than 0 (got ${show(text)})`)
  const integerDigits = d.scale >= 0 ? Math.max(0, d.value.toString().length - d.scale) : d.value.toString().length - d.scale
  if (integerDigits > MAX_INTEGER_DIGITS) return bad(`${show(text)} is too large`)
  if (d.scale > MAX_FRACTION_DIGITS) return bad(`${show(text)} has more than ${MAX_FRACTION_DIGITS} decimal places`)
  return ok(d)
}

const describe = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : typeof v

// ---------------------------------------------------------------------------------------------
// Symbols
// ---------------------------------------------------------------------------------------------

/** Quote currencies of BingX perpetual swaps. */
export const QUOTES = ["USDT", "USDC"] as const
const OTHER_QUOTES = ["BUSD", "FDUSD", "TUSD", "USD", "EUR", "BTC", "ETH"]
/** Stablecoin quotes: a base that ends in one of them is itself a pair, not a coin. */
const STABLE_QUOTES = ["USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD"]
/** Other venues' names for a coin BingX lists under another ticker (BitMEX, Kraken, KuCoin: XBT). */
const BASE_ALIASES: Readonly<Record<string, string>> = { XBT: "BTC" }

/**
 * Perpetual markers after the pair: TradingView `.P` (most venues) and `.PS` (BingX's own perpetual
 * swaps, `BINGX:BTCUSDT.PS`), `PERP` / `.PERP` / `-PERP` / `_PERP` (Binance, FTX), `-SWAP` / `.SWAP` /
 * `_SWAP` (OKX), Bitget's `_UMCBL` (USDT-margined perpetual).
 */
const PERPETUAL_SUFFIX = /(?:[.\-_ ]?(?:PERP|SWAP)|\.PS?|_UMCBL)$/
/** KuCoin futures: `XBTUSDTM`, `ETHUSDCM` (the quote, then M). */
const KUCOIN_SUFFIX = /^([A-Z0-9]+)(USDT|USDC)M$/

/**
 * Any venue's or signal service's spelling of a BingX perpetual → `BASE-QUOTE`:
 * `BINGX:BTCUSDT.PS`, `BTCUSDT.PS`, `BINANCE:BTCUSDT.P`, `btc/usdt`, `BTC_USDT`, `USDT_BTC` (3Commas,
 * quote first), `USDT_BTCUSDT` (3Commas futures), `BTC-USDT-SWAP`, `BTCUSDTPERP`, `BTCUSDT_PERP`,
 * `BTC/USDT:USDT` (ccxt), `XBTUSDTM` (KuCoin), `BTCUSDT_UMCBL` (Bitget), `1000PEPEUSDT`, `BTC-PERP`
 * → `BTC-USDT`, `1000PEPE-USDT`… A pair whose quote is not USDT/USDC (`BTCUSD`, `ETHBTC`,
 * `BTC-PERPETUAL`) or that could be read two ways is refused, never guessed.
 */
export const normaliseSymbol = (input: string): Parse<string> => {
  const original = input.trim()
  if (original.length === 0) return bad("is empty")
  const placeholder = placeholderIn(original)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  if (original.length > 64) return bad("is too long for a symbol")
  let s = original.toUpperCase()
  // ccxt unified form BASE/QUOTE:SETTLE keeps the part before ':'; otherwise drop an EXCHANGE: prefix.
  const colon = s.lastIndexOf(":")
  if (colon !== -1) s = s.slice(0, colon).includes("/") ? s.slice(0, colon) : s.slice(colon + 1)
  let perpetual = false
  const stripped = s.replace(PERPETUAL_SUFFIX, "")
  if (stripped !== s) {
    perpetual = true
    s = stripped
  }
  const parts = s.split(/[-_/ ]+/).filter((p) => p.length > 0)
  const invalid = () =>
    bad<string>(
      `${show(original)} is not a symbol we can trade: BingX perpetuals are BASE-USDT or BASE-USDC (send e.g. "BTCUSDT", "BTC-USDT", "BINGX:BTCUSDT.PS" or "BINANCE:BTCUSDT.P")`
    )
  const isQuote = (p: string): p is typeof QUOTES[number] => (QUOTES as ReadonlyArray<string>).includes(p)
  const endsInStable = (p: string) => STABLE_QUOTES.some((q) => p.endsWith(q) && p.length > q.length)
  let base: string
  let quote: string
  if (parts.length === 2) {
    const [first, second] = [parts[0]!, parts[1]!]
    if (!isQuote(second) && isQuote(first)) {
      // 3Commas writes the quote first: USDT_BTC, and USDT_BTCUSDT for futures.
      base = second.endsWith(first) && second.length > first.length ? second.slice(0, second.length - first.length) : second
      quote = first
      if (endsInStable(base)) return invalid()
    } else {
      base = first
      quote = second
    }
  } else if (parts.length === 1) {
    const compact = parts[0]!
    const q = QUOTES.find((q) => compact.endsWith(q) && compact.length > q.length)
    const kucoin = perpetual ? undefined : KUCOIN_SUFFIX.exec(compact)
    if (q !== undefined) {
      base = compact.slice(0, compact.length - q.length)
      quote = q
    } else if (kucoin !== null && kucoin !== undefined) {
      base = kucoin[1]!
      quote = kucoin[2]!
    } else if (perpetual && OTHER_QUOTES.every((o) => !compact.endsWith(o) || compact.length === o.length)) {
      // BTC-PERP / BTCPERP: a perpetual without a quote is the USDT-margined one on BingX.
      base = compact
      quote = "USDT"
    } else {
      return invalid()
    }
  } else {
    return invalid()
  }
  base = BASE_ALIASES[base] ?? base
  if (!isQuote(quote) || base === quote) return invalid()
  if (!/^[A-Z0-9]{1,20}$/.test(base)) return invalid()
  return ok(`${base}-${quote}`)
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

/** What an action word says, before position hints are applied. */
export type ActionIntent =
  | { readonly kind: "position"; readonly action: Action; readonly side: PositionSide; readonly reduceOnly: boolean }
  | { readonly kind: "plain"; readonly action: Action }
  | { readonly kind: "close"; readonly side: PositionSide | undefined }

const VOCABULARY = ["ENTRY", "ENTER", "SHORT", "CLOSE", "COVER", "LONG", "SELL", "OPEN", "EXIT", "BUY", "TO"]

const tokenise = (compact: string): Array<string> | undefined => {
  const out: Array<string> = []
  let rest = compact
  while (rest.length > 0) {
    const word = VOCABULARY.find((w) => rest.startsWith(w))
    if (word === undefined) return undefined
    out.push(word)
    rest = rest.slice(word.length)
  }
  return out
}

const OPENING = new Set(["OPEN", "ENTER", "ENTRY"])
const CLOSING = new Set(["CLOSE", "EXIT"])

const open = (side: PositionSide): ActionIntent => ({
  kind: "position",
  action: side === "long" ? "buy" : "sell",
  side,
  reduceOnly: false
})
const close = (side: PositionSide): ActionIntent => ({
  kind: "position",
  action: side === "long" ? "sell" : "buy",
  side,
  reduceOnly: true
})

/** Meaning of one side word with one verb (e.g. LONG + SELL = close long). */
const withSide = (side: PositionSide, verb: string): ActionIntent | undefined => {
  if (OPENING.has(verb)) return open(side)
  if (CLOSING.has(verb)) return close(side)
  if (verb === "COVER") return side === "short" ? close("short") : undefined
  if (verb === "BUY") return side === "long" ? open("long") : close("short")
  if (verb === "SELL") return side === "short" ? open("short") : close("long")
  return undefined
}

const sameIntent = (a: ActionIntent, b: ActionIntent) => JSON.stringify(a) === JSON.stringify(b)

export const ACTION_HELP =
  "use buy, sell, long, short, close_long, close_short, LONG_BUY, LONG_SELL, SHORT_SELL, SHORT_BUY, close/exit with market_position, or TradingView's {{strategy.order.action}}"

/**
 * Any case and separator: `buy`, `SELL`, `long`, `Short`, `LONG_BUY`, `long-sell`, `SHORT SELL`,
 * `shortBuy`, `close`, `exit_long`, `CloseShort`, `open_long`, `sell_to_close`, `cover`…
 */
export const parseAction = (input: string): Parse<ActionIntent> => {
  const text = input.trim()
  if (text.length === 0) return bad(`is empty; ${ACTION_HELP}`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  const compact = text.toUpperCase().replace(/[^A-Z]/g, "")
  const tokens = text.length <= 40 ? tokenise(compact)?.filter((t) => t !== "TO") : undefined
  const unknown = () => bad<ActionIntent>(`${show(text)} is not an action we know; ${ACTION_HELP}`)
  if (tokens === undefined || tokens.length === 0 || tokens.length > 3) return unknown()
  const sides = [...new Set(tokens.filter((t) => t === "LONG" || t === "SHORT"))]
  const verbs = [...new Set(tokens.filter((t) => t !== "LONG" && t !== "SHORT"))]
  if (sides.length > 1) return bad(`${show(text)} names both long and short; ${ACTION_HELP}`)
  const side = sides[0] === undefined ? undefined : (sides[0].toLowerCase() as PositionSide)
  if (side !== undefined) {
    if (verbs.length === 0) return ok(open(side))
    const readings = verbs.map((v) => withSide(side, v))
    const first = readings[0]
    if (first === undefined || readings.some((r) => r === undefined || !sameIntent(r, first))) return unknown()
    return ok(first)
  }
  if (verbs.length === 1) {
    const verb = verbs[0]!
    if (verb === "BUY") return ok({ kind: "plain", action: "buy" })
    if (verb === "SELL") return ok({ kind: "plain", action: "sell" })
    if (CLOSING.has(verb)) return ok({ kind: "close", side: undefined })
    if (verb === "COVER") return ok(close("short"))
    return bad(`${show(text)} does not say which side to open; use open_long/open_short (or long/short)`)
  }
  if (verbs.length === 2) {
    // BUY_TO_OPEN, SELL_TO_CLOSE…: a direction and an open/close verb.
    const direction = verbs.find((v) => v === "BUY" || v === "SELL")
    const other = verbs.find((v) => v !== direction)
    if (direction !== undefined && other !== undefined) {
      if (OPENING.has(other)) return ok(open(direction === "BUY" ? "long" : "short"))
      if (CLOSING.has(other)) return ok(close(direction === "BUY" ? "short" : "long"))
    }
  }
  return unknown()
}

export const parseMarketPosition = (input: string): Parse<MarketPosition> => {
  const placeholder = placeholderIn(input)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  switch (input.trim().toLowerCase()) {
    case "long":
    case "bullish":
      return ok("long")
    case "short":
    case "bearish":
      return ok("short")
    case "flat":
    case "neutral":
    case "none":
      return ok("flat")
    default:
      return bad(`${show(input)} must be long, short or flat`)
  }
}

export interface PositionHints {
  /** Explicit `position_side` (`both` = one-way → undefined). */
  readonly positionSide: PositionSide | undefined
  /** Position after the order (`{{strategy.market_position}}` / sentiment). */
  readonly marketPosition: MarketPosition | undefined
  /** Position before the order (`{{strategy.prev_market_position}}`). */
  readonly prevMarketPosition: MarketPosition | undefined
  /** Explicit `reduce_only` for plain one-way orders. */
  readonly reduceOnly: boolean | undefined
}

export interface ResolvedAction {
  readonly action: Action
  readonly positionSide: PositionSide | null
  readonly reduceOnly: boolean
}

/**
 * Applies the position hints to an action word. A reversal (buy from short to long, sell from
 * long to short) stays a one-way order (position_side null): one order flips the position.
 */
export const resolveAction = (intent: ActionIntent, hints: PositionHints): Parse<ResolvedAction> => {
  const fromIntent = (i: Extract<ActionIntent, { kind: "position" }>): ResolvedAction => ({
    action: i.action,
    positionSide: i.side,
    reduceOnly: i.reduceOnly
  })
  switch (intent.kind) {
    case "position": {
      if (hints.positionSide !== undefined && hints.positionSide !== intent.side) {
        return bad(`position_side ${hints.positionSide} contradicts the action (${intent.side} ${intent.action})`)
      }
      if (hints.reduceOnly !== undefined && hints.reduceOnly !== intent.reduceOnly) {
        return bad(`reduce_only ${hints.reduceOnly} contradicts the action (${intent.reduceOnly ? "a close" : "an open"})`)
      }
      return ok(fromIntent(intent))
    }
    case "close": {
      const side = intent.side ?? hints.positionSide ??
        (hints.marketPosition === "long" || hints.marketPosition === "short"
          ? hints.marketPosition
          : hints.prevMarketPosition === "long" || hints.prevMarketPosition === "short"
          ? hints.prevMarketPosition
          : undefined)
      if (side === undefined) {
        return bad(
          "close/exit without a side: cannot tell which position to close; send close_long or close_short, or add market_position/prev_market_position ({{strategy.prev_market_position}})"
        )
      }
      return ok(fromIntent(close(side) as Extract<ActionIntent, { kind: "position" }>))
    }
    case "plain": {
      const { action } = intent
      if (hints.positionSide !== undefined) {
        const side = hints.positionSide
        const opening = (action === "buy") === (side === "long")
        return ok({ action, positionSide: side, reduceOnly: !opening })
      }
      const after = hints.marketPosition
      if (after !== undefined) {
        const before = hints.prevMarketPosition
        const reversal = (action === "buy" && after === "long" && before === "short") ||
          (action === "sell" && after === "short" && before === "long")
        if (reversal) return ok({ action, positionSide: null, reduceOnly: false })
        if (action === "buy") {
          return ok(after === "long" ? { action, positionSide: "long", reduceOnly: false } : { action, positionSide: "short", reduceOnly: true })
        }
        return ok(after === "short" ? { action, positionSide: "short", reduceOnly: false } : { action, positionSide: "long", reduceOnly: true })
      }
      return ok({ action, positionSide: null, reduceOnly: hints.reduceOnly ?? false })
    }
  }
}

/** The seed's `actions` list: strings split on `,` `;` `|` newlines or spaces, nested lists flattened, deduplicated in order. */
export const flattenActions = (raw: unknown): Parse<ReadonlyArray<string>> => {
  const out: Array<string> = []
  const visit = (v: unknown, depth: number): string | undefined => {
    if (depth > 3) return "nests too deeply"
    if (typeof v === "string") {
      for (const part of v.split(/[,;|\r\n\s]+/)) if (part.trim().length > 0) out.push(part.trim())
      return undefined
    }
    if (Array.isArray(v)) {
      for (const x of v) {
        const problem = visit(x, depth + 1)
        if (problem !== undefined) return problem
      }
      return undefined
    }
    if (v === null) return undefined
    return `must be a list of action names (got ${describe(v)} inside it)`
  }
  const problem = visit(raw, 0)
  if (problem !== undefined) return bad(problem)
  const seen = new Set<string>()
  const unique = out.filter((a) => {
    const k = a.toUpperCase().replace(/[^A-Z]/g, "")
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
  return ok(unique)
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

const MIN_TIME = Date.UTC(2000, 0, 1)
const MAX_TIME = Date.UTC(2100, 0, 1)

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i

/**
 * `{{timenow}}`/`{{time}}` (`2019-08-27T09:56:00Z`), other ISO-8601 forms (offset, fraction, space;
 * no zone = UTC), epoch seconds (10 digits, optionally with a fraction) or milliseconds (13 digits).
 */
export const parseTimestamp = (v: unknown): Parse<number> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be a time such as "2026-01-01T12:00:00Z" or epoch seconds (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  let ms: number
  const epoch = /^(\d{9,14})(?:\.(\d{1,9}))?$/.exec(text)
  if (epoch !== null) {
    const whole = epoch[1]!
    if (whole.length <= 11) ms = Number(whole) * 1000 + Math.floor(Number(`0.${epoch[2] ?? "0"}`) * 1000)
    else if (epoch[2] === undefined) ms = Number(whole)
    else return bad(`${show(text)} is not a time (milliseconds with a fraction)`)
  } else {
    const m = ISO.exec(text)
    if (m === null) return bad(`${show(text)} is not a time; send {{timenow}}, an ISO-8601 time or epoch seconds`)
    const [, y, mo, d, h, mi, s, frac, zone] = m
    const fraction = (frac ?? "").padEnd(3, "0").slice(0, 3)
    const z = zone === undefined || zone.toUpperCase() === "Z"
      ? "Z"
      : zone.length === 3
      ? `${zone}:00`
      : zone.includes(":")
      ? zone
      : `${zone.slice(0, 3)}:${zone.slice(3)}`
    const iso = `${y}-${mo}-${d}T${h}:${mi}:${s ?? "00"}.${fraction}${z}`
    ms = Date.parse(iso)
    // Date.parse rolls 2026-02-31 over to March: reject dates that do not exist.
    const check = new Date(Date.parse(`${y}-${mo}-${d}T00:00:00Z`))
    if (
      !Number.isFinite(ms) || Number.isNaN(check.getTime()) || check.getUTCDate() !== Number(d) ||
      Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59
    ) {
      return bad(`${show(text)} is not a valid time`)
    }
  }
  if (!Number.isFinite(ms) || ms < MIN_TIME || ms > MAX_TIME) return bad(`${show(text)} is not a plausible time (years 2000-2100)`)
  return ok(ms)
}

// ---------------------------------------------------------------------------------------------
// Decoding a body into canonical signals
// ---------------------------------------------------------------------------------------------

export interface DecodeContext {
  /** Now (epoch ms) — the received time. */
  readonly now: number
  /** Leverage used for margin sizing when the alert names none (the bot settings). */
  readonly defaultLeverage: number
  /** SIGNAL_MAX_AGE_SECONDS: older alerts are stored but expired. */
  readonly maxAgeSeconds: number
  /** Tolerated clock skew for alert times in the future. */
  readonly maxFutureSkewSeconds: number
}

export const MAX_FUTURE_SKEW_SECONDS = 30

/** Why a stale alert's order is expired (with a hint when the time was probably the bar's open time). */
export const staleReason = (ageSeconds: number, maxAgeSeconds: number, timestampField: string | undefined): string =>
  `signal is ${Math.round(ageSeconds)} s old (older than SIGNAL_MAX_AGE_SECONDS=${maxAgeSeconds}); never executed` +
  (timestampField !== undefined && normaliseKey(timestampField) === "time"
    ? ` — "${timestampField}" looks like {{time}}, the bar's OPEN time; send {{timenow}} (the alert's fire time)`
    : "")
export const MAX_ACTIONS = 10
export const MAX_ID_LENGTH = 128

export interface DecodedSignals {
  readonly signals: ReadonlyArray<CanonicalSignal>
  /** How old the alert is by its own timestamp (seconds), when it had one. */
  readonly ageSeconds: number | undefined
  /** Older than SIGNAL_MAX_AGE_SECONDS: stored, but its orders are expired. */
  readonly stale: boolean
  /** The alert used an `actions` list (one signal per entry). */
  readonly list: boolean
  /** The field the alert time came from, as sent (`timestamp`, `timenow`, `time`…). */
  readonly timestampField: string | undefined
}

export type DecodeResult =
  | { readonly ok: true; readonly value: DecodedSignals }
  | { readonly ok: false; readonly problems: ReadonlyArray<FieldProblem> }

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex")

/** Looks a field up by its aliases: top level first, then the seed's nested settings containers. */
const lookup = (body: ParsedBody, field: FieldName): { readonly name: string; readonly value: unknown } | undefined => {
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

const parseBool = (v: unknown): Parse<boolean> => {
  if (typeof v === "boolean") return ok(v)
  const text = scalarText(v)?.toLowerCase()
  if (text === "true" || text === "1" || text === "yes" || text === "on") return ok(true)
  if (text === "false" || text === "0" || text === "no" || text === "off") return ok(false)
  return bad("must be true or false")
}

const parseLeverage = (v: unknown): Parse<number> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be a whole number from 1 to 125 (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  const m = /^[xX]?(\d{1,4})(?:\.0+)?[xX]?$/.exec(text)
  const n = m === null ? NaN : Number(m[1])
  if (!Number.isInteger(n) || n < 1 || n > 125) return bad(`${show(text)} must be a whole number from 1 to 125`)
  return ok(n)
}

const parseMarginMode = (v: unknown): Parse<MarginMode> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be isolated or cross (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  const l = text.toLowerCase()
  if (l === "isolated" || l === "isolate") return ok("isolated")
  if (l === "cross" || l === "crossed") return ok("cross")
  return bad(`${show(text)} must be isolated or cross`)
}

const parseText = (v: unknown, what: string): Parse<string> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be ${what} (got ${describe(v)})`)
  return ok(text)
}

const parsePositionSide = (v: unknown): Parse<PositionSide | undefined> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be long, short or both (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  const l = text.toLowerCase()
  if (l === "long" || l === "short") return ok(l)
  if (l === "both" || l === "oneway" || l === "one_way") return ok(undefined)
  return bad(`${show(text)} must be long, short or both`)
}

/**
 * Decodes a parsed webhook body into one canonical signal (or one per entry of `actions`).
 * Collects every field problem; the caller answers 422 with all of them.
 */
export const decodeSignals = (body: ParsedBody, context: DecodeContext): DecodeResult => {
  const problems: Array<FieldProblem> = []
  const field = <A>(name: FieldName, parse: (v: unknown) => Parse<A>): A | undefined => {
    const found = lookup(body, name)
    if (found === undefined) return undefined
    const result = parse(found.value)
    if (result.ok) return result.value
    problems.push({ field: found.name, problem: result.problem })
    return undefined
  }

  for (const [key, problem] of Object.entries(AMBIGUOUS)) {
    if (body.fields.has(key)) problems.push({ field: body.names.get(key) ?? key, problem })
  }

  // symbol
  const symbolField = lookup(body, "symbol")
  let symbol: string | undefined
  if (symbolField === undefined) {
    problems.push({ field: "symbol", problem: "is missing; send symbol (or ticker), e.g. \"symbol\": \"{{ticker}}\"" })
  } else {
    const text = parseText(symbolField.value, "a symbol such as \"BTCUSDT\"")
    const parsed = text.ok ? normaliseSymbol(text.value) : text
    if (parsed.ok) symbol = parsed.value
    else problems.push({ field: symbolField.name, problem: parsed.problem })
  }

  // action(s)
  const words: Array<{ field: string; text: string }> = []
  const actionsField = lookup(body, "actions")
  if (actionsField !== undefined) {
    const list = flattenActions(actionsField.value)
    if (!list.ok) problems.push({ field: "actions", problem: list.problem })
    else if (list.value.length === 0) problems.push({ field: "actions", problem: `is empty; ${ACTION_HELP}` })
    else if (list.value.length > MAX_ACTIONS) {
      problems.push({ field: "actions", problem: `has ${list.value.length} actions; at most ${MAX_ACTIONS} per alert` })
    } else list.value.forEach((text, i) => words.push({ field: `actions[${i}]`, text }))
  } else {
    const actionField = lookup(body, "action")
    if (actionField === undefined) {
      problems.push({ field: "action", problem: `is missing; ${ACTION_HELP}` })
    } else {
      const text = parseText(actionField.value, "an action name such as \"buy\"")
      if (text.ok) words.push({ field: actionField.name, text: text.value })
      else problems.push({ field: actionField.name, problem: text.problem })
    }
  }

  const hints: PositionHints = {
    positionSide: field("positionSide", parsePositionSide),
    marketPosition: field("marketPosition", (v) => {
      const t = parseText(v, "long, short or flat")
      return t.ok ? parseMarketPosition(t.value) : t
    }),
    prevMarketPosition: field("prevMarketPosition", (v) => {
      const t = parseText(v, "long, short or flat")
      return t.ok ? parseMarketPosition(t.value) : t
    }),
    reduceOnly: field("reduceOnly", parseBool)
  }
  const resolved: Array<ResolvedAction> = []
  for (const word of words) {
    const intent = parseAction(word.text)
    const r = intent.ok ? resolveAction(intent.value, hints) : intent
    if (r.ok) resolved.push(r.value)
    else problems.push({ field: word.field, problem: r.problem })
  }

  // amounts and prices
  const quantityGiven = field("quantity", parsePositiveDecimal)
  const quantityField = lookup(body, "quantity")
  const marginUsdt = field("marginUsdt", parsePositiveDecimal)
  const price = field("price", parsePositiveDecimal)
  const leverage = field("leverage", parseLeverage)
  const marginMode = field("marginMode", parseMarginMode)
  const stopLoss = field("stopLoss", parsePositiveDecimal)
  const takeProfit = field("takeProfit", parsePositiveDecimal)
  const timestamp = field("timestamp", parseTimestamp)

  let quantity: BigDecimal.BigDecimal | undefined = quantityGiven
  let sizedWithLeverage: number | null = null
  if (quantityField === undefined) {
    if (marginUsdt === undefined) {
      if (lookup(body, "marginUsdt") === undefined) {
        problems.push({
          field: "quantity",
          problem: "is missing; send quantity (or qty/contracts, e.g. \"{{strategy.order.contracts}}\") or margin_usdt to size from"
        })
      }
    } else if (price !== undefined) {
      const lev = leverage ?? context.defaultLeverage
      // The order plan's sizing, against the alert's price (planning re-rounds to the contract).
      const sized = quantityFor({ quantity: null, marginUsdt }, lev, price)
      if ("problem" in sized) {
        problems.push({ field: lookup(body, "marginUsdt")!.name, problem: sized.problem.problem })
      } else {
        quantity = sized.quantity
        sizedWithLeverage = lev
      }
    }
  }

  // explicit id (idempotency)
  const id = field("id", (v) => {
    const t = parseText(v, "a string")
    if (!t.ok) return t
    if (t.value.length > MAX_ID_LENGTH) return bad<string>(`is longer than ${MAX_ID_LENGTH} characters`)
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(t.value) || !t.value.isWellFormed()) {
      return bad<string>("contains control characters or invalid Unicode; send a printable id")
    }
    const placeholder = placeholderIn(t.value)
    return placeholder === undefined ? t : bad<string>(placeholderProblem(placeholder))
  })

  // time: future beyond skew is refused; older than the max age is stale
  let ageSeconds: number | undefined
  if (timestamp !== undefined) {
    const ahead = (timestamp - context.now) / 1000
    if (ahead > context.maxFutureSkewSeconds) {
      problems.push({
        field: lookup(body, "timestamp")!.name,
        problem: `is ${Math.round(ahead)} s in the future (more than the ${context.maxFutureSkewSeconds} s allowed clock skew); send {{timenow}} and check the sender's clock`
      })
    }
    ageSeconds = Math.max(0, (context.now - timestamp) / 1000)
  }

  // stop-loss / take-profit on the right side of a known price, for opening orders: the order
  // plan's check, against the alert's price (planning checks again against the live price)
  const entry = resolved.find((r) => !closes(r))
  if (price !== undefined && entry !== undefined) {
    for (const p of protectionProblems(entry.action, { stopLoss, takeProfit }, price)) {
      problems.push({ field: lookup(body, p.field === "stop_loss" ? "stopLoss" : "takeProfit")!.name, problem: p.problem })
    }
  }

  if (problems.length > 0 || symbol === undefined || resolved.length !== words.length) {
    return { ok: false, problems: dedupeProblems(problems) }
  }

  // Idempotency key: the explicit id (scoped by the alert time when there is one: a template's
  // {{strategy.order.id}} such as "Long" repeats), else a hash of the normalised fields and the
  // alert time — or the received minute when the alert has no time.
  const common = {
    symbol,
    quantity: quantity === undefined ? null : plain(quantity),
    marginUsdt: marginUsdt === undefined ? null : plain(marginUsdt),
    price: price === undefined ? null : plain(price),
    leverage: leverage ?? null,
    marginMode: marginMode ?? null,
    stopLoss: stopLoss === undefined ? null : plain(stopLoss),
    takeProfit: takeProfit === undefined ? null : plain(takeProfit)
  }
  const timePart = timestamp !== undefined ? new Date(timestamp).toISOString() : `received-minute:${Math.floor(context.now / 60_000)}`
  const baseKey = id !== undefined
    ? `id:${id}${timestamp !== undefined ? `@${new Date(timestamp).toISOString()}` : ""}`
    : `h:${sha256(JSON.stringify([common, resolved, timePart]))}`
  const list = actionsField !== undefined

  const signals = resolved.map((r, i): CanonicalSignal => ({
    symbol,
    action: r.action,
    positionSide: r.positionSide,
    reduceOnly: r.reduceOnly,
    quantity: quantity ?? null,
    marginUsdt: marginUsdt ?? null,
    price: price ?? null,
    leverage: leverage ?? null,
    marginMode: marginMode ?? null,
    stopLoss: stopLoss ?? null,
    takeProfit: takeProfit ?? null,
    timestamp: timestamp ?? null,
    idempotencyKey: list ? `${baseKey}:${i}` : baseKey,
    sizedWithLeverage
  }))
  return {
    ok: true,
    value: {
      signals,
      ageSeconds,
      stale: ageSeconds !== undefined && ageSeconds > context.maxAgeSeconds,
      list,
      timestampField: lookup(body, "timestamp")?.name
    }
  }
}

const dedupeProblems = (problems: ReadonlyArray<FieldProblem>): ReadonlyArray<FieldProblem> => {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const k = `${p.field}\u0000${p.problem}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
