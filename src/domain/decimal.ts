/**
 * Exact decimals for money and quantities: the one module that turns text into `BigDecimal` and
 * back, and does the few roundings the domain needs. Nothing here uses JavaScript floats.
 *
 * Invariants:
 * - `plain` never writes an exponent ("0.00000001", "65000.5", "-3"): JSON, CSV, SQL parameters
 *   and the exchange all take plain decimal text (`BigDecimal.format` switches to exponents).
 * - `parse` accepts plain and exponent forms and answers undefined for anything else; `parseUnsafe`
 *   is for text a trusted edge already checked (a Postgres `numeric` read as text).
 * - `divide` and `sizeFromMargin` compute with integers, rounding once (no double rounding).
 */
import { BigDecimal, Option } from "effect"

export const ZERO: BigDecimal.BigDecimal = BigDecimal.fromBigInt(0n)
export const ONE: BigDecimal.BigDecimal = BigDecimal.fromBigInt(1n)

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

/** `plain`, with null for a missing value (nullable JSON fields and SQL parameters). */
export const plainOrNull = (d: BigDecimal.BigDecimal | null | undefined): string | null =>
  d === null || d === undefined ? null : plain(d)

const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** Parses decimal text (also exponent forms, surrounding blanks allowed); undefined when it is not a number. */
export const parse = (text: string): BigDecimal.BigDecimal | undefined => {
  const trimmed = text.trim()
  if (trimmed === "" || !DECIMAL_TEXT.test(trimmed)) return undefined
  return Option.getOrUndefined(BigDecimal.fromString(trimmed.replace(/^\+/, "")))
}

/** Parses decimal text already known to be valid (a `numeric` column); throws a RangeError otherwise. */
export const parseUnsafe = (text: string): BigDecimal.BigDecimal => {
  const d = parse(text)
  if (d === undefined) throw new RangeError(`not a decimal: ${JSON.stringify(text)}`)
  return d
}

/** Rounds down (towards −∞) to `decimals` places: a quantity never exceeds what was asked for. */
export const floorTo = (d: BigDecimal.BigDecimal, decimals: number): BigDecimal.BigDecimal =>
  BigDecimal.normalize(BigDecimal.round(d, { scale: decimals, mode: "floor" }))

/** Rounds half-even to `decimals` places. */
export const roundTo = (d: BigDecimal.BigDecimal, decimals: number): BigDecimal.BigDecimal =>
  BigDecimal.normalize(BigDecimal.round(d, { scale: decimals, mode: "half-even" }))

/** Decimal places kept by `divide` unless told otherwise. */
export const DIVIDE_SCALE = 18

/**
 * `numerator / denominator` rounded half-even at `scale` decimals, computed exactly with integers.
 * (`BigDecimal.divide` stops at 100 significant digits, truncating; rounding that truncated value
 * again can round a true "just above half" down — a double rounding. This never does.)
 * Throws a RangeError on division by zero.
 */
export const divide = (
  numerator: BigDecimal.BigDecimal,
  denominator: BigDecimal.BigDecimal,
  scale: number = DIVIDE_SCALE
): BigDecimal.BigDecimal => {
  if (denominator.value === 0n) throw new RangeError("division by zero")
  // n/d × 10^scale = (nv × 10^-ns) / (dv × 10^-ds) × 10^scale = nv × 10^(ds − ns + scale) / dv
  const shift = denominator.scale - numerator.scale + scale
  let num = shift >= 0 ? numerator.value * 10n ** BigInt(shift) : numerator.value
  let den = shift >= 0 ? denominator.value : denominator.value * 10n ** BigInt(-shift)
  const negative = (num < 0n) !== (den < 0n)
  if (num < 0n) num = -num
  if (den < 0n) den = -den
  let q = num / den
  const twiceRemainder = 2n * (num % den)
  if (twiceRemainder > den || (twiceRemainder === den && q % 2n === 1n)) q += 1n
  return BigDecimal.make(negative ? -q : q, scale)
}

/**
 * Quantity bought by `margin` USDT at `leverage` and `price`: margin × leverage ÷ price, rounded
 * down at `decimals` places with exact integer arithmetic. Margin and price must be positive.
 */
export const sizeFromMargin = (
  margin: BigDecimal.BigDecimal,
  leverage: number,
  price: BigDecimal.BigDecimal,
  decimals: number
): BigDecimal.BigDecimal => {
  const m = BigDecimal.normalize(margin)
  const p = BigDecimal.normalize(price)
  if (p.value <= 0n) throw new RangeError("price must be positive")
  // q = (m.value / 10^m.scale) × lev ÷ (p.value / 10^p.scale), scaled by 10^decimals.
  const exponent = p.scale - m.scale + decimals
  const numerator = m.value * BigInt(leverage) * (exponent >= 0 ? 10n ** BigInt(exponent) : 1n)
  const denominator = p.value * (exponent < 0 ? 10n ** BigInt(-exponent) : 1n)
  return BigDecimal.normalize(BigDecimal.make(numerator / denominator, decimals))
}

/** For metrics only (gauges are floating point by nature); never used in arithmetic. */
export const toMetricNumber = (d: BigDecimal.BigDecimal): number => Number(plain(d))
