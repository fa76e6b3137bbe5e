/**
 * Traces, metrics and logs over OTLP (off unless TELEMETRY_ENABLED). TELEMETRY_OTLP_HEADERS is a
 * JSON object of strings, kept `Redacted` (it usually holds an authorization header).
 */
import { Redacted, Result } from "effect"
import { bool, decimalNumber, httpUrl, mapSetting, optionalParsed, optionalText, section, type SettingOf } from "./declare.ts"

const headers = (v: string): Result.Result<Redacted.Redacted<Readonly<Record<string, string>>>, string> => {
  const bad = Result.fail("must be a JSON object of string values")
  let parsed: unknown
  try {
    parsed = JSON.parse(v)
  } catch {
    return bad
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return bad
  const out: Record<string, string> = {}
  for (const [k, value] of Object.entries(parsed)) {
    if (typeof value !== "string") return bad
    out[k] = value
  }
  return Result.succeed(Redacted.make<Readonly<Record<string, string>>>(out))
}

const parts = section({
  enabled: bool("TELEMETRY_ENABLED", false),
  /** Unset: named after the role (see the assembled configuration). */
  serviceName: optionalText("TELEMETRY_SERVICE_NAME", "tvtelegrambingx-backend"),
  otlpEndpoint: httpUrl("TELEMETRY_OTLP_ENDPOINT", "http://localhost:4318"),
  otlpHeaders: optionalParsed("TELEMETRY_OTLP_HEADERS", `'{"Authorization":"Bearer <token>"}'`, headers),
  sampleRatio: decimalNumber("TELEMETRY_SAMPLE_RATIO", 0.1, { min: 0, max: 1 })
})

/** Read by the tracing layer; `serviceName` is completed with the role's default where the whole is assembled. */
export const telemetrySection = mapSetting(parts, ({ otlpHeaders, ...rest }) => ({
  ...rest,
  otlpHeaders: otlpHeaders ?? Redacted.make<Readonly<Record<string, string>>>({})
}))
