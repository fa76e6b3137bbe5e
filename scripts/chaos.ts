/**
 * The long crash loop, for a local run: the real process under webhook load, live
 * trading against the loopback BingX fake, SIGKILLed at random points and restarted, then checked
 * (test/reliability/chaos.ts lists the guarantees). CI runs the same loop with 3 kills
 * (test/reliability/crash.test.ts).
 *
 *   npm run chaos -- [--kills 10] [--db embedded|postgres|both] [--seed N] [--interval-ms 40]
 *
 * `postgres` uses a fresh database on TEST_DATABASE_URL when it is set, else a throwaway server
 * (initdb + pg_ctl into a temp directory; needs the PostgreSQL server binaries). Nothing here
 * touches the network beyond 127.0.0.1. Exit code 0 when every guarantee held, 1 otherwise.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { FakeBingx } from "../test/fakes/bingx.ts"
import { runChaos, summary, violations } from "../test/reliability/chaos.ts"
import { freshPostgresDatabase } from "../test/support/database.ts"
import { startThrowawayPostgres } from "../test/support/throwawayPostgres.ts"

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "10" },
    db: { type: "string", default: "both" },
    seed: { type: "string" },
    "interval-ms": { type: "string", default: "40" }
  }
})

const kills = Number(values.kills)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
const intervalMs = Number(values["interval-ms"])
if (!Number.isInteger(kills) || kills < 1) throw new Error("--kills must be a whole number ≥ 1")
if (!["embedded", "postgres", "both"].includes(values.db)) throw new Error("--db must be embedded, postgres or both")

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`)

const withDatabase = async <A>(kind: "embedded" | "postgres", f: (env: Record<string, string>) => Promise<A>): Promise<A> => {
  if (kind === "embedded") {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-chaos-"))
    try {
      return await f({ DATA_DIR: dir })
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  const base = process.env.TEST_DATABASE_URL
  if (base !== undefined) {
    return Effect.runPromise(
      Effect.scoped(Effect.flatMap(freshPostgresDatabase(base), (db) => Effect.promise(() => f({ DATABASE_URL: db.url }))))
    )
  }
  const pg = await startThrowawayPostgres()
  try {
    return await f({ DATABASE_URL: pg.url })
  } finally {
    pg.destroy()
  }
}

let failed = false
for (const kind of values.db === "both" ? (["embedded", "postgres"] as const) : [values.db as "embedded" | "postgres"]) {
  log(`== ${kind}: ${kills} kills, seed ${seed}`)
  const fake = new FakeBingx()
  await fake.start()
  try {
    const report = await withDatabase(kind, (database) =>
      runChaos({ database, fake, kills, seed, intervalMs, log: (line) => log(`${kind}: ${line}`) }))
    log(`${kind}: ${summary(report)}`)
    const problems = violations(report)
    if (problems.length === 0) log(`${kind}: every guarantee held`)
    else {
      failed = true
      for (const p of problems) log(`${kind}: VIOLATION ${p}`)
      for (const line of report.tail) log(`${kind}: | ${line}`)
    }
  } finally {
    await fake.stop()
  }
}
process.exit(failed ? 1 : 0)
