/**
 * How columns cross the database edge: Schema codecs whose Type is the domain value and whose
 * Encoded form is what a query returns (or a statement parameter takes).
 *
 * Invariants:
 * - `Numeric`: a `numeric` column read as text (`col::text`) ↔ an exact BigDecimal; text that is
 *   not a decimal fails the decode (never a silent zero); encodes as plain decimal text.
 * - `Timestamptz`: the driver's Date (or ISO text) ↔ a valid Date; an invalid time fails.
 * - `BigintText`: a `bigint` read as text (`id::text`): ids exceed 2^53, so never a JS number.
 * - `Integer`: an `integer` column the driver may hand over as text; a safe whole number.
 * - `Count`: a `bigint`/`integer` count the driver may hand over as text; a whole number ≥ 0.
 * Every repository decodes its rows with these (one codec per column kind).
 */
import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { parse, plain } from "../domain/decimal.ts"

const invalid = (message: string) => new SchemaIssue.InvalidValue({ message })

/** A `numeric` column read as text: an exact decimal. */
export const Numeric = Schema.String.pipe(
  Schema.decodeTo(
    Schema.BigDecimal,
    SchemaTransformation.transformEffect({
      decode: (text: string) => {
        const d = parse(text)
        return d === undefined ? Effect.fail(invalid(`not a numeric: ${JSON.stringify(text.slice(0, 40))}`)) : Effect.succeed(d)
      },
      encode: (d) => Effect.succeed(plain(d))
    })
  )
)

/** A `timestamptz` column as the driver hands it over (a Date, or ISO text). */
export const Timestamptz = Schema.Union([Schema.Date, Schema.String]).pipe(
  Schema.decodeTo(
    Schema.Date,
    SchemaTransformation.transformEffect({
      decode: (value: Date | string) => {
        const d = value instanceof Date ? value : new Date(value)
        return Number.isNaN(d.getTime())
          ? Effect.fail(invalid(`not a timestamp: ${JSON.stringify(String(value).slice(0, 40))}`))
          : Effect.succeed(d)
      },
      encode: (d) => Effect.succeed(d)
    })
  )
)

/** A `bigint` id read as text. */
export const BigintText = Schema.String.check(Schema.isPattern(/^-?\d{1,19}$/, { expected: "a bigint as text" }))

/** An `integer` column (a number, or text from some drivers): a safe whole number. */
export const Integer = Schema.Union([Schema.Number, Schema.String]).pipe(
  Schema.decodeTo(
    Schema.Int,
    SchemaTransformation.transformEffect({
      decode: (value: number | string) => {
        const n = typeof value === "number" ? value : /^-?\d{1,15}$/.test(value) ? Number(value) : Number.NaN
        return Number.isSafeInteger(n) ? Effect.succeed(n) : Effect.fail(invalid(`not an integer: ${JSON.stringify(String(value).slice(0, 40))}`))
      },
      encode: (n) => Effect.succeed(n)
    })
  )
)

/** A count column (`COUNT(*)`, `bigint`): a whole number ≥ 0, whether the driver gives a number or text. */
export const Count = Schema.Union([Schema.Number, Schema.String]).pipe(
  Schema.decodeTo(
    Schema.Int,
    SchemaTransformation.transformEffect({
      decode: (value: number | string) => {
        const n = typeof value === "number" ? value : /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN
        return Number.isSafeInteger(n) && n >= 0
          ? Effect.succeed(n)
          : Effect.fail(invalid(`not a count: ${JSON.stringify(String(value).slice(0, 40))}`))
      },
      encode: (n) => Effect.succeed(n)
    })
  )
)
