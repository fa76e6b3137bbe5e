/**
 * The bot's HTTP routes:
 * - `POST /bot/audit` (operator, roles api/all): the bot process (role bot) has no database, so it
 *   records its audit rows here; the row is the same as in role all (actor "telegram").
 * - `POST <path of TELEGRAM_WEBHOOK_URL>` (public, webhook mode only): Telegram's updates, checked
 *   against `TELEGRAM_WEBHOOK_SECRET` (X-Telegram-Bot-Api-Secret-Token) by grammY.
 */
import { ByteSize, Effect, Layer } from "effect"
import { HttpServerRequest } from "effect/http"
import type { Update } from "grammy/types"
import { AuditLog } from "../audit/AuditLog.ts"
import type { FieldProblem } from "../domain/vocabulary.ts"
import { ApiError, errorResponse, json, operatorRoute, publicRoute, readBodyText } from "../http/respond.ts"
import { TelegramWebhook } from "./TelegramBot.ts"

const ACTION = /^[A-Za-z0-9_.:/-]{1,64}$/

/** At most 64 KiB (a Telegram update or an audit entry is far smaller): 413 beyond it. */
const readJson = Effect.gen(function*() {
  const text = yield* readBodyText(ByteSize.kibibytes(64))
  try {
    return JSON.parse(text) as unknown
  } catch {
    return yield* new ApiError({ status: 400, message: "the body must be JSON" })
  }
})

/** Validates a `POST /bot/audit` body; every problem is named. */
export const validateAudit = (body: unknown) => {
  const problems: Array<FieldProblem> = []
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { problems: [{ field: "body", problem: "must be a JSON object" }] as ReadonlyArray<FieldProblem> }
  }
  const b = body as Record<string, unknown>
  if (typeof b.actor_id !== "string" || !/^\d{1,20}$/.test(b.actor_id)) {
    problems.push({ field: "actor_id", problem: "must be the Telegram user id as a string of digits" })
  }
  if (b.username !== undefined && b.username !== null && typeof b.username !== "string") {
    problems.push({ field: "username", problem: "must be a string or null" })
  }
  if (typeof b.action !== "string" || !ACTION.test(b.action)) {
    problems.push({ field: "action", problem: "must be 1-64 characters of A-Z a-z 0-9 _ . : / - (e.g. command./status)" })
  }
  if (b.payload !== undefined && (typeof b.payload !== "object" || b.payload === null || Array.isArray(b.payload))) {
    problems.push({ field: "payload", problem: "must be a JSON object" })
  }
  if (typeof b.result !== "string" || b.result.length === 0 || b.result.length > 500) {
    problems.push({ field: "result", problem: "must be a string of 1-500 characters" })
  }
  if (problems.length > 0) return { problems: problems as ReadonlyArray<FieldProblem> }
  return {
    problems: [] as ReadonlyArray<FieldProblem>,
    entry: {
      actorId: b.actor_id as string,
      username: (b.username as string | null | undefined) ?? null,
      action: b.action as string,
      payload: (b.payload as Record<string, unknown> | undefined) ?? {},
      result: b.result as string
    }
  }
}

export const auditRoute = operatorRoute(
  "POST",
  "/bot/audit",
  Effect.gen(function*() {
    const body = yield* readJson
    const { problems, entry } = validateAudit(body)
    if (entry === undefined) return yield* new ApiError({ status: 422, message: "invalid audit entry", fields: problems })
    const audit = yield* AuditLog
    yield* audit.record({
      actor: "telegram",
      actorId: entry.actorId,
      action: entry.action,
      payload: { ...entry.payload, username: entry.username },
      result: entry.result
    })
    return json({ status: "recorded" }, 201)
  })
)

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
