/**
 * A parser for the Prometheus text exposition format (0.0.4), enough to check what `/metrics`
 * serves: metric families with their `# TYPE`/`# HELP`, and every sample with its labels.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  type: string | undefined
  help: string | undefined
  readonly samples: Array<Sample>
}

export interface Exposition {
  readonly families: ReadonlyMap<string, Family>
  readonly samples: ReadonlyArray<Sample>
}

const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"] as const
const SUMMARY_SUFFIXES = ["_sum", "_count"] as const

const parseValue = (text: string): number => {
  switch (text) {
    case "+Inf":
      return Number.POSITIVE_INFINITY
    case "-Inf":
      return Number.NEGATIVE_INFINITY
    default:
      return text.toLowerCase() === "nan" ? Number.NaN : Number(text)
  }
}

const unescapeLabel = (s: string) => s.replace(/\\(["\\n])/g, (_m, c: string) => (c === "n" ? "\n" : c))

/** Parses `{a="x",b="y"}` starting at `text[start] === "{"`; returns the labels and the index after `}`. */
const parseLabels = (text: string, start: number): { labels: Record<string, string>; end: number } => {
  const labels: Record<string, string> = {}
  let i = start + 1
  while (i < text.length) {
    while (text[i] === " " || text[i] === ",") i++
    if (text[i] === "}") return { labels, end: i + 1 }
    const eq = text.indexOf("=", i)
    if (eq === -1) throw new Error(`malformed labels: ${text}`)
    const name = text.slice(i, eq).trim()
    if (text[eq + 1] !== "\"") throw new Error(`malformed label value for ${name}: ${text}`)
    let j = eq + 2
    let raw = ""
    while (j < text.length && text[j] !== "\"") {
      if (text[j] === "\\") {
        raw += text.slice(j, j + 2)
        j += 2
      } else {
        raw += text[j]
        j++
      }
    }
    if (j >= text.length) throw new Error(`unterminated label value for ${name}: ${text}`)
    labels[name] = unescapeLabel(raw)
    i = j + 1
  }
  throw new Error(`unterminated labels: ${text}`)
}

export const parseExposition = (text: string): Exposition => {
  const families = new Map<string, Family>()
  const samples: Array<Sample> = []
  const family = (name: string): Family => {
    let f = families.get(name)
    if (f === undefined) {
      f = { name, type: undefined, help: undefined, samples: [] }
      families.set(name, f)
    }
    return f
  }
  /** The family a sample belongs to: itself, or a histogram/summary it is a suffix series of. */
  const familyOf = (sampleName: string): Family => {
    for (const suffix of HISTOGRAM_SUFFIXES) {
      if (!sampleName.endsWith(suffix)) continue
      const base = families.get(sampleName.slice(0, -suffix.length))
      if (base?.type === "histogram") return base
      if (base?.type === "summary" && (SUMMARY_SUFFIXES as ReadonlyArray<string>).includes(suffix)) return base
    }
    return family(sampleName)
  }
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim()
    if (line === "") continue
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line)
      if (m === null) continue
      const f = family(m[2]!)
      if (m[1] === "TYPE") f.type = m[3]!.trim()
      else f.help = m[3]!
      continue
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
    if (nameMatch === null) throw new Error(`malformed sample line: ${line}`)
    const name = nameMatch[0]
    let rest = line.slice(name.length)
    let labels: Record<string, string> = {}
    if (rest.startsWith("{")) {
      const parsed = parseLabels(rest, 0)
      labels = parsed.labels
      rest = rest.slice(parsed.end)
    }
    const valueText = rest.trim().split(/\s+/)[0]
    if (valueText === undefined || valueText === "") throw new Error(`sample without a value: ${line}`)
    const value = parseValue(valueText)
    if (Number.isNaN(value) && valueText.toLowerCase() !== "nan") throw new Error(`bad sample value: ${line}`)
    const sample = { name, labels, value }
    samples.push(sample)
    familyOf(name).samples.push(sample)
  }
  return { families, samples }
}

/** Metric names a scrape exports: every family (declared by `# TYPE`, or seen as a sample). */
export const exportedNames = (exposition: Exposition): Set<string> => new Set(exposition.families.keys())

/**
 * Whether `name` (as written in a query) is served by `exposition`: a family itself, or the
 * `_bucket`/`_sum`/`_count` series of a histogram (`_sum`/`_count` of a summary).
 */
export const isExported = (exposition: Exposition, name: string): boolean => {
  const direct = exposition.families.get(name)
  if (direct !== undefined && direct.type !== "histogram" && direct.type !== "summary") return true
  if (direct !== undefined && direct.samples.some((s) => s.name === name)) return true
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!name.endsWith(suffix)) continue
    const base = exposition.families.get(name.slice(0, -suffix.length))
    if (base?.type === "histogram") return true
    if (base?.type === "summary" && suffix !== "_bucket") return true
  }
  return false
}
