/**
 * The two middlewares of the operator API (their definitions; the server implements them in
 * src/api/server.ts, the bot's client in src/bot/backendHttp.ts):
 * - `Operator`: every operator group requires `Authorization: Bearer <API_TOKEN>`; anything else
 *   is answered 401 with `www-authenticate: Bearer` before the request is decoded.
 * - `RequestErrors` (on the whole API): a query, path or body that does not decode is answered
 *   422 with every field problem; a body over the limit 413; an unreadable one 400; a database
 *   outage 503. Handlers may fail with these errors too.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { CommonErrors, Unauthorized } from "./errors.ts"

export class Operator extends HttpApiMiddleware.Service<Operator>()("tvtelegrambingx/api/Operator", {
  security: { bearer: HttpApiSecurity.bearer },
  error: Unauthorized,
  requiredForClient: true
}) {}

export class RequestErrors extends HttpApiMiddleware.Service<RequestErrors>()("tvtelegrambingx/api/RequestErrors", {
  error: CommonErrors
}) {}
