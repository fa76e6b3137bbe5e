/**
 * Once per `vitest` run: a temp directory the test files share (e.g. the migrated PGlite template
 * of test/support/database.ts, built lazily by the first file that needs it), removed at the end.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    readonly sharedTmpDir: string
  }
}

export default function setup(project: TestProject) {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-run-"))
  project.provide("sharedTmpDir", dir)
  return () => Fs.rmSync(dir, { recursive: true, force: true })
}
