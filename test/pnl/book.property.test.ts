/**
 * Property: over random fill sequences (one-way and hedge fills, several symbols, fees, full
 * closes and flips), the book (src/pnl/book.ts on src/domain/ledger.ts, BigDecimal) and the
 * bigint reference model (test/pnl/reference.ts) agree exactly — per fill and per slot.
 */
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import * as fc from "fast-check"
import { averagePrice } from "../../src/domain/ledger.ts"
import { applyToBook, type Book, bookKey, type BookFill } from "../../src/pnl/book.ts"
import { plain } from "../../src/pnl/decimal.ts"
import { fromUnits, ReferenceModel, type RefFill } from "./reference.ts"

/** A decimal string m / 10^k. */
const decimal = (m: bigint, k: number): string => fromUnits(m * 10n ** BigInt(18 - k))

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

interface Step {
  readonly symbol: string
  readonly action: "buy" | "sell"
  readonly positionSide: "long" | "short" | null
  readonly quantity: string
  /** Replace the quantity by exactly what is open in the slot (a full close), when something is. */
  readonly closeAll: boolean
  readonly price: string
  readonly fee: string
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  symbol: fc.constantFrom("BTC-USDT", "ETH-USDT"),
  action: fc.constantFrom("buy" as const, "sell" as const),
  positionSide: fc.constantFrom(null, null, "long" as const, "short" as const),
  quantity: fc.oneof(quantityArb, roundQuantityArb),
  closeAll: fc.boolean(),
  price: priceArb,
  fee: feeArb
})

const d = (s: string) => BigDecimal.fromStringUnsafe(s)

describe("book vs reference model (property)", () => {
  it("agree exactly over 1,500 random fill sequences", () => {
    let fills = 0
    let realising = 0
    let flips = 0
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps) => {
        const ref = new ReferenceModel()
        let book: Book = new Map()
        for (const [i, step] of steps.entries()) {
          const refSlot = ref.slot(step.symbol, step.positionSide)
          const held = ReferenceModel.open(refSlot)
          // A full close of what is open: the reducing action of the slot's current side.
          const closing = step.closeAll && held > 0n
          const action: "buy" | "sell" = closing
            ? (step.positionSide ?? (refSlot.q > 0n ? "long" : "short")) === "long" ? "sell" : "buy"
            : step.action
          const quantity = closing ? fromUnits(held) : step.quantity
          const fill: RefFill = { ...step, action, quantity }
          const expected = ref.apply(fill)
          const bookFill: BookFill = {
            action,
            positionSide: step.positionSide,
            quantity: d(quantity),
            price: d(step.price),
            fee: d(step.fee),
            filledAt: new Date(1_700_000_000_000 + i * 1000),
            leverage: 5
          }
          const before = book.get(bookKey(step.symbol, step.positionSide ?? "net"))?.side
          const r = applyToBook(book, step.symbol, bookFill)
          book = r.book
          fills++
          if (expected.closed > 0n) realising++
          if (before !== undefined && r.outcome.state.side !== undefined && before !== r.outcome.state.side) flips++
          expect(plain(r.outcome.realised)).toBe(fromUnits(expected.realised))
          expect(plain(r.outcome.closed)).toBe(fromUnits(expected.closed))
        }
        expect([...book.keys()].sort()).toEqual([...ref.slots.keys()].sort())
        for (const [key, slot] of ref.slots) {
          const state = book.get(key)!
          expect(plain(state.leg.quantity)).toBe(fromUnits(ReferenceModel.open(slot)))
          expect(plain(state.leg.cost)).toBe(fromUnits(slot.cost))
          expect(plain(state.realised)).toBe(fromUnits(slot.realised))
          expect(plain(state.fees)).toBe(fromUnits(slot.fees))
          const avg = ReferenceModel.average(slot)
          const bookAvg = averagePrice(state.leg)
          expect(bookAvg === undefined ? undefined : plain(bookAvg)).toBe(avg === undefined ? undefined : fromUnits(avg))
          const refSide = key.endsWith(" net")
            ? slot.q > 0n ? "long" : slot.q < 0n ? "short" : undefined
            : slot.q > 0n ? key.split(" ")[1] : undefined
          expect(state.side).toBe(refSide)
        }
      }),
      { numRuns: 1_500 }
    )
    // The generators really exercise closes and flips (not only opens).
    expect(fills).toBeGreaterThan(5_000)
    expect(realising).toBeGreaterThan(fills / 5)
    expect(flips).toBeGreaterThan(100)
  }, 120_000)
})
