/**
 * The vocabulary is defined once: no file in `src/` outside `src/domain/` spells out a union of
 * the trading literals (it imports them from `src/domain/vocabulary.ts`), and the domain imports
 * nothing from the HTTP or database edges.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

const SRC = Path.resolve(import.meta.dirname, "../../src")

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith(".ts") ? [path] : []
  })

const relative = (path: string) => Path.relative(SRC, path).split(Path.sep).join("/")

/** Word pairs whose union (in either order, as a type or a literal list) belongs to the vocabulary. */
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  ["buy", "sell"],
  ["long", "short"],
  ["isolated", "cross"],
  ["BUY", "SELL"],
  ["LONG", "SHORT"],
  ["ISOLATED", "CROSSED"],
  ["one_way", "hedge"],
  ["bingx", "paper"],
  ["paper", "live"],
  ["partially_filled", "filled"],
  ["exchange", "alert"],
  ["alert", "refuse"]
]

const quoted = (word: string) => `["']${word}["']`
const INLINE_UNIONS: ReadonlyArray<RegExp> = PAIRS.flatMap(([a, b]) => [
  // a type union: "buy" | "sell"
  new RegExp(`${quoted(a)}\\s*\\|\\s*${quoted(b)}`),
  new RegExp(`${quoted(b)}\\s*\\|\\s*${quoted(a)}`),
  // a literal list: ["buy", "sell"]
  new RegExp(`\\[\\s*${quoted(a)}\\s*,\\s*${quoted(b)}\\s*[,\\]]`),
  new RegExp(`\\[\\s*${quoted(b)}\\s*,\\s*${quoted(a)}\\s*[,\\]]`)
])

const files = sourceFiles(SRC).map((path) => ({ name: relative(path), text: Fs.readFileSync(path, "utf8") }))

describe("one vocabulary", () => {
  it("reads the source tree", () => {
    expect(files.some((f) => f.name === "domain/vocabulary.ts")).toBe(true)
    expect(files.length).toBeGreaterThan(50)
  })

  it("the patterns catch an inline union in either order and a literal list", () => {
    const caught = (text: string) => INLINE_UNIONS.some((re) => re.test(text))
    expect(caught(`readonly action: "buy" | "sell"`)).toBe(true)
    expect(caught(`side: "SHORT" |\n "LONG"`)).toBe(true)
    expect(caught(`Schema.Literals(["isolated", "cross"])`)).toBe(true)
    expect(caught(`oneOf("X", ["one_way", "hedge"] as const)`)).toBe(true)
    expect(caught(`const kind = "buy"`)).toBe(false)
  })

  it("no file outside src/domain/ spells out a union of the vocabulary's literals", () => {
    const offenders = files
      .filter((f) => !f.name.startsWith("domain/"))
      .flatMap((f) =>
        INLINE_UNIONS.flatMap((re) => {
          const m = re.exec(f.text)
          if (m === null) return []
          const line = f.text.slice(0, m.index).split("\n").length
          return [`${f.name}:${line}: ${m[0].replace(/\s+/g, " ")}`]
        })
      )
    expect(offenders).toEqual([])
  })

  it("src/domain/ imports nothing from the HTTP or database edges", () => {
    const offenders = files
      .filter((f) => f.name.startsWith("domain/"))
      .flatMap((f) =>
        [...f.text.matchAll(/from\s+"(\.\.\/(?:http|db)\/[^"]*)"/g)].map((m) => `${f.name}: imports ${m[1]}`)
      )
    expect(offenders).toEqual([])
  })
})
