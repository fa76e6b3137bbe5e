/**
 * The operator API: one contract for the server (src/api/server.ts and each feature's
 * `routes.ts`), the bot's HTTP client (src/bot/backendHttp.ts) and the OpenAPI document
 * (`GET /openapi.json`). Bodies are snake_case JSON with ids and decimals as strings; every error
 * is `{"error", "fields"}` with its status (src/api/errors.ts).
 *
 * How to add a group:
 * 1. Declare it in its own file here (`src/api/Thing.ts`): `HttpApiGroup.make("thing").add(
 *    HttpApiEndpoint.get("list", "/things", { query, success, error }))` with `.middleware(Operator)`
 *    (every operator endpoint; test/reliability/auth.test.ts fails for one without it). Declare
 *    the wire form as a Schema whose Type is the domain record and whose Encoded form is the JSON
 *    (`Schema.encodeKeys` for snake_case, `Decimal` / `Timestamp` / `Id` from ./wire.ts).
 *    Query fields are text codecs (`Limit`, `QueryParam`): their decode failures become the 422's
 *    field problems. Errors: the classes of ./errors.ts (each carries its status).
 * 2. `.add(ThingApi)` below.
 * 3. Implement it beside the service: `HttpApiBuilder.group(Api, "thing", (handlers) => ...)` in
 *    `src/thing/routes.ts`, handlers returning domain records (the success schema encodes them);
 *    map `SqlError` with `orUnavailable` (./server.ts).
 * 4. Provide that layer in `apiGroups` (./server.ts).
 * The webhook and the probes are raw routes on purpose (src/http/servers.ts, src/signals/routes.ts).
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import { HttpApi, type HttpApiGroup, OpenApi } from "effect/http-api"
import { BotApi } from "./Bot.ts"
import { RequestErrors } from "./middleware.ts"
import { OrdersApi } from "./Orders.ts"
import { PnlApi } from "./Pnl.ts"
import { SignalsApi } from "./Signals.ts"
import { SystemApi } from "./System.ts"

/**
 * The contract of `groups` with the API's middleware and options. `Api` is all groups; a test may
 * serve a part of it (the same endpoints, answering the same way).
 */
export const apiOf = <const Groups extends NonEmptyReadonlyArray<HttpApiGroup.Constraint>>(...groups: Groups) =>
  HttpApi.make("tvtelegrambingx")
    .add(...groups)
    .middleware(RequestErrors)
    .annotate(HttpApi.QueryParseOptions, { errors: "all" })
    .annotate(HttpApi.PayloadParseOptions, { errors: "all", onExcessProperty: "error" })
    .annotateMerge(OpenApi.annotations({
      title: "tvtelegrambingx operator API",
      description: "Bearer API_TOKEN. JSON is snake_case; ids and decimals are strings; errors are {\"error\", \"fields\"}."
    }))

export class Api extends apiOf(SignalsApi, OrdersApi, PnlApi, BotApi, SystemApi) {}
