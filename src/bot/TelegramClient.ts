/**
 * The grammY `Bot` instance of the process (one per token): `TELEGRAM_API_ROOT` honoured, requests
 * bounded (`timeoutSeconds`), and `@grammyjs/auto-retry` installed *bounded*: it honours
 * `retry_after` up to `maxDelaySeconds`, at most `maxRetryAttempts` times, and leaves network errors
 * and 5xx to the caller (its own network retry would loop forever). The notifier's outbox retries
 * those with its own schedule; commands simply report the failure.
 *
 * The Notifier (roles api/all) and the bot (roles all/bot) share this instance in one process.
 */
import { autoRetry } from "@grammyjs/auto-retry"
import { Context, Data, Effect, Layer, Redacted } from "effect"
import { Bot, GrammyError, HttpError } from "grammy"

export interface TelegramClientOptions {
  /** Longest `retry_after` honoured by auto-retry (seconds); longer waits fail the call. */
  readonly maxRetryAfterSeconds?: number
  /** How many times one call is retried after a 429. */
  readonly maxRetryAttempts?: number
  /** Per-request timeout (must exceed the long-polling timeout of 30 s). */
  readonly requestTimeoutSeconds?: number
}

/** A Telegram call failed. `transient`: worth retrying later (network, 5xx, 429). */
export class TelegramCallFailed extends Data.TaggedError("TelegramCallFailed")<{
  readonly method: string
  readonly message: string
  readonly code: number | undefined
  readonly transient: boolean
}> {}

export const toCallFailed = (method: string, e: unknown): TelegramCallFailed => {
  if (e instanceof GrammyError) {
    return new TelegramCallFailed({
      method,
      code: e.error_code,
      message: `${e.error_code} ${e.description}`,
      transient: e.error_code === 429 || e.error_code >= 500
    })
  }
  if (e instanceof HttpError) {
    return new TelegramCallFailed({ method, code: undefined, message: `network error: ${e.message}`, transient: true })
  }
  return new TelegramCallFailed({ method, code: undefined, message: String(e), transient: true })
}

/** "message is not modified": an edit that changes nothing (a second press, a refresh). Harmless. */
export const isNotModified = (e: unknown): boolean =>
  (e instanceof GrammyError && e.description.includes("message is not modified")) ||
  (e instanceof TelegramCallFailed && e.message.includes("message is not modified"))

/** grammY's AbortSignal type (from its abort-controller shim); the platform's signal is compatible at runtime. */
export type ApiSignal = NonNullable<Parameters<Bot["api"]["getMe"]>[0]>

export class TelegramClient extends Context.Service<TelegramClient, {
  readonly bot: Bot
  /** Runs one Bot API call as an Effect (interruptible: the request is aborted). */
  readonly call: <A>(method: string, f: (signal: ApiSignal) => Promise<A>) => Effect.Effect<A, TelegramCallFailed>
}>()("tvtelegrambingx/bot/TelegramClient") {
  static readonly make = (
    token: Redacted.Redacted<string>,
    apiRoot: string,
    options: TelegramClientOptions = {}
  ) =>
    Effect.sync(() => {
      const bot = new Bot(Redacted.value(token), {
        client: { apiRoot, timeoutSeconds: options.requestTimeoutSeconds ?? 60 }
      })
      bot.api.config.use(autoRetry({
        maxRetryAttempts: options.maxRetryAttempts ?? 3,
        maxDelaySeconds: options.maxRetryAfterSeconds ?? 60,
        rethrowHttpErrors: true,
        rethrowInternalServerErrors: true
      }))
      const call = <A>(method: string, f: (signal: ApiSignal) => Promise<A>) =>
        Effect.tryPromise({ try: (signal) => f(signal as unknown as ApiSignal), catch: (e) => toCallFailed(method, e) }).pipe(
          Effect.withSpan(`Telegram.${method}`)
        )
      return TelegramClient.of({ bot, call })
    })

  static readonly layer = (token: Redacted.Redacted<string>, apiRoot: string, options: TelegramClientOptions = {}) =>
    Layer.effect(TelegramClient, TelegramClient.make(token, apiRoot, options))
}
