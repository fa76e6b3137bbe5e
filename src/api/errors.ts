/**
 * The operator API's error answers. Every one has the body README documents,
 * `{"error": "...", "fields": [{"field", "problem"}]}`, and carries its HTTP status
 * (`httpApiStatus`), so the server renders it, the OpenAPI document lists it and the generated
 * client decodes it from the status alone. `_tag` is for `catchTag` in the program and is not on
 * the wire; `message` is the `error` text.
 */
import { Schema } from "effect"
import { FieldProblem } from "../domain/vocabulary.ts"

const body = { error: Schema.String, fields: Schema.Array(FieldProblem) }

type Fields = ReadonlyArray<FieldProblem>

/** 400: the request could not be read (not JSON, unreadable body). */
export class BadRequest extends Schema.Error<BadRequest>("BadRequest")(body, { httpApiStatus: 400 }) {
  readonly _tag = "BadRequest"
  static of(error: string, fields: Fields = []) {
    return new BadRequest({ error, fields })
  }
  override get message() {
    return this.error
  }
}

/** 401: no operator bearer token, or a wrong one (answered with `www-authenticate: Bearer`). */
export class Unauthorized extends Schema.Error<Unauthorized>("Unauthorized")(body, { httpApiStatus: 401 }) {
  readonly _tag = "Unauthorized"
  static of(error: string, fields: Fields = []) {
    return new Unauthorized({ error, fields })
  }
  override get message() {
    return this.error
  }
}

/** 404: no such record (also for text that cannot be an id). */
export class NotFound extends Schema.Error<NotFound>("NotFound")(body, { httpApiStatus: 404 }) {
  readonly _tag = "NotFound"
  static of(error: string, fields: Fields = []) {
    return new NotFound({ error, fields })
  }
  override get message() {
    return this.error
  }
}

/** 409: the record is not in a state that allows the action; `error` says which state. */
export class Conflict extends Schema.Error<Conflict>("Conflict")(body, { httpApiStatus: 409 }) {
  readonly _tag = "Conflict"
  static of(error: string, fields: Fields = []) {
    return new Conflict({ error, fields })
  }
  override get message() {
    return this.error
  }
}

/** 413: the body is over the route's limit. */
export class PayloadTooLarge extends Schema.Error<PayloadTooLarge>("PayloadTooLarge")(body, { httpApiStatus: 413 }) {
  readonly _tag = "PayloadTooLarge"
  static of(error: string, fields: Fields = []) {
    return new PayloadTooLarge({ error, fields })
  }
  override get message() {
    return this.error
  }
}

/** 422: the query or body does not validate; `fields` names every problem. */
export class Invalid extends Schema.Error<Invalid>("Invalid")(body, { httpApiStatus: 422 }) {
  readonly _tag = "Invalid"
  static of(error: string, fields: Fields = []) {
    return new Invalid({ error, fields })
  }
  override get message() {
    return this.error
  }
}

/** 503: a dependency (the database, the exchange) cannot answer now; try again shortly. */
export class Unavailable extends Schema.Error<Unavailable>("Unavailable")(body, { httpApiStatus: 503 }) {
  readonly _tag = "Unavailable"
  static of(error: string, fields: Fields = []) {
    return new Unavailable({ error, fields })
  }
  override get message() {
    return this.error
  }
}

/** The 503 answer's message when the database cannot be reached (the bot's in-process backend says the same). */
export const DATABASE_UNAVAILABLE = "database unavailable, try again shortly"

/** What every endpoint may answer besides its own errors (the request middleware adds these). */
export const CommonErrors = [BadRequest, PayloadTooLarge, Invalid, Unavailable] as const
