/** Random fill sequences for the PnL property tests (fast-check). */
import * as fc from "fast-check"
import { fromUnits, ReferenceModel, type RefFill } from "./reference.ts"

/** A decimal string m / 10^k. */
export const decimal = (m: bigint, k: number): string => fromUnits(m * 10n ** BigInt(18 - k))

const quantityArb = fc.tuple(fc.bigInt({ min: 1n, max: 5_000_000n }), fc.integer({ min: 0, max: 6 }))
  .map(([m, k]) => decimal(m, k))
// A small set of "round" quantities makes exact full closes and flips common.
const roundQuantityArb = fc.constantFrom("0.001", "0.01", "0.5", "1", "2", "3", "10")
const priceArb = fc.tuple(fc.bigInt({ min: 1n, max: 10_000_000_000n }), fc.integer({ min: 0, max: 8 }))
  .map(([m, k]) => decimal(m, k))
const feeArb = fc.oneof(
  fc.constant("0"),
  fc.tuple(fc.bigInt({ min: -100_000n, max: 10_000_000n }), fc.integer({ min: 0, max: 8 })).map(([m, k]) => decimal(m, k))
)

export interface Step {
  readonly symbol: string
  readonly action: "buy" | "sell"
  readonly positionSide: "long" | "short" | null
  readonly quantity: string
  /** Replace the quantity by exactly what is open in the slot (a full close), when something is. */
  readonly closeAll: boolean
  readonly price: string
  readonly fee: string
}

export const stepArb: fc.Arbitrary<Step> = fc.record({
  symbol: fc.constantFrom("BTC-USDT", "ETH-USDT"),
  action: fc.constantFrom("buy" as const, "sell" as const),
  positionSide: fc.constantFrom(null, null, "long" as const, "short" as const),
  quantity: fc.oneof(quantityArb, roundQuantityArb),
  closeAll: fc.boolean(),
  price: priceArb,
  fee: feeArb
})


/**
 * The concrete fill of a step given the reference model's state before it: `closeAll` becomes a
 * reduce of exactly what the slot holds (when it holds something).
 */
export const resolveStep = (step: Step, ref: ReferenceModel): RefFill => {
  const slot = ref.slot(step.symbol, step.positionSide)
  const held = ReferenceModel.open(slot)
  if (!step.closeAll || held === 0n) return step
  const side = step.positionSide ?? (slot.q > 0n ? "long" : "short")
  return { ...step, action: side === "long" ? "sell" : "buy", quantity: fromUnits(held) }
}
