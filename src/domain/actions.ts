/**
 * Action words and position hints → the order side, position side and reduce-only flag (pure).
 *
 *   LONG_BUY  = buy  / long  open      LONG_SELL  = sell / long  close (reduce only)
 *   SHORT_SELL = sell / short open     SHORT_BUY  = buy  / short close (reduce only)
 *
 * Invariants: an action word is read in any case and with any separators, and is refused when it
 * could mean two things (both sides, a side with contradicting verbs, an open without a side). A
 * hint (`position_side`, `reduce_only`, `market_position`) that contradicts the word is a problem,
 * not an override. A close without a side is refused unless a hint names the position. A reversal
 * stays one one-way order (position side null).
 */
import { bad, describe, ok, type Parse, placeholderIn, placeholderProblem, show } from "./alertValues.ts"
import type { Action, MarketPosition, PositionSide } from "./vocabulary.ts"

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

/** An alert's `actions` list (several orders from one alert): strings split on `,` `;` `|` newlines or spaces, nested lists flattened, deduplicated in order. */
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
