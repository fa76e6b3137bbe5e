/**
 * Client address, TRADINGVIEW_IP_ALLOWLIST, TRUST_PROXY and the per-address rate limit — as pure
 * functions, and through the real app.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { HttpServerRequest } from "effect/http"
import { AppConfig } from "../../src/config.ts"
import { clientAddress, makeRateLimiter, normaliseIp, parseAllowEntry, WebhookGuard } from "../../src/signals/WebhookGuard.ts"
import { count, layerTestApp, postWebhook, request, WEBHOOK_TOKEN } from "./support.ts"

const fakeRequest = (remote: string, headers: Record<string, string> = {}) =>
  HttpServerRequest.fromWeb(new Request("http://127.0.0.1/webhook/tradingview", { method: "POST", headers })).modify({
    remoteAddress: Option.some(remote)
  })

describe("client address and allowlist rules", () => {
  it("normalises IPv4-mapped, bracketed and zoned addresses", () => {
    expect(normaliseIp("::ffff:52.89.214.238")).toBe("52.89.214.238")
    expect(normaliseIp("[2001:DB8::1]")).toBe("2001:db8::1")
    expect(normaliseIp("fe80::1%eth0")).toBe("fe80::1")
  })

  it("reads tradingview, addresses and IPv4 CIDR blocks; refuses anything else", () => {
    const matches = (entry: string, ip: string) => parseAllowEntry(entry)!.some((r) => r.matches(ip))
    expect(parseAllowEntry("tradingview")!.map((r) => r.text)).toEqual([
      "52.89.214.238",
      "34.212.75.30",
      "54.218.53.128",
      "52.32.178.7"
    ])
    expect(matches("tradingview", "54.218.53.128")).toBe(true)
    expect(matches("tradingview", "54.218.53.129")).toBe(false)
    expect(matches("10.0.0.0/8", "10.200.3.4")).toBe(true)
    expect(matches("10.0.0.0/8", "11.0.0.1")).toBe(false)
    expect(matches("0.0.0.0/0", "8.8.8.8")).toBe(true)
    expect(matches("2001:db8::1", "2001:db8::1")).toBe(true)
    expect(parseAllowEntry("example.com")).toBeUndefined()
    expect(parseAllowEntry("10.0.0.0/33")).toBeUndefined()
    expect(parseAllowEntry("300.1.1.1")).toBeUndefined()
  })

  it("uses the socket address unless TRUST_PROXY; then the LAST X-Forwarded-For hop", () => {
    const r = fakeRequest("::ffff:10.0.0.5", { "x-forwarded-for": "1.1.1.1, 52.89.214.238" })
    expect(clientAddress(r, false)).toBe("10.0.0.5")
    expect(clientAddress(r, true)).toBe("52.89.214.238")
    expect(clientAddress(fakeRequest("10.0.0.5", { "x-real-ip": "34.212.75.30" }), true)).toBe("34.212.75.30")
    expect(clientAddress(fakeRequest("10.0.0.5"), true)).toBe("10.0.0.5")
  })

  it("rate limit: a token bucket per address, refilled over the minute", () => {
    const limiter = makeRateLimiter(3)
    expect([0, 1, 2].map(() => limiter.take("a", 0))).toEqual([0, 0, 0])
    expect(limiter.take("a", 0)).toBe(20)
    expect(limiter.take("b", 0)).toBe(0)
    expect(limiter.take("a", 20_000)).toBe(0)
    expect(limiter.take("a", 20_000)).toBeGreaterThan(0)
    expect(makeRateLimiter(0).take("a", 0)).toBe(0)
  })

  it.effect("an unreadable allowlist entry stops start-up with a one-line configuration error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(WebhookGuard.layer.pipe(Layer.provide(AppConfig.layerFrom({ TRADINGVIEW_IP_ALLOWLIST: "tradingview,my-host" }))))
      )
      expect(error._tag).toBe("ConfigInvalid")
      expect(error.message).toContain("TRADINGVIEW_IP_ALLOWLIST: \"my-host\" is not an IP address")
    }).pipe(Effect.scoped))
})

const env = { TRADINGVIEW_IP_ALLOWLIST: "tradingview, 10.1.2.0/24", TRUST_PROXY: "true", WEBHOOK_RATE_LIMIT_PER_MINUTE: "3" }

layer(layerTestApp(env), { excludeTestServices: true, timeout: "120 seconds" })("webhook guard (real app)", (it) => {
  const alert = (id: string) => ({ secret: WEBHOOK_TOKEN, symbol: "BTCUSDT", action: "buy", qty: "1", id })

  it.effect("only allowlisted senders get in; the proxy's last hop is the client", () =>
    Effect.gen(function*() {
      const before = yield* count("signals")
      const direct = yield* postWebhook(alert("g-1"))
      expect(direct.status).toBe(403)
      expect(direct.json.error).toContain("address 127.0.0.1 is not in TRADINGVIEW_IP_ALLOWLIST")
      const spoofed = yield* postWebhook(alert("g-2"), { headers: { "x-forwarded-for": "52.89.214.238, 9.9.9.9" } })
      expect(spoofed.status).toBe(403)
      const viaProxy = yield* postWebhook(alert("g-3"), { headers: { "x-forwarded-for": "9.9.9.9, 52.89.214.238" } })
      expect(viaProxy.status).toBe(201)
      const cidr = yield* postWebhook(alert("g-4"), { headers: { "x-forwarded-for": "10.1.2.77" } })
      expect(cidr.status).toBe(201)
      expect(yield* count("signals")).toBe(before + 2)
      expect((yield* request("/metrics")).text).toMatch(/tradingview_webhook_rejections_total\{reason="forbidden_ip"\} 2/)
    }))

  it.effect("more than WEBHOOK_RATE_LIMIT_PER_MINUTE from one address → 429 with Retry-After; others unaffected", () =>
    Effect.gen(function*() {
      const from = (ip: string, id: string) => postWebhook(alert(id), { headers: { "x-forwarded-for": ip } })
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++) statuses.push((yield* from("34.212.75.30", `r-${i}`)).status)
      expect(statuses).toEqual([201, 201, 201])
      const limited = yield* from("34.212.75.30", "r-3")
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      expect(limited.json.error).toContain("WEBHOOK_RATE_LIMIT_PER_MINUTE")
      expect((yield* from("54.218.53.128", "r-4")).status).toBe(201)
    }))
})
