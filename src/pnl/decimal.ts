/**
 * Decimal text at the edges: Postgres `numeric` strings in, plain decimal strings out (JSON, CSV,
 * SQL parameters). `BigDecimal.format` switches to exponent notation from 16 decimals on, which
 * neither JSON readers nor spreadsheets expect, so PnL output goes through `plain`.
 */
import { BigDecimal } from "effect"

export const ZERO = BigDecimal.fromBigInt(0n)

/** Parses a decimal string we trust (a `numeric` column read as text). Throws on garbage. */
export const parse = (s: string): BigDecimal.BigDecimal => BigDecimal.fromStringUnsafe(s)

/** A nullable `numeric` column. */
export const parseNullable = (s: string | null | undefined): BigDecimal.BigDecimal | undefined =>
  s === null || s === undefined ? undefined : parse(s)

/** Plain decimal notation, no exponent, no trailing zeros: "-0.000000000000000001", "1200". */
export const plain = (d: BigDecimal.BigDecimal): string => {
  const n = BigDecimal.normalize(d)
  if (n.scale <= 0) return (n.value * 10n ** BigInt(-n.scale)).toString()
  const negative = n.value < 0n
  const digits = (negative ? -n.value : n.value).toString().padStart(n.scale + 1, "0")
  const point = digits.length - n.scale
  return `${negative ? "-" : ""}${digits.slice(0, point)}.${digits.slice(point)}`
}

export const plainOrNull = (d: BigDecimal.BigDecimal | undefined): string | null => (d === undefined ? null : plain(d))

/** For metrics only (gauges are floating point by nature); never used in arithmetic. */
export const toMetricNumber = (d: BigDecimal.BigDecimal): number => Number(plain(d))
