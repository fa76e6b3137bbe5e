/**
 * The HTTP listeners: the API/webhook listener on HOST:PORT (HTTPS when both TLS files are given)
 * and the bot's metrics exporter on BOT_METRICS_HOST:BOT_METRICS_PORT.
 *
 * Invariants: TLS_CERT_FILE and TLS_KEY_FILE are both set or both unset, and name existing files;
 * `allowedHosts` is lower case, `["*"]` when ALLOWED_HOSTS is unset.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import { bool, derive, firstOf, list, mapSetting, port, problem, section, type SettingOf, show, text } from "./declare.ts"

const TLS_EXAMPLE = "/etc/ssl/tvtelegrambingx.pem"

const tls = derive(
  section({
    cert: firstOf("TLS_CERT_FILE", TLS_EXAMPLE, ["UVICORN_SSL_CERTFILE", "TRADINGVIEW_WEBHOOK_SSL_CERTFILE"]),
    key: firstOf("TLS_KEY_FILE", TLS_EXAMPLE, ["UVICORN_SSL_KEYFILE", "TRADINGVIEW_WEBHOOK_SSL_KEYFILE"])
  }),
  ({ cert, key }) => {
    if ((cert === undefined) !== (key === undefined)) {
      const missing = cert === undefined ? "TLS_CERT_FILE" : "TLS_KEY_FILE"
      return Effect.fail(problem(missing, "is required when the other TLS file is set (HTTPS needs both)"))
    }
    for (const f of [cert, key]) {
      if (f !== undefined && !Fs.existsSync(f.value)) return Effect.fail(problem(f.name, `file ${show(f.value)} does not exist`))
    }
    return Effect.succeed({ certFile: cert?.value, keyFile: key?.value })
  }
)

const parts = section({
  host: text("HOST", "0.0.0.0"),
  port: port("PORT", 8000),
  botMetricsEnabled: bool("BOT_METRICS_ENABLED", true),
  botMetricsHost: text("BOT_METRICS_HOST", "0.0.0.0"),
  botMetricsPort: port("BOT_METRICS_PORT", 9000),
  tls,
  forceHttps: bool("FORCE_HTTPS", false),
  allowedHosts: list("ALLOWED_HOSTS", "bot.example.com,api.example.com"),
  trustProxy: bool("TRUST_PROXY", false)
})

/** Read by the HTTP servers and transport (and the webhook guard: `trustProxy`). */
export const httpSection = mapSetting(parts, ({ tls, allowedHosts, ...rest }) => ({
  ...rest,
  tlsCertFile: tls.certFile,
  tlsKeyFile: tls.keyFile,
  /** `["*"]` allows every Host header. */
  allowedHosts: allowedHosts.length === 0 ? ["*"] : allowedHosts.map((h) => h.toLowerCase())
}))
export type HttpSettings = SettingOf<typeof httpSection>
