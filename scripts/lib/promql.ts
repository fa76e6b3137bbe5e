/**
 * Which metric names a PromQL expression reads — enough to check that alert rules and dashboards
 * only query names the app exports. Not a full parser: strings, label matchers, grouping clauses,
 * ranges and template variables are removed, and the identifiers left that are not function calls
 * or keywords are metric names.
 */

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "atan2",
  "inf",
  "nan"
])

/** Grafana variables (`$var`, `${var}`, `[[var]]`, `$__rate_interval`) as harmless values. */
export const substituteGrafanaVariables = (expr: string): string =>
  expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, "5m")
    .replace(/\$\{[^}]*\}|\[\[[^\]]*\]\]|\$[A-Za-z_][A-Za-z0-9_]*/g, "x")

/** Removes `"…"`, `'…'` and `` `…` `` literals (with escapes). */
const stripStrings = (expr: string): string => expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, "\"\"")

/** Metric names read by `expr` (PromQL; Grafana variables allowed). */
export const metricNames = (input: string): Array<string> => {
  const substituted = substituteGrafanaVariables(input)
  const names = new Set<string>()
  // `{__name__="x"}` names its metric inside the braces
  for (const m of substituted.matchAll(/__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"/g)) names.add(m[1]!)
  const expr = stripStrings(substituted)
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\boffset\s+-?[0-9a-z]+/gi, " ")
    .replace(/@\s*[0-9.]+|@\s*(start|end)\(\)/g, " ")
  const identifier = /[a-zA-Z_:][a-zA-Z0-9_:]*/g
  let m: RegExpExecArray | null
  while ((m = identifier.exec(expr)) !== null) {
    const name = m[0]
    const before = expr[m.index - 1]
    if (before !== undefined && /[0-9.]/.test(before)) continue // the exponent or suffix of a number
    const after = expr.slice(m.index + name.length).trimStart()
    if (after.startsWith("(")) continue // a function or an aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue
    names.add(name)
  }
  return [...names].sort()
}

/** Metric names of a Grafana variable query: `label_values(metric, label)`, `query_result(expr)`, `metrics(re)`. */
export const variableQueryMetricNames = (query: string): Array<string> => {
  const labelValues = /^\s*label_values\s*\((.*)\)\s*$/s.exec(query)
  if (labelValues !== null) {
    const args = labelValues[1]!
    // label_values(label) has no metric; label_values(selector, label) has one
    const lastComma = args.lastIndexOf(",")
    return lastComma === -1 ? [] : metricNames(args.slice(0, lastComma))
  }
  const queryResult = /^\s*query_result\s*\((.*)\)\s*$/s.exec(query)
  if (queryResult !== null) return metricNames(queryResult[1]!)
  if (/^\s*(label_names|metrics)\s*\(/.test(query)) return []
  return metricNames(query)
}
