/**
 * `BotBackend`: the one interface the Telegram bot talks to. Same bot code, swapped layer:
 * - `layerHttp` (role bot): the HTTP client of the contract (`BACKEND_BASE_URL` + `API_TOKEN`);
 * - `layerLocal` (role all): the services in the same process (see backendLocal.ts);
 * - `layerMemory` (tests): an in-memory backend with the contract's behaviour.
 */
import { Context, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { makeHttp } from "./backendHttp.ts"
import { LocalOperations, makeLocal } from "./backendLocal.ts"
import { type MemoryBackend, memoryShape } from "./backendMemory.ts"
import type { BotBackendShape } from "./contract.ts"

export * from "./contract.ts"
export { LocalOperations } from "./backendLocal.ts"
export { MemoryBackend } from "./backendMemory.ts"

export class BotBackend extends Context.Service<BotBackend, BotBackendShape>()("tvtelegrambingx/bot/BotBackend") {
  /** Over HTTP (fetch). Needs `AppConfig`. */
  static readonly layerHttp = Layer.effect(BotBackend, makeHttp).pipe(Layer.provide(FetchHttpClient.layer))

  /** In-process. Needs `BotSettings`, `AuditLog` and `LocalOperations`. */
  static readonly layerLocalNoDeps = Layer.effect(BotBackend, makeLocal)

  /**
   * In-process on the real services (role all). Needs AppConfig, BotSettings, AuditLog,
   * BotStatusParts, SignalService, OrderService and PnlService.
   */
  static readonly layerLocal = BotBackend.layerLocalNoDeps.pipe(Layer.provide(LocalOperations.layer))

  /** Tests: served from a `MemoryBackend`. */
  static readonly layerMemory = (backend: MemoryBackend) => Layer.succeed(BotBackend, BotBackend.of(memoryShape(backend)))
}
