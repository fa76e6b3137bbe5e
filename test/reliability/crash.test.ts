/**
 * Crash safety: the real process under webhook load, live trading against the BingX
 * fake, killed with SIGKILL at random points and restarted on the same database — on the embedded
 * database (PGlite in DATA_DIR), or on real Postgres when TEST_DATABASE_URL is set. CHAOS_KILLS
 * kills (default 3 here; `node scripts/chaos.ts` runs the long local loop), CHAOS_SEED repeats a run.
 * The guarantees checked are listed in chaos.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeFakeBingx } from "../fakes/bingx.ts"
import { testDatabaseEnv } from "../support/database.ts"
import { runChaos, summary, violations } from "./chaos.ts"

const kills = Math.max(3, Number(process.env.CHAOS_KILLS ?? "3"))
const seed = Number(process.env.CHAOS_SEED ?? String(Math.floor(Math.random() * 2 ** 31)))

describe("crash safety (SIGKILL under load)", () => {
  it.live(`${kills} kills: every acknowledged signal stored, every order filled once, no clientOrderId placed twice`, () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeBingx()
      const database = yield* testDatabaseEnv
      const report = yield* Effect.promise(() => runChaos({ database, fake, kills, seed }))
      console.log(`crash loop: ${summary(report)}`)
      const problems = violations(report)
      expect(problems, `${summary(report)}\n${problems.slice(0, 20).join("\n")}\n--- last lines ---\n${report.tail.join("\n")}`)
        .toEqual([])
      // The load was real: alerts were acknowledged and orders executed across the kills.
      expect(report.acknowledged.length, summary(report)).toBeGreaterThan(10)
      expect(report.placed.size).toBe(report.orders.length)
      expect(report.orders.length).toBeGreaterThanOrEqual(report.acknowledged.length)
    }).pipe(Effect.scoped), 300_000)
})
