/**
 * Field problems from a Schema decode: the 422's `fields`, one per issue, named by the issue's
 * path (`"body"` at the top), worded by the endpoint's own table where it has one.
 */
import { Schema, SchemaIssue } from "effect"
import type { FieldProblem } from "../domain/vocabulary.ts"

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** The dotted field name of an issue path. */
export const fieldOf = (path: ReadonlyArray<unknown> | undefined, top: string): string =>
  (path ?? []).map((p) => String(typeof p === "object" && p !== null && "key" in p ? (p as { key: unknown }).key : p)).join(".") ||
  top

/** Every problem of an issue, in the schema's words. */
export const problemsOf = (issue: SchemaIssue.Issue, top: string): ReadonlyArray<FieldProblem> =>
  formatIssues(issue).issues.map((i) => ({ field: fieldOf(i.path, top), problem: i.message }))

/**
 * Decodes `body` with `schema` (every problem), naming each by its field: a field of `problems`
 * gets that wording, another top-level key is `unknownKey(key)`, anything else the schema's words.
 */
export const decodeFields = <S extends Schema.Codec<any, any, never, never>>(
  schema: S,
  body: unknown,
  problems: Readonly<Record<string, string>>,
  options: { readonly onExcessProperty: "error" | "ignore"; readonly unknownKey?: (key: string) => string }
): { readonly ok: true; readonly value: S["Type"] } | { readonly ok: false; readonly fields: ReadonlyArray<FieldProblem> } => {
  const result = Schema.decodeUnknownResult(schema)(body, { errors: "all", onExcessProperty: options.onExcessProperty })
  if (result._tag === "Success") return { ok: true, value: result.success }
  const fields = formatIssues(result.failure.issue).issues.map((issue): FieldProblem => {
    const path = issue.path ?? []
    const field = fieldOf(path, "body")
    const known = Object.hasOwn(problems, field) ? problems[field] : undefined
    if (known !== undefined) return { field, problem: known }
    if (path.length === 1 && options.unknownKey !== undefined) return { field, problem: options.unknownKey(field) }
    return { field, problem: issue.message }
  })
  return { ok: false, fields }
}
