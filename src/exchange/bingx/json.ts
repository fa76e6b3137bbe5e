/**
 * A 64-bit-safe JSON reader for BingX responses.
 *
 * BingX writes order ids like 1736011869418901234 as bare JSON numbers, which `JSON.parse` rounds
 * to 1736011869418901200. Here every number token is turned into a string holding its exact text
 * before parsing, so ids stay exact and prices/quantities can become `BigDecimal` without passing
 * through a float. Answers are then decoded with the Schemas of `wire.ts` (which expect numbers
 * as that text); `field`/`asNumber`/`asText` serve only the client's envelope (`code`, `msg`).
 */

/** Parses JSON text with every number token kept as its exact text (a string). */
export const parseExact = (text: string): unknown => JSON.parse(quoteNumbers(text))

const isDigitStart = (c: string) => c === "-" || (c >= "0" && c <= "9")

/** `[0-9eE.+-]` by character code (this runs for every character of every exchange answer). */
const isNumberChar = (code: number): boolean =>
  (code >= 48 && code <= 57) || code === 101 || code === 69 || code === 46 || code === 43 || code === 45

/** Rewrites bare number tokens outside strings as JSON strings. */
export const quoteNumbers = (text: string): string => {
  let out = ""
  let i = 0
  const n = text.length
  let last = 0
  while (i < n) {
    const c = text[i]!
    if (c === "\"") {
      // Skip a string literal (respecting escapes).
      i++
      while (i < n) {
        const d = text[i]!
        if (d === "\\") i += 2
        else if (d === "\"") {
          i++
          break
        } else i++
      }
      continue
    }
    if (isDigitStart(c)) {
      let j = i + 1
      while (j < n && isNumberChar(text.charCodeAt(j))) j++
      out += text.slice(last, i) + "\"" + text.slice(i, j) + "\""
      last = j
      i = j
      continue
    }
    i++
  }
  return out + text.slice(last)
}

export type Json = unknown

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** A record field or undefined. */
export const field = (v: unknown, key: string): unknown => (isRecord(v) ? v[key] : undefined)

/** A number from a number-as-text or a number; undefined when absent or not numeric. */
export const asNumber = (v: unknown): number | undefined => {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v)
  return undefined
}

/** Text of a string/number field (ids); undefined for absent, null or "". */
export const asText = (v: unknown): string | undefined => {
  if (typeof v === "string") return v === "" ? undefined : v
  if (typeof v === "number" || typeof v === "bigint") return String(v)
  return undefined
}
