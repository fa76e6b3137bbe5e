/**
 * At start: where the webhook is and a ready-to-paste TradingView alert message, so an alert can be
 * set up in one step. The log line always shows the secret as `<TRADINGVIEW_WEBHOOK_TOKEN>`; on the
 * first start (the token was just generated) the message with the real secret is printed once to
 * stdout — beside the generated-token banner of `Secrets`, not through the log pipeline (which may
 * be shipped to a log store).
 */
import { Effect, Layer, Redacted } from "effect"
import { ApiListener } from "../http/servers.ts"
import { Secrets } from "../security/Secrets.ts"
import { withSecretsVisibleInLogs } from "../telemetry/logger.ts"
import { WEBHOOK_PATH } from "./routes.ts"
import { WebhookGuard } from "./WebhookGuard.ts"

/** A TradingView strategy alert message using placeholders, for this webhook. */
export const alertMessage = (secret: string): string =>
  JSON.stringify({
    secret,
    symbol: "{{ticker}}",
    action: "{{strategy.order.action}}",
    market_position: "{{strategy.market_position}}",
    prev_market_position: "{{strategy.prev_market_position}}",
    quantity: "{{strategy.order.contracts}}",
    price: "{{close}}",
    timestamp: "{{timenow}}"
  })

export type Printer = (text: string) => void
const stdout: Printer = (text) => {
  process.stdout.write(text)
}

export const announceWebhook = (print: Printer = stdout) =>
  Effect.gen(function*() {
    const listener = yield* ApiListener
    const secrets = yield* Secrets
    const guard = yield* WebhookGuard
    const url = `${listener.url}${WEBHOOK_PATH}`
    const allow = guard.allowlist.length === 0 ? "any address" : guard.allowlist.join(", ")
    yield* Effect.logInfo(
      `TradingView webhook: POST ${url} (accepting ${allow}). TradingView only calls ports 80/443: publish it as https://<your-domain>${WEBHOOK_PATH} through a reverse proxy. Alert message: ${
        alertMessage("<TRADINGVIEW_WEBHOOK_TOKEN>")
      }`
    ).pipe(withSecretsVisibleInLogs) // a placeholder, not the secret: keep `"secret":"<…>"` readable
    if (secrets.generated.includes("TRADINGVIEW_WEBHOOK_TOKEN")) {
      print(
        `\n*** TradingView alert setup (shown only this once)\n*** Webhook URL: https://<your-domain>${WEBHOOK_PATH} (this process: ${url})\n` +
          `*** Alert message:\n${alertMessage(Redacted.value(secrets.webhookToken))}\n\n`
      )
    }
  })

/** Needs ApiListener, Secrets and WebhookGuard (provide it after the API server). */
export const layerAnnounceWebhook = (print?: Printer) => Layer.effectDiscard(announceWebhook(print))
