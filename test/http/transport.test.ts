import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Https from "node:https"
import { hostAllowed, hostOf } from "../../src/http/transport.ts"
import { selfSignedCertificate } from "../support/tls.ts"
import { startInProcessApp } from "../support/inProcessApp.ts"

const startApi = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const app = yield* startInProcessApp({ ROLE: "api", API_TOKEN: "t0123456789", LOG_LEVEL: "none", ...env })
    return app.info.api!
  })

/** GET over plain HTTP with an explicit Host header (fetch does not allow setting it). */
const rawGet = (port: number, path: string, headers: Record<string, string>) =>
  Effect.promise(() =>
    new Promise<{ status: number; location: string | undefined; body: string }>((resolve, reject) => {
      import("node:http").then((Http) => {
        const req = Http.request({ host: "127.0.0.1", port, path, method: "GET", headers }, (res) => {
          let body = ""
          res.on("data", (c) => (body += c))
          res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }))
        })
        req.on("error", reject)
        req.end()
      }, reject)
    })
  )

describe("transport", () => {
  it("Host matching", () => {
    expect(hostOf("Example.COM:8000")).toBe("example.com")
    expect(hostOf("[::1]:8000")).toBe("[::1]")
    expect(hostAllowed(["*"], "anything")).toBe(true)
    expect(hostAllowed(["example.com"], "example.com:443")).toBe(true)
    expect(hostAllowed(["example.com"], "evil.com")).toBe(false)
    expect(hostAllowed(["example.com"], undefined)).toBe(false)
    expect(hostAllowed(["example.com"], "127.0.0.1:8000")).toBe(true)
    expect(hostAllowed([".example.com"], "api.example.com")).toBe(true)
    expect(hostAllowed(["*.example.com"], "api.example.com")).toBe(true)
    expect(hostAllowed(["*.example.com"], "example.org")).toBe(false)
  })

  it.live("ALLOWED_HOSTS refuses other Host headers", () =>
    Effect.gen(function*() {
      const api = yield* startApi({ ALLOWED_HOSTS: "bot.example.com" })
      const good = yield* rawGet(api.port, "/health", { host: "bot.example.com" })
      expect(good.status).toBe(200)
      const bad = yield* rawGet(api.port, "/health", { host: "evil.example.net" })
      expect(bad.status).toBe(400)
      expect(JSON.parse(bad.body).error).toBe('host "evil.example.net" is not allowed (ALLOWED_HOSTS)')
    }).pipe(Effect.scoped), 60_000)

  it.live("FORCE_HTTPS redirects requests a proxy marks as http", () =>
    Effect.gen(function*() {
      const api = yield* startApi({ FORCE_HTTPS: "true" })
      const redirected = yield* rawGet(api.port, "/signals?limit=5", {
        host: "bot.example.com",
        "x-forwarded-proto": "http"
      })
      expect(redirected.status).toBe(308)
      expect(redirected.location).toBe("https://bot.example.com/signals?limit=5")
      const direct = yield* rawGet(api.port, "/health", { host: "bot.example.com", "x-forwarded-proto": "https" })
      expect(direct.status).toBe(200)
    }).pipe(Effect.scoped), 60_000)

  it.live("TLS_CERT_FILE/TLS_KEY_FILE serve HTTPS on PORT", () =>
    Effect.gen(function*() {
      const { ca, cert, key } = yield* selfSignedCertificate
      const api = yield* startApi({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key })
      expect(api.url.startsWith("https://")).toBe(true)
      const body = yield* Effect.promise(() =>
        new Promise<{ status: number; body: string; authorized: boolean }>((resolve, reject) => {
          const req = Https.request(
            { host: "127.0.0.1", port: api.port, path: "/health", ca },
            (res) => {
              const authorized = (res.socket as import("node:tls").TLSSocket).authorized === true
              let data = ""
              res.on("data", (c) => (data += c))
              res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data, authorized }))
            }
          )
          req.on("error", reject)
          req.end()
        })
      )
      expect(body.status).toBe(200)
      expect(body.authorized).toBe(true)
      expect(JSON.parse(body.body)).toEqual({ status: "ok" })
      // Plain HTTP on the TLS port does not get an answer from the API.
      const plain = yield* Effect.promise(() => fetch(`http://127.0.0.1:${api.port}/health`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => -1))
      expect(plain).not.toBe(200)
    }).pipe(Effect.scoped), 60_000)
})
