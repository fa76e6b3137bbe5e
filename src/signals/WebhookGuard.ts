/**
 * What the webhook checks before it reads a body: the client address against
 * `TRADINGVIEW_IP_ALLOWLIST` and a per-address rate limit (`WEBHOOK_RATE_LIMIT_PER_MINUTE`).
 *
 * The client address is the socket's peer. Only with `TRUST_PROXY=true` is a forwarded address
 * used: the LAST `X-Forwarded-For` entry (the one our own proxy appended — earlier entries are
 * whatever the client sent), else `X-Real-IP`.
 */
import { Clock, Context, Effect, Layer } from "effect"
import type { HttpServerRequest } from "effect/http"
import { AppConfig, ConfigInvalid } from "../config.ts"

/** TradingView's published webhook sender addresses (`TRADINGVIEW_IP_ALLOWLIST=tradingview`). */
export const TRADINGVIEW_IPS: ReadonlyArray<string> = ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]

/** `::ffff:1.2.3.4` → `1.2.3.4`; IPv6 lowercased; brackets and zone ids removed. */
export const normaliseIp = (ip: string): string => {
  let s = ip.trim().toLowerCase()
  if (s.startsWith("[") && s.includes("]")) s = s.slice(1, s.indexOf("]"))
  const zone = s.indexOf("%")
  if (zone !== -1) s = s.slice(0, zone)
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s)
  return mapped ? mapped[1]! : s
}

const ipv4ToInt = (ip: string): number | undefined => {
  const parts = ip.split(".")
  if (parts.length !== 4) return undefined
  let n = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined
    n = n * 256 + Number(p)
  }
  return n
}

export interface AllowRule {
  readonly text: string
  readonly matches: (ip: string) => boolean
}

/** An allowlist entry: `tradingview`, an address (IPv4 or IPv6), or an IPv4 CIDR block. */
export const parseAllowEntry = (entry: string): ReadonlyArray<AllowRule> | undefined => {
  const e = entry.trim()
  if (e.toLowerCase() === "tradingview") return TRADINGVIEW_IPS.flatMap((ip) => parseAllowEntry(ip) ?? [])
  const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(e)
  if (cidr) {
    const base = ipv4ToInt(cidr[1]!)
    const bits = Number(cidr[2])
    if (base === undefined || bits > 32) return undefined
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    return [{
      text: e,
      matches: (ip) => {
        const n = ipv4ToInt(ip)
        return n !== undefined && ((n & mask) >>> 0) === ((base & mask) >>> 0)
      }
    }]
  }
  const ip = normaliseIp(e)
  if (ipv4ToInt(ip) === undefined && !/^[0-9a-f:]+$/.test(ip)) return undefined
  return [{ text: e, matches: (candidate) => candidate === ip }]
}

/** The address the request came from (see the module comment for the proxy rule). */
export const clientAddress = (request: HttpServerRequest.HttpServerRequest, trustProxy: boolean): string | undefined => {
  if (trustProxy) {
    const forwarded = request.headers["x-forwarded-for"]
    if (forwarded !== undefined) {
      const hops = forwarded.split(",").map((h) => h.trim()).filter((h) => h.length > 0)
      const last = hops[hops.length - 1]
      if (last !== undefined) return normaliseIp(last)
    }
    const real = request.headers["x-real-ip"]
    if (real !== undefined && real.trim().length > 0) return normaliseIp(real)
  }
  return request.remoteAddress._tag === "Some" ? normaliseIp(request.remoteAddress.value) : undefined
}

/** Token bucket per client address: `perMinute` requests, refilled continuously. */
export const makeRateLimiter = (perMinute: number, maxClients = 10_000) => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  const ratePerMs = perMinute / 60_000
  return {
    /** 0 when the request may proceed, else the seconds to wait. */
    take: (client: string, now: number): number => {
      if (perMinute <= 0) return 0
      let bucket = buckets.get(client)
      if (bucket === undefined) {
        if (buckets.size >= maxClients) {
          // Forget the oldest client (Map keeps insertion order); memory stays bounded.
          const oldest = buckets.keys().next().value
          if (oldest !== undefined) buckets.delete(oldest)
        }
        bucket = { tokens: perMinute, at: now }
        buckets.set(client, bucket)
      }
      bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * ratePerMs)
      bucket.at = now
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return 0
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000))
    }
  }
}

export type GuardVerdict =
  | { readonly _tag: "Allowed"; readonly client: string }
  | { readonly _tag: "Forbidden"; readonly client: string }
  | { readonly _tag: "RateLimited"; readonly client: string; readonly retryAfterSeconds: number }

export class WebhookGuard extends Context.Service<WebhookGuard, {
  readonly check: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<GuardVerdict>
  /** The allowlist in effect (empty = every address), for the start-up log. */
  readonly allowlist: ReadonlyArray<string>
}>()("tvtelegrambingx/WebhookGuard") {
  static readonly make = Effect.gen(function*() {
    const config = yield* AppConfig
    const rules: Array<AllowRule> = []
    for (const entry of config.security.ipAllowlist) {
      const parsed = parseAllowEntry(entry)
      if (parsed === undefined) {
        // AppConfig accepts any list; an entry we cannot read must not silently widen access.
        return yield* new ConfigInvalid({
          variable: "TRADINGVIEW_IP_ALLOWLIST",
          message:
            `TRADINGVIEW_IP_ALLOWLIST: ${JSON.stringify(entry)} is not an IP address, an IPv4 CIDR block or "tradingview" (example: TRADINGVIEW_IP_ALLOWLIST=tradingview)`
        })
      }
      rules.push(...parsed)
    }
    const trustProxy = config.http.trustProxy
    const limiter = makeRateLimiter(config.security.webhookRateLimitPerMinute)
    const check = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.map(Clock.currentTimeMillis, (now): GuardVerdict => {
        const client = clientAddress(request, trustProxy) ?? "unknown"
        if (rules.length > 0 && !rules.some((r) => r.matches(client))) return { _tag: "Forbidden", client }
        const wait = limiter.take(client, now)
        return wait === 0 ? { _tag: "Allowed", client } : { _tag: "RateLimited", client, retryAfterSeconds: wait }
      })
    return WebhookGuard.of({ check, allowlist: rules.map((r) => r.text) })
  })

  /** Needs AppConfig; fails with ConfigInvalid on an unreadable allowlist entry. */
  static readonly layer = Layer.effect(WebhookGuard, WebhookGuard.make)
}
