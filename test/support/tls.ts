/**
 * A self-signed certificate for 127.0.0.1 (openssl, RSA 2048, valid one day) in a temp directory
 * removed with the scope: for the tests of TLS_CERT_FILE / TLS_KEY_FILE. `ca` is the certificate's
 * PEM, for a client that should trust it.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { tempDir } from "./database.ts"

export const selfSignedCertificate = Effect.gen(function*() {
  const dir = yield* tempDir()
  const cert = Path.join(dir, "cert.pem")
  const key = Path.join(dir, "key.pem")
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"
  ], { stdio: "ignore" })
  return { cert, key, ca: Fs.readFileSync(cert) }
})
