/**
 * What `monitoring/` references, read from its files: the PromQL of the alert rules and the
 * dashboard (with the series of the rule unit tests and the dashboard's variable queries), so the
 * names can be compared with what a running app exports.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parse as parseYaml } from "yaml"
import { type Exposition, isExported } from "./exposition.ts"
import { metricNames, substituteGrafanaVariables, variableQueryMetricNames } from "./promql.ts"

export interface Reference {
  /** Metric name as written in the query. */
  readonly name: string
  /** Where: `alerting-rules.yaml: BingXOrderFailures`, `grafana/…json: panel "Realised PnL"`, … */
  readonly where: string
}

export interface Expression {
  readonly expr: string
  readonly where: string
}

const readYaml = (file: string): any => parseYaml(Fs.readFileSync(file, "utf8"))

/** `expr` of every alerting and recording rule. */
export const ruleExpressions = (rulesFile: string): Array<Expression> => {
  const doc = readYaml(rulesFile)
  const out: Array<Expression> = []
  for (const group of doc?.groups ?? []) {
    for (const rule of group.rules ?? []) {
      out.push({ expr: String(rule.expr), where: `${Path.basename(rulesFile)}: ${rule.alert ?? rule.record}` })
    }
  }
  return out
}

/** Series names of `promtool test rules` input (`name{labels}` or `{__name__="name"}`). */
export const ruleTestSeries = (testFile: string): Array<Reference> => {
  const doc = readYaml(testFile)
  const out: Array<Reference> = []
  for (const test of doc?.tests ?? []) {
    for (const input of test.input_series ?? []) {
      const series = String(input.series)
      const name = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(series)?.[1] ??
        /__name__\s*=\s*"([^"]+)"/.exec(series)?.[1]
      if (name !== undefined) out.push({ name, where: `${Path.basename(testFile)}: test "${test.name ?? "?"}"` })
    }
  }
  return out
}

export interface Dashboard {
  readonly json: any
  /** PromQL of every panel target (Grafana variables still in place). */
  readonly expressions: Array<Expression>
  /** Variable queries (`label_values(…)`). */
  readonly variableQueries: Array<Expression>
}

const panelsOf = (panels: ReadonlyArray<any>): Array<any> =>
  panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])])

export const readDashboard = (file: string): Dashboard => {
  const json = JSON.parse(Fs.readFileSync(file, "utf8"))
  const expressions: Array<Expression> = []
  for (const panel of panelsOf(json.panels ?? [])) {
    for (const target of panel.targets ?? []) {
      if (typeof target.expr === "string" && target.expr.trim() !== "") {
        expressions.push({ expr: target.expr, where: `${Path.basename(file)}: panel "${panel.title}" ${target.refId ?? ""}`.trim() })
      }
    }
  }
  const variableQueries: Array<Expression> = []
  for (const variable of json.templating?.list ?? []) {
    if (variable.type !== "query") continue
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query
    if (typeof query === "string") variableQueries.push({ expr: query, where: `${Path.basename(file)}: variable $${variable.name}` })
  }
  return { json, expressions, variableQueries }
}

/** Problems of the dashboard's structure (empty when fine). */
export const dashboardProblems = (dashboard: Dashboard): Array<string> => {
  const problems: Array<string> = []
  const { json } = dashboard
  const variables: Array<any> = json.templating?.list ?? []
  const ds = variables.find((v) => v.type === "datasource")
  if (ds === undefined || ds.query !== "prometheus") {
    problems.push("no datasource variable (type \"datasource\", query \"prometheus\")")
  }
  const dsRef = ds === undefined ? undefined : `\${${ds.name}}`
  for (const panel of panelsOf(json.panels ?? [])) {
    if (panel.type === "row") continue
    if (panel.datasource?.uid !== dsRef) problems.push(`panel "${panel.title}" does not use the datasource variable ${dsRef}`)
    for (const target of panel.targets ?? []) {
      if (target.datasource !== undefined && target.datasource.uid !== dsRef) {
        problems.push(`panel "${panel.title}" target ${target.refId} does not use the datasource variable ${dsRef}`)
      }
    }
    if ((panel.targets ?? []).length === 0) problems.push(`panel "${panel.title}" has no query`)
  }
  if (typeof json.uid !== "string" || json.uid === "") problems.push("dashboard has no uid")
  return problems
}

/**
 * The dashboard's queries as a Prometheus rules file (Grafana variables substituted), so
 * `promtool check rules` parses every one of them.
 */
export const dashboardAsRules = (dashboard: Dashboard): string => {
  const rules = dashboard.expressions.map((e, i) => ({
    record: `dashboard:query_${i + 1}`,
    expr: substituteGrafanaVariables(e.expr)
  }))
  return JSON.stringify({ groups: [{ name: "dashboard-queries", rules }] }, null, 2)
}

/** Every metric name referenced by the files of `monitoringDir`. */
export const referencedNames = (monitoringDir: string): Array<Reference> => {
  const refs: Array<Reference> = []
  for (const { expr, where } of ruleExpressions(Path.join(monitoringDir, "alerting-rules.yaml"))) {
    for (const name of metricNames(expr)) refs.push({ name, where })
  }
  refs.push(...ruleTestSeries(Path.join(monitoringDir, "alerting-rules.test.yaml")))
  const dashboard = readDashboard(Path.join(monitoringDir, "grafana", "tvtelegrambingx-overview.json"))
  for (const { expr, where } of dashboard.expressions) {
    for (const name of metricNames(expr)) refs.push({ name, where })
  }
  for (const { expr, where } of dashboard.variableQueries) {
    for (const name of variableQueryMetricNames(expr)) refs.push({ name, where })
  }
  return refs
}

/** References whose name none of the scrapes export (a histogram's `_bucket/_sum/_count` count as it). */
export const unexported = (refs: ReadonlyArray<Reference>, scrapes: ReadonlyArray<Exposition>): Array<Reference> =>
  refs.filter((ref) => !scrapes.some((scrape) => isExported(scrape, ref.name)))

/** Problems of otel-collector.yaml: OTLP in; Prometheus, Tempo and Loki out, each in a pipeline. */
export const collectorProblems = (file: string): Array<string> => {
  const problems: Array<string> = []
  const doc = readYaml(file) ?? {}
  const receivers = Object.keys(doc.receivers ?? {})
  const exporters = Object.keys(doc.exporters ?? {})
  const processors = Object.keys(doc.processors ?? {})
  const pipelines: Record<string, any> = doc.service?.pipelines ?? {}
  if (!receivers.includes("otlp") || doc.receivers.otlp?.protocols?.http === undefined) {
    problems.push("no OTLP/HTTP receiver (receivers.otlp.protocols.http)")
  }
  const expectOut = (signal: string, predicate: (name: string) => boolean, what: string) => {
    const pipeline = pipelines[signal]
    if (pipeline === undefined) return problems.push(`no ${signal} pipeline`)
    if (!(pipeline.receivers ?? []).includes("otlp")) problems.push(`the ${signal} pipeline does not receive OTLP`)
    if (!(pipeline.exporters ?? []).some(predicate)) problems.push(`the ${signal} pipeline does not export to ${what}`)
  }
  expectOut("traces", (e) => e.includes("tempo"), "Tempo")
  expectOut("metrics", (e) => e === "prometheus" || e.startsWith("prometheus/"), "Prometheus")
  expectOut("logs", (e) => e.includes("loki"), "Loki")
  for (const [signal, pipeline] of Object.entries(pipelines)) {
    for (const r of pipeline.receivers ?? []) if (!receivers.includes(r)) problems.push(`${signal}: unknown receiver ${r}`)
    for (const p of pipeline.processors ?? []) if (!processors.includes(p)) problems.push(`${signal}: unknown processor ${p}`)
    for (const e of pipeline.exporters ?? []) if (!exporters.includes(e)) problems.push(`${signal}: unknown exporter ${e}`)
  }
  const prom = doc.exporters?.prometheus
  if (prom?.namespace !== undefined) {
    problems.push(`exporters.prometheus.namespace (${prom.namespace}) renames every metric: dashboards and alerts would find nothing`)
  }
  if (prom !== undefined && prom.add_metric_suffixes !== false) {
    problems.push("exporters.prometheus.add_metric_suffixes must be false to keep the app's metric names")
  }
  return problems
}
