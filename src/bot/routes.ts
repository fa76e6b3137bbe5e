/**
 * The bot's HTTP routes:
 * - `POST /bot/audit` (the contract's `bot` group, roles api/all): the bot process (role bot) has
 *   no database, so it records its audit rows here; the row is the same as in role all (actor
 *   "telegram").
 * - `POST <path of TELEGRAM_WEBHOOK_URL>` (public, webhook mode only): Telegram's updates, checked
 *   against `TELEGRAM_WEBHOOK_SECRET` (X-Telegram-Bot-Api-Secret-Token) by grammY.
 */
import { ByteSize, Effect, Layer } from "effect"
import { HttpServerRequest } from "effect/http"
import type { Update } from "grammy/types"
import { AuditLog } from "../audit/AuditLog.ts"
import { AuditBody } from "../api/Bot.ts"
import { Invalid } from "../api/errors.ts"
import { decodeFields } from "../api/fields.ts"
import { orUnavailable, readJsonBody } from "../api/server.ts"
import type { FieldProblem } from "../domain/vocabulary.ts"
import { ApiError, errorResponse, json, publicRoute, readBodyText } from "../http/respond.ts"
import { TelegramWebhook } from "./TelegramBot.ts"

/** At most 64 KiB (a Telegram update or an audit entry is far smaller): 413 beyond it. */
const readJson = Effect.gen(function*() {
  const text = yield* readBodyText(ByteSize.kibibytes(64))
  try {
    return JSON.parse(text) as unknown
  } catch {
    return yield* new ApiError({ status: 400, message: "the body must be JSON" })
  }
})

const AUDIT_PROBLEMS: Readonly<Record<string, string>> = {
  actor_id: "must be the Telegram user id as a string of digits",
  username: "must be a string or null",
  action: "must be 1-64 characters of A-Z a-z 0-9 _ . : / - (e.g. command./status)",
  payload: "must be a JSON object",
  result: "must be a string of 1-500 characters"
}

/** Validates a `POST /bot/audit` body with the contract's schema; every problem is named. */
export const validateAudit = (body: unknown) => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { problems: [{ field: "body", problem: "must be a JSON object" }] as ReadonlyArray<FieldProblem> }
  }
  const decoded = decodeFields(AuditBody, body, AUDIT_PROBLEMS, { onExcessProperty: "ignore" })
  if (!decoded.ok) return { problems: decoded.fields }
  const b = decoded.value
  return {
    problems: [] as ReadonlyArray<FieldProblem>,
    entry: {
      actorId: b.actor_id,
      username: b.username ?? null,
      action: b.action,
      payload: b.payload ?? {},
      result: b.result
    }
  }
}

/** `POST /bot/audit` (the contract's `bot` group): records the row, actor "telegram". */
export const recordAudit = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const body = yield* readJsonBody(request, ByteSize.kibibytes(64), "the body must be JSON")
    const { problems, entry } = validateAudit(body)
    if (entry === undefined) return yield* Invalid.of("invalid audit entry", problems)
    const audit = yield* AuditLog
    yield* orUnavailable(audit.record({
      actor: "telegram",
      actorId: entry.actorId,
      action: entry.action,
      payload: { ...entry.payload, username: entry.username },
      result: entry.result
    }))
    return { status: "recorded" as const }
  })

/** Telegram's webhook deliveries (only built in webhook mode; needs `TelegramWebhook`). */
export const telegramWebhookRoute = Layer.unwrap(Effect.gen(function*() {
  const webhook = yield* TelegramWebhook
  return publicRoute(
    "POST",
    webhook.path as `/${string}`,
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const header = request.headers["x-telegram-bot-api-secret-token"]
      const body = yield* readJson
      if (typeof body !== "object" || body === null || typeof (body as { update_id?: unknown }).update_id !== "number") {
        return yield* new ApiError({
          status: 400,
          message: "not a Telegram update",
          fields: [{ field: "update_id", problem: "must be a number" }]
        })
      }
      const outcome = yield* webhook.handle(body as unknown as Update, header)
      return outcome === "unauthorized"
        ? errorResponse(401, "invalid or missing X-Telegram-Bot-Api-Secret-Token")
        : json({ ok: true })
    })
  )
}))
