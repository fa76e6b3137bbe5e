/**
 * The wire scalars of the operator API: how a domain value is written in JSON (and read back by
 * the generated client). Each is a Schema codec whose Type is the domain value and whose Encoded
 * form is what README documents:
 * - `Decimal`: BigDecimal ↔ plain decimal text ("65000.5", "0.00000001"; never an exponent);
 * - `Timestamp`: Date ↔ ISO-8601 UTC text ("2026-01-02T03:04:05.000Z");
 * - `Id`: our record ids, decimal text (`isId`), never a JS number;
 * - `Limit`: a list's `limit` query parameter, text ↔ a whole number within bounds.
 *
 * Decode failures carry the problem text a 422 answer lists for that field.
 */
import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { parse, plain } from "../domain/decimal.ts"
import { isId } from "../domain/ids.ts"

const invalid = (message: string) => new SchemaIssue.InvalidValue({ message })

/** An exact decimal: BigDecimal in the program, plain decimal text on the wire. */
export const Decimal = Schema.String.annotate({ description: "exact decimal as plain text, e.g. \"65000.5\"" }).pipe(
  Schema.decodeTo(
    Schema.BigDecimal,
    SchemaTransformation.transformEffect({
      decode: (text: string) => {
        const d = parse(text)
        return d === undefined ? Effect.fail(invalid("must be a decimal number such as \"65000.5\"")) : Effect.succeed(d)
      },
      encode: (d) => Effect.succeed(plain(d))
    })
  )
)

/** A point in time: Date in the program, ISO-8601 UTC text on the wire. */
export const Timestamp = Schema.String.annotate({ description: "ISO-8601 UTC timestamp, e.g. \"2026-01-02T03:04:05.000Z\"" }).pipe(
  Schema.decodeTo(
    Schema.Date,
    SchemaTransformation.transformEffect({
      decode: (text: string) => {
        const d = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN)
        return Number.isNaN(d.getTime())
          ? Effect.fail(invalid("must be an ISO-8601 timestamp such as \"2026-01-02T03:04:05.000Z\""))
          : Effect.succeed(d)
      },
      encode: (d) => Effect.succeed(d.toISOString())
    })
  )
)

/** A record id: decimal text that fits Postgres bigint. */
export const Id = Schema.String.check(
  Schema.makeFilter((s: string) => isId(s) || "must be an id such as \"34\"")
).annotate({ description: "record id as decimal text, e.g. \"34\"" })

/**
 * `limit` of a list: text on the wire, a whole number 1..max in the program (blank text is no
 * limit given: the list's default applies).
 */
export const Limit = (max: number) =>
  Schema.String.annotate({ description: `a whole number from 1 to ${max} (blank: the default)` }).pipe(
    Schema.decodeTo(
      Schema.UndefinedOr(Schema.Int),
      SchemaTransformation.transformEffect({
        decode: (raw: string) => {
          const t = raw.trim()
          if (t === "") return Effect.succeed(undefined)
          const n = /^\d{1,6}$/.test(t) ? Number(t) : Number.NaN
          return Number.isInteger(n) && n >= 1 && n <= max
            ? Effect.succeed(n)
            : Effect.fail(invalid(`must be a whole number from 1 to ${max}`))
        },
        encode: (n) => Effect.succeed(n === undefined ? "" : String(n))
      })
    )
  )

/** The most rows any list answers. */
export const MAX_LIST_LIMIT = 500

/**
 * A query parameter read with one of the domain's parsers: text on the wire, the parsed value in
 * the program, blank text as not given. A parser's `problem` is the 422's problem for the field.
 */
export const QueryParam = <T, E>(
  to: Schema.Codec<T, E>,
  parseText: (text: string) => { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string },
  format: (value: T) => string,
  description: string
) =>
  Schema.String.annotate({ description }).pipe(
    Schema.decodeTo(
      Schema.UndefinedOr(Schema.toType(to)),
      SchemaTransformation.transformEffect({
        decode: (raw: string) => {
          if (raw.trim() === "") return Effect.succeed(undefined)
          const parsed = parseText(raw)
          return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(invalid(parsed.problem))
        },
        encode: (value: T | undefined) => Effect.succeed(value === undefined ? "" : format(value))
      })
    )
  )
