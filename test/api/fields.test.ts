/**
 * Field problems are always text: a body key named like an Object.prototype member
 * (`__proto__`, `constructor`, `__defineGetter__`) is an unknown setting, never a wording looked
 * up on the prototype (which made the 422 body fail its own schema: a 500).
 */
import { describe, expect, it } from "@effect/vitest"
import { decodeSettingsBody } from "../../src/api/Bot.ts"
import { validateAudit } from "../../src/bot/routes.ts"

describe("field problems", () => {
  it("prototype-named keys are unknown settings with a text problem", () => {
    const body = JSON.parse("{\"__proto__\":{\"x\":1},\"constructor\":1,\"__defineGetter__\":{},\"toString\":2}") as unknown
    const decoded = decodeSettingsBody(body)
    expect(decoded.ok).toBe(false)
    const fields = decoded.ok ? [] : decoded.fields
    expect(fields.map((f) => f.field)).toEqual(["__proto__", "constructor", "__defineGetter__", "toString"])
    for (const f of fields) expect(f.problem).toMatch(/^is not a setting \(use /)
    const audit = validateAudit(body)
    for (const f of audit.problems) expect(typeof f.problem).toBe("string")
  })
})
