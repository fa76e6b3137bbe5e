/**
 * Telegram HTML parse mode, safely: every dynamic value goes through `escapeHtml`, and messages are
 * kept under Telegram's limit of 4096 characters (counted after entity parsing) by dropping whole
 * lines from the end — each line is balanced HTML, so a shortened message stays valid.
 */
import { BigDecimal, Option } from "effect"

export const MAX_MESSAGE_LENGTH = 4096
/** Telegram's `callback_data` limit, in bytes. */
export const MAX_CALLBACK_DATA_BYTES = 64

/** Escapes `&`, `<`, `>` and `"` (the only entities Telegram's HTML mode needs). */
export const escapeHtml = (value: unknown): string =>
  String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** Shortens free text (reasons, server messages) before it is escaped. */
export const clip = (value: string, max = 300): string => (value.length <= max ? value : `${value.slice(0, max - 1)}…`)

const ENTITY = /&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/g

/** The text Telegram shows for `html` (tags removed, entities decoded); its length is what counts. */
export const visibleText = (html: string): string =>
  html.replace(/<[^>]*>/g, "").replace(ENTITY, (_m, e: string) => {
    if (e === "lt") return "<"
    if (e === "gt") return ">"
    if (e === "amp") return "&"
    if (e === "quot") return "\""
    const code = e.startsWith("#x") ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)
    return String.fromCodePoint(code)
  })

/** Length as Telegram counts it (UTF-16 code units of the visible text). */
export const visibleLength = (html: string): number => visibleText(html).length

/**
 * Joins lines into one message of at most `max` visible characters: when too long, trailing lines
 * are replaced by "… N more lines".
 */
export const fitLines = (lines: ReadonlyArray<string>, max = MAX_MESSAGE_LENGTH): string => {
  const whole = lines.join("\n")
  if (visibleLength(whole) <= max) return whole
  const kept: Array<string> = []
  let length = 0
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const add = visibleLength(line) + (kept.length > 0 ? 1 : 0)
    const remaining = lines.length - i
    const marker = `… ${remaining} more line${remaining === 1 ? "" : "s"}`
    if (length + add + 1 + marker.length > max) {
      // A single line longer than the limit: cut its visible text (escaped again, so still valid).
      if (kept.length === 0) return escapeHtml(clip(visibleText(line), max - marker.length - 2)) + "\n" + marker
      kept.push(marker)
      return kept.join("\n")
    }
    kept.push(line)
    length += add
  }
  return kept.join("\n")
}

/** Bytes of a callback_data string (Telegram's limit is in bytes, not characters). */
export const byteLength = (value: string): number => Buffer.byteLength(value, "utf8")

/** A decimal string rounded to `scale` places for display ("12.3456" → "12.35"); other text unchanged. */
export const fixed = (value: string, scale = 2): string => {
  const parsed = BigDecimal.fromString(value)
  if (Option.isNone(parsed)) return value
  const rounded = BigDecimal.round(parsed.value, { scale, mode: "half-from-zero" })
  const digits = rounded.scale <= scale
    ? rounded.value * 10n ** BigInt(scale - rounded.scale)
    : rounded.value / 10n ** BigInt(rounded.scale - scale)
  const negative = digits < 0n
  const abs = (negative ? -digits : digits).toString().padStart(scale + 1, "0")
  const text = scale === 0 ? abs : `${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}`
  return negative ? `-${text}` : text
}

/** A ratio as a percentage for display ("0.5" → "50.0"); other text unchanged. */
export const percent = (ratio: string, scale = 1): string => {
  const parsed = BigDecimal.fromString(ratio)
  if (Option.isNone(parsed)) return ratio
  return fixed(BigDecimal.format(BigDecimal.multiply(parsed.value, BigDecimal.fromBigInt(100n))), scale)
}

/** "2026-01-02T03:04:05.000Z" → "2026-01-02 03:04:05 UTC"; null → the fallback. */
export const utc = (iso: string | null | undefined, fallback = "never"): string => {
  if (iso === null || iso === undefined) return fallback
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return escapeHtml(iso)
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`
}
