/**
 * The one rule for our record ids (signals, orders, fills): a positive decimal integer without
 * leading zeros that fits Postgres `bigint`. Ids travel as strings everywhere (JSON, Telegram
 * button data, SQL parameters): JavaScript numbers lose digits above 2^53.
 *
 * Every route, the bot and the repositories use `parseId`; text that fails it is "not found"
 * (404), never a database error. `Id` is the same rule as a Schema, for edges that decode ids.
 */
import { Schema } from "effect"

const ID_TEXT = /^[1-9]\d{0,18}$/
const MAX_BIGINT = 9_223_372_036_854_775_807n

/** True when `text` is an id we could have issued. */
export const isId = (text: string | undefined | null): text is string =>
  typeof text === "string" && ID_TEXT.test(text) && BigInt(text) <= MAX_BIGINT

/** The id, or undefined when `text` cannot be one. */
export const parseId = (text: string | undefined | null): string | undefined => (isId(text) ? text : undefined)

/** An id as a Schema: a string that `isId` accepts. */
export const Id = Schema.String.check(Schema.makeFilter((text: string) => isId(text), { expected: "an id such as \"34\"" }))
