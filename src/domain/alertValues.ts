/**
 * One alert field's value → a typed value, or the problem a 422 names (pure: no I/O).
 *
 * Invariants: every parser answers a `Parse` (the value, or one problem sentence that says what
 * was expected and what came); none throws and none defaults a malformed value. A value still
 * holding an unsubstituted TradingView `{{placeholder}}` is always refused with that name. Decimals
 * are exact (BigDecimal built from the text, or from a JSON number's exact source — never through a
 * float), positive, at most 20 integer and 18 fraction digits, with no huge exponents. Times are
 * epoch milliseconds between the years 2000 and 2100.
 */
import { BigDecimal } from "effect"
import type { MarginMode, PositionSide } from "./vocabulary.ts"
import { jsonNumberSource } from "./webhookBody.ts"

// ---------------------------------------------------------------------------------------------
// The parse result and the pieces of every problem sentence
// ---------------------------------------------------------------------------------------------

export type Parse<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly problem: string }
export const ok = <A>(value: A): Parse<A> => ({ ok: true, value })
export const bad = <A>(problem: string): Parse<A> => ({ ok: false, problem })

/** A value as quoted in a problem (long ones cut to 40 characters). */
export const show = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 37)}...` : s)

/** What kind of JSON value came, for "got …" in a problem. */
export const describe = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : typeof v

const PLACEHOLDER = /\{\{[^}]*\}\}/

/** The first unsubstituted `{{placeholder}}` of a text, if any. */
export const placeholderIn = (s: string): string | undefined => PLACEHOLDER.exec(s)?.[0]

export const placeholderProblem = (p: string) =>
  `contains the unsubstituted TradingView placeholder ${p}: TradingView leaves a placeholder as text when it is misspelled or not available for this alert type (check the alert message)`

/** Text of a scalar field value (string, or a JSON number's exact source); undefined for others. */
export const scalarText = (v: unknown): string | undefined => {
  if (typeof v === "string") return v.trim()
  const source = jsonNumberSource(v)
  if (source !== undefined) return source
  if (typeof v === "number" && Number.isFinite(v)) return String(v)
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Decimals: exact, bounded, no exponent tricks
// ---------------------------------------------------------------------------------------------

export const MAX_INTEGER_DIGITS = 20
export const MAX_FRACTION_DIGITS = 18
const MAX_DECIMAL_TEXT = 64
const MAX_EXPONENT = 30

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
// Flags, leverage, margin mode, position side, text
// ---------------------------------------------------------------------------------------------

export const parseBool = (v: unknown): Parse<boolean> => {
  if (typeof v === "boolean") return ok(v)
  const text = scalarText(v)?.toLowerCase()
  if (text === "true" || text === "1" || text === "yes" || text === "on") return ok(true)
  if (text === "false" || text === "0" || text === "no" || text === "off") return ok(false)
  return bad("must be true or false")
}

export const parseLeverage = (v: unknown): Parse<number> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be a whole number from 1 to 125 (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  const m = /^[xX]?(\d{1,4})(?:\.0+)?[xX]?$/.exec(text)
  const n = m === null ? NaN : Number(m[1])
  if (!Number.isInteger(n) || n < 1 || n > 125) return bad(`${show(text)} must be a whole number from 1 to 125`)
  return ok(n)
}

export const parseMarginMode = (v: unknown): Parse<MarginMode> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be isolated or cross (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  const l = text.toLowerCase()
  if (l === "isolated" || l === "isolate") return ok("isolated")
  if (l === "cross" || l === "crossed") return ok("cross")
  return bad(`${show(text)} must be isolated or cross`)
}

export const parseText = (v: unknown, what: string): Parse<string> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be ${what} (got ${describe(v)})`)
  return ok(text)
}

export const parsePositionSide = (v: unknown): Parse<PositionSide | undefined> => {
  const text = scalarText(v)
  if (text === undefined) return bad(`must be long, short or both (got ${describe(v)})`)
  const placeholder = placeholderIn(text)
  if (placeholder !== undefined) return bad(placeholderProblem(placeholder))
  const l = text.toLowerCase()
  if (l === "long" || l === "short") return ok(l)
  if (l === "both" || l === "oneway" || l === "one_way") return ok(undefined)
  return bad(`${show(text)} must be long, short or both`)
}
