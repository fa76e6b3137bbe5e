/**
 * Test wiring for the live BingX layers against the loopback fake.
 */
import { Layer } from "effect"
import { AppConfig } from "../../src/config.ts"
import * as BingxExchange from "../../src/exchange/bingx/BingxExchange.ts"
import { FAKE_API_KEY, FAKE_SECRET, type FakeBingx } from "../fakes/bingx.ts"

/** Environment for live trading against `fake`. */
export const liveEnv = (fake: FakeBingx, env: Readonly<Record<string, string>> = {}): Record<string, string> => ({
  TRADING_MODE: "live",
  BINGX_BASE_URL: fake.url,
  BINGX_WS_URL: fake.wsUrl,
  BINGX_API_KEY: FAKE_API_KEY,
  BINGX_API_SECRET: FAKE_SECRET,
  BINGX_TIMEOUT_MS: "400",
  BINGX_USER_STREAM_ENABLED: "false",
  ...env
})

/** Exchange + BingxLive + BingxClient against `fake`, fast retries. */
export const liveExchange = (fake: FakeBingx, env: Readonly<Record<string, string>> = {}) =>
  BingxExchange.layer({ retryBaseMs: 20 }).pipe(Layer.provide(AppConfig.layerFrom(liveEnv(fake, env))))
