/**
 * Token helpers: generation and constant-time comparison. Comparing SHA-256 digests keeps the
 * comparison constant-time even when the lengths differ (no early exit, no length leak).
 */
import { Redacted } from "effect"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

/** True when `given` equals `expected`, in time independent of where they differ. */
export const tokensEqual = (given: string, expected: string): boolean =>
  timingSafeEqual(digest(given), digest(expected))

/** Digests of the configured tokens, computed once per token (they do not change while running). */
const acceptedDigests = new WeakMap<Redacted.Redacted<string>, Buffer>()
const digestOfAccepted = (token: Redacted.Redacted<string>): Buffer => {
  let d = acceptedDigests.get(token)
  if (d === undefined) {
    d = digest(Redacted.value(token))
    acceptedDigests.set(token, d)
  }
  return d
}

/** True when `given` equals any of the accepted tokens (every candidate is compared). */
export const matchesAny = (given: string, accepted: ReadonlyArray<Redacted.Redacted<string>>): boolean => {
  const g = digest(given)
  let ok = false
  for (const token of accepted) {
    if (timingSafeEqual(g, digestOfAccepted(token))) ok = true
  }
  return ok
}

/** A new random token: 32 bytes, base64url (43 characters, URL- and header-safe). */
export const generateToken = (): string => randomBytes(32).toString("base64url")
