/**
 * TradingView alert → canonical signal: the decoder (pure: no I/O, the clock is a parameter).
 *
 * Canonical signal: `symbol` in BingX form (`BTC-USDT`), `action` buy|sell (the order side),
 * `position_side` long|short|null (null = one-way semantics, the actor sends BOTH), `reduce_only`,
 * `quantity` (decimal) or a USDT margin to size from, optional `price`, `leverage`, `margin_mode`,
 * `stop_loss`, `take_profit`, and the alert's own `timestamp`.
 *
 * Invariants: every problem with a field is collected (`{field, problem}`, deduplicated), so one
 * 422 names them all; a body with any problem yields no signal. The idempotency key depends only on
 * the normalised fields and the alert time (or the received minute when it has none), so a resent
 * alert maps to the same key; one alert with an `actions` list yields one signal per entry, keyed
 * `<key>:<index>`. Sizing from margin and the stop-loss/take-profit side checks are the order plan's
 * own rules, applied to the alert's price.
 */
import { BigDecimal, Schema } from "effect"
import { createHash } from "node:crypto"
import {
  ACTION_HELP,
  flattenActions,
  parseAction,
  parseMarketPosition,
  type PositionHints,
  resolveAction,
  type ResolvedAction
} from "./actions.ts"
import { AMBIGUOUS, type FieldName, lookup } from "./alertFields.ts"
import {
  bad,
  type Parse,
  parseBool,
  parseLeverage,
  parseMarginMode,
  parsePositionSide,
  parsePositiveDecimal,
  parseText,
  parseTimestamp,
  placeholderIn,
  placeholderProblem
} from "./alertValues.ts"
import { plain } from "./decimal.ts"
import { closes, protectionProblems, quantityFor } from "./orderPlan.ts"
import { normaliseSymbol } from "./symbols.ts"
import { Action, type FieldProblem, MarginMode, SignalPositionSide } from "./vocabulary.ts"
import { normaliseKey, type ParsedBody } from "./webhookBody.ts"


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
