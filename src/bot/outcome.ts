/**
 * What a bot handler reports: the outcome written to the audit trail, and the words a failed
 * backend call is answered with.
 *
 * Invariants: every `BackendError` has one reply text (HTML-escaped and clipped, for messages) and
 * one plain text (for button answers), and one audit result (`error: …` for an unavailable backend,
 * else the error's tag in lower case, then the message); an `Invalid` error names each field and
 * its problem.
 */
import type { BackendError } from "./contract.ts"
import { clip, escapeHtml } from "./html.ts"

/** What a handler tells the audit trail. */
export interface Outcome {
  readonly result: string
  readonly payload?: Readonly<Record<string, unknown>>
}

export const ok: Outcome = { result: "ok" }

export const describe = (e: BackendError): string => {
  switch (e._tag) {
    case "Invalid":
      return e.fields.length === 0 ? e.message : `${e.message}: ${e.fields.map((f) => `${f.field} ${f.problem}`).join("; ")}`
    default:
      return e.message
  }
}

/** The reply to a failed backend call, in words an operator can act on. */
export const failureText = (e: BackendError): string => {
  switch (e._tag) {
    case "BackendUnavailable":
      return `⚠️ Backend unavailable: ${escapeHtml(clip(e.message))}\nNothing was changed; try again shortly.`
    case "Invalid":
      return `⚠️ Not accepted: ${escapeHtml(clip(describe(e)))}`
    case "NotFound":
      return `❔ ${escapeHtml(clip(e.message))}`
    case "Conflict":
      return `ℹ️ ${escapeHtml(clip(e.message))}`
  }
}

export const resultOf = (e: BackendError): string => `${e._tag === "BackendUnavailable" ? "error" : e._tag.toLowerCase()}: ${clip(describe(e), 200)}`

/** Callback answers are plain text (no HTML), at most 200 characters. */
export const failureTextPlain = (e: BackendError): string =>
  e._tag === "BackendUnavailable" ? `Backend unavailable: ${e.message}` : describe(e)
