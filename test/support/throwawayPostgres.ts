/**
 * A throwaway Postgres server for fault tests: `initdb` into a temp directory and `pg_ctl` as the
 * `postgres` user (initdb refuses to run as root), on a free loopback port. Never the shared server:
 * tests may stop and start it at will.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort } from "../../scripts/bench/util.ts"

const binDir = (): string => {
  const root = "/usr/lib/postgresql"
  const versions = Fs.existsSync(root) ? Fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) {
    const dir = Path.join(root, v, "bin")
    if (Fs.existsSync(Path.join(dir, "pg_ctl"))) return dir
  }
  throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
}

const asPostgres = (command: string, args: ReadonlyArray<string>) => {
  const isRoot = process.getuid?.() === 0
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, [...args]]
  return execFileSync(file, argv, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" })
}

export interface ThrowawayPostgres {
  readonly port: number
  readonly url: string
  readonly dataDir: string
  readonly start: () => void
  /** `fast` disconnects clients and stops; `immediate` is a crash-like stop. */
  readonly stop: (mode?: "fast" | "immediate") => void
  readonly destroy: () => void
}

export const startThrowawayPostgres = async (): Promise<ThrowawayPostgres> => {
  const bin = binDir()
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tvtb-pg-"))
  Fs.chmodSync(dir, 0o777)
  const dataDir = Path.join(dir, "data")
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres", dir])
  asPostgres(Path.join(bin, "initdb"), ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
  const port = await freePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`
  const start = () => {
    asPostgres(Path.join(bin, "pg_ctl"), ["-D", dataDir, "-o", options, "-l", Path.join(dir, "log"), "-w", "start"])
  }
  const stop = (mode: "fast" | "immediate" = "fast") => {
    try {
      asPostgres(Path.join(bin, "pg_ctl"), ["-D", dataDir, "-m", mode, "-w", "stop"])
    } catch {
      // already stopped
    }
  }
  start()
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    start,
    stop,
    destroy: () => {
      stop("immediate")
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
