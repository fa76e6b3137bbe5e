/**
 * The `system` group: `GET /system`, what is running (name, version, role, environment, trading
 * mode, database kind, start time, uptime); no secrets.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { TradingMode } from "../domain/vocabulary.ts"
import { Operator } from "./middleware.ts"
import { Timestamp } from "./wire.ts"

export const SystemInfo = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  role: Schema.Literals(["all", "api", "bot"]),
  environment: Schema.String,
  tradingMode: TradingMode,
  database: Schema.Literals(["embedded", "postgres"]),
  startedAt: Timestamp,
  uptimeSeconds: Schema.Int
}).pipe(Schema.encodeKeys({ tradingMode: "trading_mode", startedAt: "started_at", uptimeSeconds: "uptime_seconds" }))

export class SystemApi extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("info", "/system", { success: SystemInfo }))
  .middleware(Operator)
  .annotateMerge(OpenApi.annotations({ title: "System", description: "What is running" }))
{}
