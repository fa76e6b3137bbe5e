/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. from `npm run bench -- --profile`):
 * self time by function and by package / source file, and total (inclusive) time of the app's own
 * functions.
 *
 *   node scripts/bench/profile.ts bench-results/profiles/CPU.*.cpuprofile [--top 40]
 */
import * as Fs from "node:fs"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

/** `effect`, `@opentelemetry/sdk-trace-base`, `src/signals/SignalRepo.ts`, `node:internal/…`, or a marker. */
export const groupOf = (url: string, functionName: string): string => {
  if (url === "") return `(${functionName || "native"})`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1]!
  const src = /\/((?:src|scripts|test)\/.*)$/.exec(url)
  if (src !== null) return src[1]!
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/")
  return url
}

/** `effect/dist/internal/core.js`, `src/signals/routes.ts`: the file of a frame, for function keys. */
export const fileOf = (url: string, functionName: string): string => {
  const pkg = /node_modules\/(.*)$/.exec(url)
  if (pkg !== null) return pkg[1]!
  return groupOf(url, functionName)
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly byFunction: ReadonlyArray<readonly [string, number]>
  readonly byGroup: ReadonlyArray<readonly [string, number]>
  readonly inclusiveSrc: ReadonlyArray<readonly [string, number]>
}

export const summariseProfile = (profile: Profile): ProfileSummary => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const fn = new Map<string, number>()
  const group = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  for (const [id, us] of self) {
    const node = byId.get(id)!
    const { functionName, url, lineNumber } = node.callFrame
    total += us
    const g = groupOf(url, functionName)
    const key = `${functionName || "(anonymous)"} ${fileOf(url, functionName)}:${lineNumber + 1}`
    fn.set(key, (fn.get(key) ?? 0) + us)
    group.set(g, (group.get(g) ?? 0) + us)
    // Inclusive time of src/ functions: each distinct src frame on the stack gets the sample once.
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame
      const gg = groupOf(f.url, f.functionName)
      if (!gg.startsWith("src/")) continue
      const k = `${f.functionName || "(anonymous)"} ${gg}:${f.lineNumber + 1}`
      if (seen.has(k)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + us)
    }
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].map(([k, v]) => [k, v / 1000] as const).sort((a, b) => b[1] - a[1])
  return { totalMs: total / 1000, byFunction: sorted(fn), byGroup: sorted(group), inclusiveSrc: sorted(inclusive) }
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf("--top")
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 40
  const files = args.filter((a, i) => !a.startsWith("--") && (topAt < 0 || i !== topAt + 1))
  if (files.length === 0) {
    process.stderr.write("usage: node scripts/bench/profile.ts FILE.cpuprofile [--top N]\n")
    process.exit(2)
  }
  for (const file of files) {
    const s = summariseProfile(JSON.parse(Fs.readFileSync(file, "utf8")) as Profile)
    const pct = (v: number) => `${((v / s.totalMs) * 100).toFixed(1).padStart(5)} %`
    const print = (title: string, rows: ReadonlyArray<readonly [string, number]>) => {
      process.stdout.write(`\n${title}\n`)
      for (const [k, v] of rows.slice(0, top)) process.stdout.write(`${pct(v)} ${v.toFixed(0).padStart(8)} ms  ${k}\n`)
    }
    process.stdout.write(`${file}: ${s.totalMs.toFixed(0)} ms sampled\n`)
    print("self time by package / file", s.byGroup)
    print("self time by function", s.byFunction)
    print("inclusive time of src/ functions", s.inclusiveSrc)
  }
}
