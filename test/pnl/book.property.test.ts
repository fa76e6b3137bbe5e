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
import { plain } from "../../src/domain/decimal.ts"
import { resolveStep, stepArb } from "./arbitraries.ts"
import { fromUnits, ReferenceModel } from "./reference.ts"

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
          const fill = resolveStep(step, ref)
          const { action, quantity } = fill
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
