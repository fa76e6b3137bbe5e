/**
 * How every raw route answers (the probes, the webhooks; the operator API is the HttpApi contract
 * in src/api/): JSON bodies with snake_case fields, errors as
 * `{"error": "...", "fields": [{"field", "problem"}]}` with the right status, never a stack trace.
 *
 * Raw routes are declared with `publicRoute` (listed in `declaredRoutes`, so the public set is
 * pinned by a test); operator endpoints exist only in the contract, behind its bearer middleware,
 * which checks the token with `isOperatorRequest`.
 * Whatever a handler fails with is answered here: `ApiError` as itself, a body over the limit as
 * 413, database outages as 503, anything else as a logged 500. No route reads more than
 * DEFAULT_MAX_BODY of a body unless it sets a smaller limit itself.
 */
import { ByteSize, Data, Effect, Redacted } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { tokensEqual } from "../security/tokens.ts"

import type { FieldProblem } from "../domain/vocabulary.ts"
import { DATABASE_UNAVAILABLE } from "../api/errors.ts"

export type { FieldProblem } from "../domain/vocabulary.ts"
export { DATABASE_UNAVAILABLE } from "../api/errors.ts"

/** An answer other than success, with its status. Handlers fail with it; the route renders it. */
export class ApiError extends Data.TaggedError("ApiError")<{
  readonly status: number
  readonly message: string
  readonly fields?: ReadonlyArray<FieldProblem>
  readonly headers?: Readonly<Record<string, string>>
}> {}

export const json = (body: unknown, status = 200, headers?: Readonly<Record<string, string>>) =>
  HttpServerResponse.jsonUnsafe(body, headers === undefined ? { status } : { status, headers })

export const errorResponse = (
  status: number,
  error: string,
  fields: ReadonlyArray<FieldProblem> = [],
  headers?: Readonly<Record<string, string>>
) => json({ error, fields }, status, headers)

export const UNAUTHORIZED = "missing or invalid bearer token: send Authorization: Bearer <API_TOKEN>"

export const unauthorized = () => errorResponse(401, UNAUTHORIZED, [], { "www-authenticate": "Bearer" })

/**
 * The most any route reads of a request body unless it sets its own (smaller) limit: the body of
 * a route that forgot one cannot fill the memory. Beyond it the answer is 413.
 */
export const DEFAULT_MAX_BODY = ByteSize.kibibytes(256)

export const isBodyTooLarge = (e: unknown): boolean =>
  e instanceof HttpServerError.HttpServerError && e.reason._tag === "RequestParseError" && e.reason.reason === "BodyTooLarge"

/** The request body as text, at most `limit`: 413 beyond it, 400 when it cannot be read. */
export const readBodyText = (limit: ByteSize.ByteSize) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    request.text.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, limit),
      Effect.mapError((e) =>
        isBodyTooLarge(e)
          ? new ApiError({ status: 413, message: `body is larger than ${Number(limit) / 1024} KiB` })
          : new ApiError({ status: 400, message: "could not read the request body" })
      )
    ))

export const isDatabaseFailure = (e: unknown): boolean => {
  const tag = (e as { _tag?: unknown } | null)?._tag
  return tag === "SqlError" || tag === "DatabaseUnavailable"
}

/** Answers every failure of a handler; defects and unknown errors are logged and become 500. */
export const handleFailures = <E, R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  effect.pipe(
    Effect.catchCause((cause) => {
      const failure = cause.reasons.find((r) => r._tag === "Fail")
      const error = failure?._tag === "Fail" ? failure.error : undefined
      if (error instanceof ApiError) {
        return Effect.succeed(errorResponse(error.status, error.message, error.fields ?? [], error.headers))
      }
      if (isBodyTooLarge(error)) return Effect.succeed(errorResponse(413, "request body is too large"))
      if (isDatabaseFailure(error)) {
        return Effect.as(
          Effect.logWarning("request failed: database unavailable", cause),
          errorResponse(503, DATABASE_UNAVAILABLE)
        )
      }
      if (cause.reasons.every((r) => r._tag === "Interrupt")) return Effect.failCause(cause as never)
      return Effect.as(Effect.logError("request failed", cause), errorResponse(500, "internal error"))
    })
  )

/** The bearer token of the request, if any. */
const bearerOf = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const header = request.headers["authorization"]
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** True when the request carries the operator bearer token (constant-time compare). */
export const isOperatorRequest = (request: HttpServerRequest.HttpServerRequest, apiToken: Redacted.Redacted<string>): boolean => {
  const given = bearerOf(request)
  return given !== undefined && tokensEqual(given, Redacted.value(apiToken))
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "*"

export interface DeclaredRoute {
  readonly method: Method
  readonly path: string
  readonly access: "public"
}

/**
 * Every raw route declared through `publicRoute` so far (when its module is loaded, or its layer
 * built). A test pins this set: the public routes must be exactly the intended few.
 */
export const declaredRoutes: Array<DeclaredRoute> = []

const declare = (method: Method, path: HttpRouter.PathInput, access: DeclaredRoute["access"]) => {
  if (!declaredRoutes.some((r) => r.method === method && r.path === path && r.access === access)) {
    declaredRoutes.push({ method, path, access })
  }
}

const bounded = <A, E, R>(handler: Effect.Effect<A, E, R>) =>
  Effect.provideService(handler, HttpIncomingMessage.MaxBodySize, DEFAULT_MAX_BODY)

/** A route anyone may call (health, metrics, the webhook with its own token check). */
export const publicRoute = <E, R>(
  method: Method,
  path: HttpRouter.PathInput,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) => {
  declare(method, path, "public")
  return HttpRouter.add(method, path, handleFailures(bounded(handler)))
}
