/**
 * Secrets that can hide in telemetry although nobody logged them on purpose: URLs (the webhook
 * token as a path segment or `?token=`, a Telegram bot token in `/bot<token>/`, a BingX request
 * signature, `user:password@` in a database URL) recorded by HTTP spans or written into a log
 * message, and values under secret-sounding keys in structured log fields. `Redacted` values never
 * need this (they print as `<redacted>`); this is the second line of defence.
 */

export const REDACTED = "[redacted]"

const SECRET_WORDS = [
  "token",
  "secret",
  "passphrase",
  "password",
  "passwd",
  "key",
  "apikey",
  "apisecret",
  "signature",
  "sig",
  "authorization",
  "webhooktoken",
  "bottoken",
  "accesstoken",
  "refreshtoken",
  "privatekey",
  "secretkey",
  "clientsecret"
]
const SECRET_NAME = new RegExp(`^(${SECRET_WORDS.join("|")})$`)

/** Whether a field or query parameter name holds a secret (case-insensitive; `-`, `_`, `.` ignored). */
export const isSecretName = (name: string): boolean => SECRET_NAME.test(name.toLowerCase().replace(/[-_.]/g, ""))

const WEBHOOK_PATH_TOKEN = /(\/webhook\/tradingview\/)[^/?#\s"']+/gi
const TELEGRAM_BOT_TOKEN = /(\/bot)\d+:[A-Za-z0-9_-]+/g
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s?#"']+@/gi
// name=value at the start, after ? & ; or whitespace (query strings, "KEY=VALUE" lines)
const NAME_VALUE = /(^|[?&;\s])([A-Za-z][A-Za-z0-9_.-]*)=([^&;\s#"']+)/g
// "name": "value" / "name": 123 inside JSON text (a body or object serialised into a string)
const JSON_MEMBER = /("([A-Za-z][A-Za-z0-9_.-]*)"\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*)/g

/**
 * A URL, path, query string or free text with its secrets replaced: webhook path tokens, Telegram
 * bot tokens, URL userinfo, and the values of secret-named `name=value` pairs and JSON members
 * (`"token": "…"`). Cheap when there is nothing to replace.
 */
export const redactText = (value: string): string => {
  let out = value
  if (out.includes("/")) {
    out = out.replace(WEBHOOK_PATH_TOKEN, `$1${REDACTED}`)
      .replace(TELEGRAM_BOT_TOKEN, `$1${REDACTED}`)
      .replace(USERINFO, `$1${REDACTED}@`)
  }
  if (out.includes("\"")) {
    out = out.replace(JSON_MEMBER, (whole, head: string, name: string) =>
      isSecretName(name) ? `${head}"${REDACTED}"` : whole)
  }
  if (out.includes("=")) {
    out = out.replace(NAME_VALUE, (whole, lead: string, name: string) =>
      isSecretName(name) ? `${lead}${name}=${REDACTED}` : whole)
  }
  return out
}

/** Span attributes that carry URLs, paths or queries. */
export const URL_ATTRIBUTES: ReadonlyArray<string> = [
  "url.full",
  "url.path",
  "url.query",
  "http.url",
  "http.target",
  "error.request.url"
]

/**
 * A copy of a structured log value with secrets replaced: values (strings, numbers) under
 * secret-sounding keys, and `redactText` on every string. Depth-limited; returns the same value
 * when nothing had to change.
 */
export const redactFields = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string") return redactText(value)
  if (depth > 6 || value === null || typeof value !== "object") return value
  if (Array.isArray(value)) {
    let changed = false
    const out = value.map((v) => {
      const r = redactFields(v, depth + 1)
      if (r !== v) changed = true
      return r
    })
    return changed ? out : value
  }
  let copy: Record<string, unknown> | undefined
  for (const [k, v] of Object.entries(value)) {
    const r = isSecretName(k) && (typeof v === "string" || typeof v === "number") && v !== ""
      ? REDACTED
      : redactFields(v, depth + 1)
    if (r !== v) {
      copy ??= { ...(value as Record<string, unknown>) }
      copy[k] = r
    }
  }
  return copy ?? value
}
