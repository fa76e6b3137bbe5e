/**
 * Transport on the real process (`node src/main.ts`), complementing
 * test/http/transport.test.ts (in-process): HTTPS on PORT with a self-signed pair, the webhook and
 * the operator API over it, FORCE_HTTPS behind a proxy, ALLOWED_HOSTS, no plain HTTP on the TLS
 * port, and no protocol older than TLS 1.2.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Https from "node:https"
import * as Tls from "node:tls"
import { selfSignedCertificate } from "../support/tls.ts"
import { testDatabaseEnv } from "../support/database.ts"
import { API_TOKEN, runningApp, WEBHOOK_TOKEN } from "./support.ts"

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: string
}

const httpsRequest = (port: number, ca: Buffer, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }) =>
  new Promise<Answer>((resolve, reject) => {
    const req = Https.request(
      {
        host: "127.0.0.1",
        port,
        path: options.path,
        method: options.method ?? "GET",
        headers: options.headers ?? {},
        ca,
        // The certificate is for 127.0.0.1; the Host header names the public host the proxy saw.
        checkServerIdentity: (_host, peer) => Tls.checkServerIdentity("127.0.0.1", peer)
      },
      (res) => {
        let body = ""
        res.on("data", (c) => (body += c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      }
    )
    req.on("error", reject)
    req.end(options.body)
  })

/** Whether a TLS handshake limited to `version` succeeds. */
const handshake = (port: number, ca: Buffer, version: Tls.SecureVersion) =>
  new Promise<boolean>((resolve) => {
    const socket = Tls.connect({ host: "127.0.0.1", port, ca, minVersion: version, maxVersion: version }, () => {
      socket.end()
      resolve(true)
    })
    socket.on("error", () => resolve(false))
  })

describe("transport on the real process", () => {
  it.live("HTTPS on PORT: health, webhook and operator API over TLS; FORCE_HTTPS and ALLOWED_HOSTS; no plain HTTP; nothing below TLS 1.2", () =>
    Effect.gen(function*() {
      const { ca, cert, key } = yield* selfSignedCertificate
      const database = yield* testDatabaseEnv
      const app = yield* runningApp({
        ...database,
        API_TOKEN,
        TRADINGVIEW_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
        BINGX_BASE_URL: "http://127.0.0.1:1",
        LOG_LEVEL: "info",
        TLS_CERT_FILE: cert,
        TLS_KEY_FILE: key,
        FORCE_HTTPS: "true",
        ALLOWED_HOSTS: "bot.example.com"
      })
      expect(app.apiUrl!.startsWith("https://127.0.0.1:")).toBe(true)
      const port = Number(new URL(app.apiUrl!).port)
      yield* Effect.promise(async () => {
        const host = { host: "bot.example.com" }
        expect((await httpsRequest(port, ca, { path: "/health", headers: host })).status).toBe(200)
        // The webhook and the operator API work over TLS.
        const posted = await httpsRequest(port, ca, {
          method: "POST",
          path: "/webhook/tradingview",
          headers: { ...host, "content-type": "application/json" },
          body: JSON.stringify({ secret: WEBHOOK_TOKEN, id: "tls-1", symbol: "BTCUSDT", action: "buy", qty: "0.001" })
        })
        expect(posted.status, posted.body).toBe(201)
        const signal = JSON.parse(posted.body).id as string
        const read = await httpsRequest(port, ca, { path: `/signals/${signal}`, headers: { ...host, authorization: `Bearer ${API_TOKEN}` } })
        expect(read.status).toBe(200)
        expect(JSON.parse(read.body).id).toBe(signal)
        // ALLOWED_HOSTS: another Host is refused (loopback names stay allowed for probes).
        const evil = await httpsRequest(port, ca, { path: "/health", headers: { host: "evil.example.net" } })
        expect(evil.status).toBe(400)
        expect(JSON.parse(evil.body).error).toContain("ALLOWED_HOSTS")
        expect((await httpsRequest(port, ca, { path: "/health", headers: { host: "127.0.0.1" } })).status).toBe(200)
        // FORCE_HTTPS: what a proxy received over plain http is redirected to https (method kept: 308).
        const redirected = await httpsRequest(port, ca, {
          method: "POST",
          path: "/webhook/tradingview?x=1",
          headers: { ...host, "x-forwarded-proto": "http" },
          body: "{}"
        })
        expect(redirected.status).toBe(308)
        expect(redirected.headers.location).toBe("https://bot.example.com/webhook/tradingview?x=1")
        // Plain HTTP on the TLS port gets no HTTP answer.
        const plain = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.status, () => "no answer")
        expect(plain).not.toBe(200)
        // Protocol versions: TLS 1.2 and 1.3 only.
        expect(await handshake(port, ca, "TLSv1.3")).toBe(true)
        expect(await handshake(port, ca, "TLSv1.2")).toBe(true)
        expect(await handshake(port, ca, "TLSv1.1")).toBe(false)
        expect(await handshake(port, ca, "TLSv1")).toBe(false)
        // A client that does not trust the certificate is not fooled into talking (sanity of the pair).
        const untrusted = await new Promise<string>((resolve) => {
          const req = Https.request({ host: "127.0.0.1", port, path: "/health" }, () => resolve("answered"))
          req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? "error"))
          req.end()
        })
        expect(untrusted).toBe("DEPTH_ZERO_SELF_SIGNED_CERT")
      })
      expect(app.child.exitCode).toBeNull()
    }).pipe(Effect.scoped), 90_000)
})
