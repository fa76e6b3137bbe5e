/**
 * `.env.example` and the declaration list the same variables: every declared variable is assigned
 * there (with its default or empty) and nothing else is; every declared variable has an example
 * for its error line; the older and ignored seed names are named in its comments.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { declaration } from "../../src/config.ts"
import type { VariableDoc } from "../../src/config/declare.ts"

const envExample = Fs.readFileSync(Path.join(import.meta.dirname, "../../.env.example"), "utf8")

/** What differs between a declaration's variables and an `.env.example` text (empty = they agree). */
const differences = (variables: ReadonlyArray<VariableDoc>, text: string): ReadonlyArray<string> => {
  const lines = text.split("\n")
  const assigned = lines.flatMap((line) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line)
    return m === null ? [] : [m[1]!]
  })
  const commented = new Set(lines.filter((l) => l.startsWith("#")).flatMap((l) => l.match(/[A-Z][A-Z0-9_]+/g) ?? []))
  const current = variables.filter((v) => v.status === "current").map((v) => v.name)
  const out: Array<string> = []
  for (const name of current) if (!assigned.includes(name)) out.push(`${name} is declared but not in .env.example`)
  for (const name of assigned) if (!current.includes(name)) out.push(`${name} is in .env.example but not declared`)
  for (const name of new Set(assigned.filter((n, i) => assigned.indexOf(n) !== i))) out.push(`${name} is assigned twice`)
  for (const v of variables) {
    if (v.status !== "current" && !commented.has(v.name)) out.push(`${v.name} (${v.status}) is not named in .env.example`)
    if (v.status !== "ignored" && v.example.trim().length === 0) out.push(`${v.name} has no example`)
  }
  return out
}

describe(".env.example", () => {
  it("lists exactly the declared variables, each with an example", () => {
    expect(differences(declaration.variables, envExample)).toEqual([])
  })

  it("each variable is declared once", () => {
    const names = declaration.variables.map((v) => v.name)
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([])
  })

  it("a variable declared but missing from .env.example is reported (and the other way round)", () => {
    const extra: VariableDoc = { name: "NEW_SETTING", status: "current", example: "1" }
    expect(differences([...declaration.variables, extra], envExample)).toEqual(["NEW_SETTING is declared but not in .env.example"])
    expect(differences(declaration.variables, `${envExample}\nSTRAY_SETTING=1\n`)).toEqual([
      "STRAY_SETTING is in .env.example but not declared"
    ])
    expect(differences([...declaration.variables, { name: "NO_EXAMPLE", status: "current", example: "" }], `${envExample}NO_EXAMPLE=\n`))
      .toEqual(["NO_EXAMPLE has no example"])
    expect(differences([...declaration.variables, { name: "OLD_NAME", status: "renamed", example: "x", readAs: "PORT" }], envExample))
      .toEqual(["OLD_NAME (renamed) is not named in .env.example"])
  })

  it("the declaration covers the variables the seed documented", () => {
    const names = new Set(declaration.variables.map((v) => v.name))
    for (const name of ["DATABASE_URL", "POSTGRES_DSN", "TRADING_MODE", "BINGX_API_KEY", "TELEGRAM_BOT_TOKEN", "BROKER_HOST", "UVICORN_SSL_CERTFILE"]) {
      expect(names.has(name), name).toBe(true)
    }
  })
})
