import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { AppConfig } from "../../src/config.ts"
import { AppInfo, appLayer } from "../../src/main.ts"
import { startThrowawayPostgres } from "../support/throwawayPostgres.ts"

const status = (url: string) =>
  Effect.promise(() => fetch(url, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => -1))

/** Polls until `url` answers `expected` (or gives up after `ms`). */
const eventually = (url: string, expected: number, ms = 20_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    let last = -1
    while (Date.now() < deadline) {
      last = yield* status(url)
      if (last === expected) return last
      yield* Effect.sleep("200 millis")
    }
    return last
  })

describe("database faults (throwaway Postgres)", () => {
  it.live("Postgres stops: /ready 503, /health 200; it starts again: recovered without a restart", () =>
    Effect.gen(function*() {
      const pg = yield* Effect.acquireRelease(Effect.promise(() => startThrowawayPostgres()), (pg) => Effect.sync(() => pg.destroy()))
      const config = AppConfig.layerFrom({
        ROLE: "api",
        PORT: "0",
        HOST: "127.0.0.1",
        API_TOKEN: "t0123456789",
        LOG_LEVEL: "none",
        DATABASE_URL: pg.url
      })
      const context = yield* Layer.build(appLayer().pipe(Layer.provide(config)))
      const api = Context.get(context, AppInfo).api!.url
      expect(yield* status(`${api}/ready`)).toBe(200)

      pg.stop("fast")
      expect(yield* eventually(`${api}/ready`, 503)).toBe(503)
      expect(yield* status(`${api}/health`)).toBe(200)

      pg.start()
      expect(yield* eventually(`${api}/ready`, 200)).toBe(200)
    }).pipe(Effect.scoped), 90_000)
})
