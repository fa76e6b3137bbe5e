/**
 * A second, deliberately simple PnL model for the property test: every amount is a bigint count of
 * 10^-18 units, a one-way position is one signed quantity, and nothing from src/ is used.
 *
 * Average cost, like the book: adds put `price × qty` into the cost; a reduce removes the whole
 * cost when it closes everything, else `cost × closed / held` rounded half-even to a unit
 * (10^-18); realised = exit notional − removed (long) or removed − exit notional (short); a
 * one-way reduce beyond zero reopens the rest on the other side at the fill price; a hedge reduce
 * beyond the leg ignores the excess. Inputs must have ≤ 18 decimals in each product (the test's
 * generators keep quantity + price decimals ≤ 14), so `mul` is exact; it throws otherwise.
 */
export const UNIT = 10n ** 18n

export const toUnits = (s: string): bigint => {
  const negative = s.startsWith("-")
  const body = negative ? s.slice(1) : s
  const [whole, frac = ""] = body.split(".")
  if (frac.length > 18) throw new Error(`too many decimals: ${s}`)
  const units = BigInt(whole!) * UNIT + BigInt(frac.padEnd(18, "0"))
  return negative ? -units : units
}

export const fromUnits = (u: bigint): string => {
  const negative = u < 0n
  const abs = negative ? -u : u
  const whole = abs / UNIT
  const frac = (abs % UNIT).toString().padStart(18, "0").replace(/0+$/, "")
  return `${negative ? "-" : ""}${whole}${frac === "" ? "" : `.${frac}`}`
}

const mul = (a: bigint, b: bigint): bigint => {
  const p = a * b
  if (p % UNIT !== 0n) throw new Error("reference: product needs more than 18 decimals")
  return p / UNIT
}

/** Floor division, then half-even on the remainder. */
export const roundHalfEven = (n: bigint, d: bigint): bigint => {
  if (d < 0n) {
    n = -n
    d = -d
  }
  let q = n / d
  let r = n - q * d
  if (r < 0n) {
    q -= 1n
    r += d
  }
  if (2n * r > d || (2n * r === d && (q & 1n) === 1n)) q += 1n
  return q
}

export interface RefSlot {
  /** net: signed (long > 0, short < 0); hedge slots: ≥ 0. */
  q: bigint
  cost: bigint
  realised: bigint
  fees: bigint
}

export interface RefFill {
  readonly symbol: string
  readonly action: "buy" | "sell"
  readonly positionSide: "long" | "short" | null
  readonly quantity: string
  readonly price: string
  readonly fee: string
}

export interface RefOutcome {
  readonly realised: bigint
  readonly closed: bigint
}

const reduce = (slot: RefSlot, longSide: boolean, held: bigint, qty: bigint, price: bigint) => {
  const closed = qty < held ? qty : held
  const removed = closed === held ? slot.cost : roundHalfEven(slot.cost * closed, held)
  const exit = mul(price, closed)
  const pnl = longSide ? exit - removed : removed - exit
  slot.cost -= removed
  slot.realised += pnl
  return { closed, pnl }
}

export class ReferenceModel {
  readonly slots = new Map<string, RefSlot>()

  slot(symbol: string, side: "long" | "short" | null): RefSlot {
    const key = `${symbol} ${side ?? "net"}`
    let s = this.slots.get(key)
    if (s === undefined) {
      s = { q: 0n, cost: 0n, realised: 0n, fees: 0n }
      this.slots.set(key, s)
    }
    return s
  }

  apply(fill: RefFill): RefOutcome {
    const s = this.slot(fill.symbol, fill.positionSide)
    const qty = toUnits(fill.quantity)
    const price = toUnits(fill.price)
    s.fees += toUnits(fill.fee)
    if (fill.positionSide === null) {
      const delta = fill.action === "buy" ? qty : -qty
      if (s.q === 0n || (s.q > 0n) === (delta > 0n)) {
        s.q += delta
        s.cost += mul(price, qty)
        return { realised: 0n, closed: 0n }
      }
      const wasLong = s.q > 0n
      const held = wasLong ? s.q : -s.q
      const { closed, pnl } = reduce(s, wasLong, held, qty, price)
      s.q += delta > 0n ? closed : -closed
      const rest = qty - closed
      if (rest > 0n) {
        s.q = delta > 0n ? rest : -rest
        s.cost = mul(price, rest)
      }
      return { realised: pnl, closed }
    }
    const adds = (fill.positionSide === "long") === (fill.action === "buy")
    if (adds) {
      s.q += qty
      s.cost += mul(price, qty)
      return { realised: 0n, closed: 0n }
    }
    if (s.q === 0n) return { realised: 0n, closed: 0n }
    const { closed, pnl } = reduce(s, fill.positionSide === "long", s.q, qty, price)
    s.q -= closed
    return { realised: pnl, closed }
  }

  /** Open quantity (unsigned) of a slot. */
  static open(slot: RefSlot): bigint {
    return slot.q < 0n ? -slot.q : slot.q
  }

  /** Average entry price in units, half-even; undefined when flat. */
  static average(slot: RefSlot): bigint | undefined {
    const held = ReferenceModel.open(slot)
    return held === 0n ? undefined : roundHalfEven(slot.cost * UNIT, held)
  }
}
