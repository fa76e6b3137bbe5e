/**
 * Comments stand alone: no file of the project points a reader at something the repository does
 * not contain (issue numbers, sections of outside design documents, outside reference files).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

const ROOT = Path.resolve(import.meta.dirname, "../..")
const THIS_FILE = Path.resolve(import.meta.filename)

const sources = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(Path.join(dir, e.name)) : e.name.endsWith(".ts") ? [Path.join(dir, e.name)] : []
  )

/** Pointers outside the repository, as they have appeared in comments. */
const OUTSIDE = [
  /\bissue\s*#?\d+/i,
  /§\s*\d/,
  /shared\/reference/i,
  /\bARCHITECTURE\b/,
  /api-contract/i,
  /\bthe lead\b/i,
  /\bseed guide\b/i
]

describe("comments stand alone", () => {
  it("no source file in src/, test/ or scripts/ points outside the repository", () => {
    const offenders = ["src", "test", "scripts"].flatMap((dir) => sources(Path.join(ROOT, dir)))
      .filter((file) => file !== THIS_FILE)
      .flatMap((file) =>
        Fs.readFileSync(file, "utf8").split("\n").flatMap((line, i) =>
          OUTSIDE.some((pattern) => pattern.test(line)) ? [`${Path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : []
        )
      )
    expect(offenders).toEqual([])
  })
})
