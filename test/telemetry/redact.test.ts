import { describe, expect, it } from "@effect/vitest"
import { isSecretName, redactFields, redactText } from "../../src/telemetry/redact.ts"

describe("redactText", () => {
  it.each([
    ["/webhook/tradingview/abc123", "/webhook/tradingview/[redacted]"],
    ["https://h/webhook/tradingview/abc123?x=1", "https://h/webhook/tradingview/[redacted]?x=1"],
    ["/webhook/tradingview", "/webhook/tradingview"],
    ["https://api.telegram.org/bot123:AA-b_c/sendMessage", "https://api.telegram.org/bot[redacted]/sendMessage"],
    ["postgres://user:pw@db:5432/x", "postgres://[redacted]@db:5432/x"],
    ["/openApi/swap/v2/trade/order?symbol=BTC-USDT&timestamp=1&signature=deadbeef", "/openApi/swap/v2/trade/order?symbol=BTC-USDT&timestamp=1&signature=[redacted]"],
    ["token=abc&symbol=BTC", "token=[redacted]&symbol=BTC"],
    ["TOKEN=abc\nSYMBOL=BTCUSDT", "TOKEN=[redacted]\nSYMBOL=BTCUSDT"],
    ["{\"passphrase\": \"p\", \"qty\": 1, \"api_key\": 12345}", "{\"passphrase\": \"[redacted]\", \"qty\": 1, \"api_key\": \"[redacted]\"}"],
    // not secrets
    ["monkey=1 keyboard=2 key_count=3 tokens_used=4", "monkey=1 keyboard=2 key_count=3 tokens_used=4"],
    ["order 42 filled at 64000.5", "order 42 filled at 64000.5"],
    ["{\"symbol\": \"BTC-USDT\"}", "{\"symbol\": \"BTC-USDT\"}"]
  ])("%j", (input, expected) => {
    expect(redactText(input)).toBe(expected)
  })
})

describe("isSecretName", () => {
  it("matches secret field names in any case and separator style", () => {
    for (const name of ["token", "TOKEN", "api_key", "apiKey", "X-API-KEY".slice(2), "secret", "Signature", "passphrase", "webhook_token"]) {
      expect(isSecretName(name), name).toBe(true)
    }
    for (const name of ["symbol", "keys", "token_count", "order_id", "tokenizer"]) expect(isSecretName(name), name).toBe(false)
  })
})

describe("redactFields", () => {
  it("replaces values under secret names at any depth and keeps the rest (and the same object when clean)", () => {
    const clean = { symbol: "BTC-USDT", nested: { qty: "1" }, list: [1, "a"] }
    expect(redactFields(clean)).toBe(clean)
    expect(redactFields({ a: { secret: "s", b: [{ token: 1 }] }, key: "" })).toEqual({
      a: { secret: "[redacted]", b: [{ token: "[redacted]" }] },
      key: ""
    })
  })
})
