/**
 * Transport rules applied to every request on :8000 before any route:
 * - `ALLOWED_HOSTS`: a request whose Host header is not listed is refused (400). Loopback names
 *   (localhost, 127.0.0.1, ::1) are always accepted so health checks from the host keep working.
 * - `FORCE_HTTPS`: a request a proxy marks `X-Forwarded-Proto: http` is redirected (308, method and
 *   body kept) to the same URL on https.
 */
import { Effect } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { AppConfig } from "../config.ts"
import { errorResponse } from "./respond.ts"

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "[::1]"])

/** Host header without its port, lowercased ("" when absent). */
export const hostOf = (header: string | undefined): string => {
  if (header === undefined) return ""
  const h = header.trim().toLowerCase()
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1)
  const colon = h.lastIndexOf(":")
  return colon >= 0 ? h.slice(0, colon) : h
}

export const hostAllowed = (allowed: ReadonlyArray<string>, header: string | undefined): boolean => {
  if (allowed.includes("*")) return true
  const host = hostOf(header)
  if (LOOPBACK.has(host)) return true
  return allowed.some((a) => a === host || (a.startsWith(".") && host.endsWith(a)) || (a.startsWith("*.") && host.endsWith(a.slice(1))))
}

export const transportMiddleware = HttpRouter.middleware(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const { allowedHosts, forceHttps } = config.http
    const checkHosts = !allowedHosts.includes("*")
    return (app) => {
      if (!checkHosts && !forceHttps) return app
      return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request: HttpServerRequest.HttpServerRequest) => {
        const host = request.headers["host"]
        if (checkHosts && !hostAllowed(allowedHosts, host)) {
          return Effect.succeed(errorResponse(400, `host ${JSON.stringify(hostOf(host))} is not allowed (ALLOWED_HOSTS)`))
        }
        if (forceHttps && request.headers["x-forwarded-proto"]?.split(",")[0]?.trim().toLowerCase() === "http") {
          return Effect.succeed(HttpServerResponse.redirect(`https://${host ?? "localhost"}${request.url}`, { status: 308 }))
        }
        return app
      })
    }
  }),
  { global: true }
)
