/**
 * The TradingView webhook body, read as text whatever the Content-Type (pure, no I/O).
 *
 * TradingView posts the alert message as typed by the user after placeholder substitution:
 * `application/json` when it parses as JSON, `text/plain` otherwise. Accepted shapes:
 * - a JSON object (numbers keep their exact source text: `0.10000000000000000001` stays exact);
 * - `KEY=VALUE` entries, one per line or separated by `;` (case-insensitive keys, OctoBot style).
 * Anything else is a `BodyProblem` (answered 400).
 *
 * Keys are looked up normalised (lowercase, without separators), so `stop_loss`, `stopLoss`,
 * `Stop-Loss` and `STOPLOSS` are the same field. The secret fields are redacted in `raw`, the
 * version of the body that is stored (`signals.raw_payload`).
 */

/** A JSON number with its exact source text (`JSON.rawJSON`), or any other JSON value. */
export type JsonNumber = { readonly rawJSON: string }

export interface ParsedBody {
  readonly format: "json" | "text"
  /** Top-level fields by normalised key (first occurrence wins). JSON numbers are `JsonNumber`s. */
  readonly fields: ReadonlyMap<string, unknown>
  /** The sender's spelling of each normalised key (problems name the field as it was sent). */
  readonly names: ReadonlyMap<string, string>
  /** What is stored in `signals.raw_payload`: the body with secret values replaced by "[redacted]". */
  readonly raw: unknown
}

export interface BodyProblem {
  readonly message: string
}

/** Limits that keep parsing cheap and the stored payload sane. */
export const MAX_DEPTH = 32
const MAX_TEXT_KEY_LENGTH = 64

export const REDACTED = "[redacted]"

/** Normalised field name: lowercase ASCII letters and digits only. */
export const normaliseKey = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, "")

/** Fields that may carry the webhook token (in this order), as the issue specifies. */
export const TOKEN_FIELDS: ReadonlyArray<string> = ["secret", "passphrase", "token", "key"]

/** Keys whose values are never stored: the token fields and anything that looks like a credential. */
export const isSecretKey = (key: string): boolean => {
  const k = normaliseKey(key)
  return k === "key" || k.includes("secret") || k.includes("token") || k.includes("passphrase") ||
    k.includes("password") || k.endsWith("apikey") || k.endsWith("authkey")
}

const isJsonNumber = (v: unknown): v is JsonNumber =>
  typeof v === "object" && v !== null && (JSON as unknown as { isRawJSON(v: unknown): boolean }).isRawJSON(v)

export const jsonNumberSource = (v: unknown): string | undefined => (isJsonNumber(v) ? v.rawJSON : undefined)

const rawJSON = (source: string): JsonNumber =>
  (JSON as unknown as { rawJSON(s: string): JsonNumber }).rawJSON(source)

type Reviver = (this: unknown, key: string, value: unknown, context?: { readonly source?: string }) => unknown

/** Keeps each JSON number's exact text (Node ≥ 21: reviver `context.source`). */
const keepNumberSource: Reviver = (_key, value, context) =>
  typeof value === "number" && context?.source !== undefined ? rawJSON(context.source) : value

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !isJsonNumber(v)

/** Depth of a JSON value, computed without recursion (a hostile body cannot blow the stack). */
const depthExceeds = (root: unknown, limit: number): boolean => {
  const stack: Array<readonly [unknown, number]> = [[root, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (depth > limit) return true
    if (Array.isArray(value)) {
      for (const v of value) if (typeof v === "object" && v !== null) stack.push([v, depth + 1])
    } else if (isPlainObject(value)) {
      for (const v of Object.values(value)) if (typeof v === "object" && v !== null) stack.push([v, depth + 1])
    }
  }
  return false
}

/** Postgres `text`/`jsonb` refuse NUL and lone surrogates: replace them (only in what is stored). */
const storableString = (s: string): string => s.replace(/\u0000/g, "\uFFFD").toWellFormed()

/** A JSON number as stored: its exact text when it is a plain decimal, else the text as a string. */
const storableNumber = (source: string): unknown =>
  /^-?\d{1,40}(\.\d{1,40})?$/.test(source) ? rawJSON(source) : source

/** The stored copy of a JSON value: secrets redacted (at any depth), strings made storable. */
const redactJson = (value: unknown): unknown => {
  if (typeof value === "string") return storableString(value)
  if (isJsonNumber(value)) return storableNumber(value.rawJSON)
  if (Array.isArray(value)) return value.map(redactJson)
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, storableString(k), {
        value: isSecretKey(k) ? REDACTED : redactJson(v),
        enumerable: true,
        writable: true,
        configurable: true
      })
    }
    return out
  }
  return value
}

const fieldsOf = (object: Record<string, unknown>) => {
  const fields = new Map<string, unknown>()
  const names = new Map<string, string>()
  for (const [k, v] of Object.entries(object)) {
    const key = normaliseKey(k)
    if (key.length > 0 && !fields.has(key)) {
      fields.set(key, v)
      names.set(key, k.length > 64 ? key : k)
    }
  }
  return { fields, names }
}

const describeJsonType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "an array" : isJsonNumber(v) ? "a number" : `a ${typeof v}`

type Parsed = { readonly ok: true; readonly body: ParsedBody } | { readonly ok: false; readonly problem: BodyProblem }

const fail = (message: string): Parsed => ({ ok: false, problem: { message } })

/**
 * Whether a JSON text may hold a number token: in JSON a number always follows `:`, `[` or `,`
 * (whitespace aside) unless it is the whole text, which `parseJson` never gets (it starts with
 * `{`, `[` or `"`). Without one, a plain `JSON.parse` gives exactly what the (much slower)
 * source-keeping reviver gives, since the reviver only replaces numbers. A match inside a string is
 * only a false alarm (the reviver then runs).
 */
const MAY_HOLD_NUMBER = /[:[,]\s*-?\d/

const parseJson = (text: string): Parsed => {
  let value: unknown
  try {
    value = MAY_HOLD_NUMBER.test(text) ? JSON.parse(text, keepNumberSource as never) : JSON.parse(text)
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e)
    const hint = /\{\{[^}]*\}\}/.test(text)
      ? " (it contains a placeholder such as {{close}} that TradingView did not substitute, or an unquoted one; quote placeholders: \"price\": \"{{close}}\")"
      : ""
    return fail(`body looks like JSON but does not parse: ${detail}${hint}`)
  }
  if (!isPlainObject(value)) {
    return fail(`body must be a JSON object (or KEY=VALUE lines), got ${describeJsonType(value)}`)
  }
  if (depthExceeds(value, MAX_DEPTH)) return fail(`body nests deeper than ${MAX_DEPTH} levels`)
  return { ok: true, body: { format: "json", ...fieldsOf(value), raw: { format: "json", body: redactJson(value) } } }
}

const TEXT_KEY = /^[A-Za-z_][A-Za-z0-9_.\- ]*$/

const unquote = (v: string): string =>
  v.length >= 2 && ((v.startsWith("\"") && v.endsWith("\"")) || (v.startsWith("'") && v.endsWith("'")))
    ? v.slice(1, -1)
    : v

/**
 * `KEY=VALUE` entries separated by newlines or `;`. A `;` that is not followed by a `KEY=` belongs
 * to the value (`ACTIONS=long_buy;short_sell`). Blank lines and `#` comment lines are skipped.
 */
const parseText = (text: string): Parsed => {
  const fields = new Map<string, unknown>()
  const names = new Map<string, string>()
  const stored: Record<string, string> = {}
  const redactedLines: Array<string> = []
  const lines = text.split(/\r\n|\r|\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const trimmed = line.trim()
    if (trimmed.length === 0 || trimmed.startsWith("#")) {
      redactedLines.push(line)
      continue
    }
    // Split on ';' and glue back segments that do not start a new KEY=.
    const entries: Array<{ key: string; value: string }> = []
    for (const segment of line.split(";")) {
      const eq = segment.indexOf("=")
      const key = eq === -1 ? "" : segment.slice(0, eq).trim()
      if (eq !== -1 && TEXT_KEY.test(key) && key.length <= MAX_TEXT_KEY_LENGTH) {
        entries.push({ key, value: segment.slice(eq + 1) })
      } else if (entries.length > 0) {
        entries[entries.length - 1]!.value += `;${segment}`
      } else if (segment.trim().length > 0) {
        const shown = trimmed.length > 40 ? `${trimmed.slice(0, 37)}...` : trimmed
        return fail(
          `body is neither a JSON object nor KEY=VALUE lines (line ${i + 1}: ${JSON.stringify(shown)} is not KEY=VALUE)`
        )
      }
    }
    const parts: Array<string> = []
    for (const { key, value } of entries) {
      const v = unquote(value.trim())
      const k = normaliseKey(key)
      if (k.length > 0 && !fields.has(k)) {
        fields.set(k, v)
        names.set(k, key)
      }
      const secret = isSecretKey(key)
      Object.defineProperty(stored, storableString(key), {
        value: secret ? REDACTED : storableString(v),
        enumerable: true,
        writable: true,
        configurable: true
      })
      parts.push(`${key}=${secret ? REDACTED : value.trim()}`)
    }
    redactedLines.push(parts.join(";"))
  }
  if (fields.size === 0) return fail("body is empty: send a JSON object or KEY=VALUE lines")
  return {
    ok: true,
    body: {
      format: "text",
      fields,
      names,
      raw: { format: "text", fields: stored, text: storableString(redactedLines.join("\n")) }
    }
  }
}

/**
 * `a=1&b=2` sent as `application/x-www-form-urlencoded` (some relays do): the same entries as
 * KEY=VALUE lines.
 */
const formAsLines = (text: string): string | undefined => {
  try {
    const lines: Array<string> = []
    for (const [k, v] of new URLSearchParams(text)) {
      if (/[\r\n;]/.test(k) || /[\r\n]/.test(v)) return undefined
      lines.push(`${k}=${v}`)
    }
    return lines.length > 0 ? lines.join("\n") : undefined
  } catch {
    return undefined
  }
}

/**
 * Parses a webhook body (already decoded as UTF-8 text) whatever its Content-Type: a JSON object,
 * KEY=VALUE lines, or (only when declared `application/x-www-form-urlencoded`) `a=1&b=2`.
 */
export const parseBody = (text: string, contentType?: string): Parsed => {
  const trimmed = text.trim()
  if (trimmed.length === 0) return fail("body is empty: send a JSON object or KEY=VALUE lines")
  const first = trimmed[0]
  if (first === "{" || first === "[" || first === "\"") return parseJson(trimmed)
  if (
    contentType !== undefined && /^\s*application\/x-www-form-urlencoded/i.test(contentType) &&
    !/[\r\n]/.test(trimmed) && trimmed.includes("&")
  ) {
    const lines = formAsLines(trimmed)
    if (lines !== undefined) return parseText(lines)
  }
  // A bare JSON scalar (number, true, null) is not a KEY=VALUE body either.
  if (!trimmed.includes("=")) {
    try {
      const value: unknown = JSON.parse(trimmed)
      return fail(`body must be a JSON object (or KEY=VALUE lines), got ${describeJsonType(value)}`)
    } catch {
      // fall through to the text parser for its message
    }
  }
  return parseText(text)
}

/**
 * The webhook token carried by a body that did not parse, when it can still be recognised
 * (`"secret": "…"` in broken JSON, or a `TOKEN=` line): lets an authenticated sender get the real
 * parse error instead of a 401.
 */
export const tokenFromUnparsedBody = (text: string): string | undefined => {
  const json = /"(secret|passphrase|token|key)"\s*:\s*"([^"\\]{1,512})"/i.exec(text)
  if (json) return json[2]
  const line = /(?:^|[\r\n;])\s*(secret|passphrase|token|key)\s*=\s*([^\r\n;]{1,512})/i.exec(text)
  return line ? unquote(line[2]!.trim()) : undefined
}

/** The token carried in a parsed body, if any (`secret`, `passphrase`, `token`, `key`, in that order). */
export const tokenFromBody = (body: ParsedBody): string | undefined => {
  for (const field of TOKEN_FIELDS) {
    const v = body.fields.get(field)
    if (typeof v === "string" && v.trim().length > 0) return v.trim()
    const n = jsonNumberSource(v)
    if (n !== undefined) return n
  }
  return undefined
}

/**
 * JSON text for a Postgres `jsonb` column. `jsonb` refuses the NUL character and lone UTF-16
 * surrogates (`\u0000`, `\ud800`) anywhere, keys included; they become U+FFFD so that any body can
 * be stored. `JSON.stringify` writes exactly those as `\uXXXX` escapes (valid surrogate pairs are
 * written as characters), so only real escapes are replaced — not an escaped backslash followed by
 * the letters "u0000".
 */
export const jsonForPostgres = (value: unknown): string => {
  const json = JSON.stringify(value)
  // Almost every body has no escape at all: skip the scan then.
  return json.includes("\\u")
    ? json.replace(/(?<!\\)((?:\\\\)*)\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/g, "$1\\ufffd")
    : json
}
