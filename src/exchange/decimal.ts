/**
 * Exact decimal helpers for the exchange layers (BigDecimal in, plain decimal text out).
 *
 * `BigDecimal.format` switches to scientific notation for very small or large values; money and
 * quantities on the wire and in JSON must always be plain decimal text, so use `plain`.
 */
import { BigDecimal, Option } from "effect"

export const ZERO = BigDecimal.fromBigInt(0n)

/** Plain decimal text (no exponent, no trailing zeros): "0.00000001", "65000.5", "-3". */
export const plain = (d: BigDecimal.BigDecimal): string => {
  const n = BigDecimal.normalize(d)
  const negative = n.value < 0n
  const digits = (negative ? -n.value : n.value).toString()
  let text: string
  if (n.scale <= 0) {
    text = digits + "0".repeat(-n.scale)
  } else {
    const padded = digits.padStart(n.scale + 1, "0")
    text = `${padded.slice(0, padded.length - n.scale)}.${padded.slice(padded.length - n.scale)}`
  }
  return negative && text !== "0" ? `-${text}` : text
}

/** Parses decimal text (also exponent forms); undefined when it is not a number. */
export const parse = (s: string): BigDecimal.BigDecimal | undefined => {
  const trimmed = s.trim()
  if (trimmed === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) return undefined
  return Option.getOrUndefined(BigDecimal.fromString(trimmed.replace(/^\+/, "")))
}

/** Parses decimal text that is known to be valid (database numerics). */
export const dec = (s: string): BigDecimal.BigDecimal => {
  const d = parse(s)
  if (d === undefined) throw new RangeError(`not a decimal: ${JSON.stringify(s)}`)
  return d
}

/** A value from an exchange payload: decimal text or a number token kept as text; "" → undefined. */
export const fromWire = (v: unknown): BigDecimal.BigDecimal | undefined => {
  if (typeof v === "string") return parse(v)
  if (typeof v === "number" && Number.isFinite(v)) return parse(String(v))
  if (typeof v === "bigint") return BigDecimal.fromBigInt(v)
  return undefined
}

/** Rounds a positive quantity down to `decimals` places (never sends more than asked for). */
export const floorTo = (d: BigDecimal.BigDecimal, decimals: number): BigDecimal.BigDecimal =>
  BigDecimal.normalize(BigDecimal.round(d, { scale: decimals, mode: "floor" }))

/** Rounds half-even to `decimals` places. */
export const roundTo = (d: BigDecimal.BigDecimal, decimals: number): BigDecimal.BigDecimal =>
  BigDecimal.normalize(BigDecimal.round(d, { scale: decimals, mode: "half-even" }))

/** Division rounded half-even at `scale` decimals (for averages and sizing). */
export const divide = (a: BigDecimal.BigDecimal, b: BigDecimal.BigDecimal, scale = 18): BigDecimal.BigDecimal =>
  roundTo(BigDecimal.divideUnsafe(a, b), scale)
