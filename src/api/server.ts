/**
 * The operator API served (roles api and all): the contract's groups, implemented beside their
 * services (`src/<feature>/routes.ts`), behind its two middlewares, plus `GET /openapi.json` (the
 * document derived from the contract; public: it holds no data and documents the bearer scheme
 * itself, so tools read it without a token).
 *
 * - `Operator`: the bearer token (constant-time compare) or a 401 with `www-authenticate: Bearer`
 *   — before anything of the request is decoded.
 * - `RequestErrors`: decode failures of query, path or body → 422 listing every field problem;
 *   a body over DEFAULT_MAX_BODY → 413; database failures that reach it → 503 with
 *   DATABASE_UNAVAILABLE; defects → a logged 500 `{"error": "internal error"}`. Nothing answers
 *   with a stack trace.
 */
import { type ByteSize, Cause, Effect, Layer } from "effect"
import { HttpIncomingMessage, HttpServerRequest, type HttpServerResponse } from "effect/http"
import { HttpApiBuilder, type HttpApiGroup } from "effect/http-api"
import { HttpApiSchemaError } from "effect/http-api/HttpApiError"
import type * as HttpApi from "effect/http-api/HttpApi"
import type { FieldProblem } from "../domain/vocabulary.ts"
import {
  DEFAULT_MAX_BODY,
  errorResponse,
  isBodyTooLarge,
  isDatabaseFailure,
  isOperatorRequest,
  unauthorized
} from "../http/respond.ts"
import { Secrets } from "../security/Secrets.ts"
import { BadRequest, DATABASE_UNAVAILABLE, Invalid, PayloadTooLarge, Unavailable } from "./errors.ts"
import { problemsOf } from "./fields.ts"
import { Operator, RequestErrors } from "./middleware.ts"

export const OPENAPI_PATH = "/openapi.json"

/** The bearer check of every operator endpoint. */
export const OperatorLive = Layer.effect(
  Operator,
  Effect.gen(function*() {
    const { apiToken } = yield* Secrets
    return Operator.of({
      bearer: (httpEffect) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          isOperatorRequest(request, apiToken) ? httpEffect : Effect.succeed(unauthorized()))
    })
  })
)


const SLOT_MESSAGE: Record<HttpApiSchemaError["kind"], string> = {
  Params: "invalid path",
  Headers: "invalid headers",
  Query: "invalid query",
  Payload: "invalid body",
  Body: "internal error",
  ResponseHeaders: "internal error"
}

/** The field problems of a decode failure: one per issue, named by its path. */
export const fieldProblems = (error: HttpApiSchemaError): ReadonlyArray<FieldProblem> =>
  problemsOf(error.cause.issue, error.kind === "Query" ? "query" : "body")

/** 422 / 413 / 503 / 500 as the module comment says. */
const renderRequestErrors = (
  httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown>
): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown> =>
  httpEffect.pipe(
      Effect.catch((e: unknown): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown> => {
        if (HttpApiSchemaError.is(e) && e.kind !== "Body" && e.kind !== "ResponseHeaders") {
          return Effect.fail(Invalid.of(SLOT_MESSAGE[e.kind], fieldProblems(e)))
        }
        if (isDatabaseFailure(e)) {
          return Effect.as(
            Effect.logWarning("request failed: database unavailable", e),
            errorResponse(503, DATABASE_UNAVAILABLE)
          )
        }
        return Effect.fail(e)
      }),
      Effect.catchCause((cause): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown> => {
        if (Cause.hasInterruptsOnly(cause) || cause.reasons.some((r) => r._tag === "Fail")) return Effect.failCause(cause)
        const defect = cause.reasons.find((r) => r._tag === "Die")
        if (defect?._tag === "Die" && isBodyTooLarge(defect.defect)) {
          return Effect.fail(PayloadTooLarge.of("request body is too large"))
        }
        return Effect.as(Effect.logError("request failed", cause), errorResponse(500, "internal error"))
      }),
      Effect.provideService(HttpIncomingMessage.MaxBodySize, DEFAULT_MAX_BODY)
    )

export const RequestErrorsLive = Layer.succeed(RequestErrors, RequestErrors.of(renderRequestErrors as never))

/** Maps the database's failures of a service call to the 503 every endpoint may answer. */
export const orUnavailable = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, { readonly _tag: "SqlError" | "DatabaseUnavailable" }> | Unavailable, R> =>
  Effect.catchIf(
    effect,
    (e): e is Extract<E, { readonly _tag: "SqlError" | "DatabaseUnavailable" }> => isDatabaseFailure(e),
    (e) => Effect.as(Effect.logWarning("request failed: database unavailable", e), Unavailable.of(DATABASE_UNAVAILABLE)).pipe(
      Effect.flatMap(Effect.fail)
    )
  ) as never

/**
 * The routes of `api` (the whole contract, or a part of it in tests) with its middlewares and
 * the OpenAPI document; `groups` implements every group of `api`.
 */
export const layerApiRoutes = <Id extends string, Groups extends HttpApiGroup.Constraint, E, R>(
  api: HttpApi.HttpApi<Id, Groups>,
  groups: Layer.Layer<HttpApiGroup.ToService<Id, Groups>, E, R>
) =>
  HttpApiBuilder.layer(api, { openapiPath: OPENAPI_PATH }).pipe(
    Layer.provide(groups),
    Layer.provide([OperatorLive, RequestErrorsLive])
  )

/**
 * The JSON body of a raw-handled endpoint (one whose problems are worded per field): at most
 * `limit` (413 beyond it), 400 with `notJson` when it is not JSON.
 */
export const readJsonBody = (request: HttpServerRequest.HttpServerRequest, limit: ByteSize.ByteSize, notJson: string) =>
  request.text.pipe(
    Effect.provideService(HttpIncomingMessage.MaxBodySize, limit),
    Effect.mapError((e) =>
      isBodyTooLarge(e) ? PayloadTooLarge.of(`body is larger than ${Number(limit) / 1024} KiB`) : BadRequest.of("could not read the request body")
    ),
    Effect.flatMap((text) =>
      Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => BadRequest.of(notJson) })
    )
  )
