/**
 * The vocabulary the configuration is declared in: a `Setting` is an Effect `Config` plus the
 * environment variables it reads, each with the example printed when its value is refused.
 *
 * Invariants:
 * - Every variable is declared once, by one of the kinds below, with its default and its example;
 *   sections combine settings with `section` and the settings types are derived from them.
 * - A refused value fails with a `ConfigError` pointing at the variable (`SchemaIssue.Pointer`
 *   whose path is the variable name) and carrying the problem as its message; `problemOf` reads
 *   both back. The problem text never contains the value of a secret.
 * - Values arrive trimmed and an empty value is absent (see `normalised`), so `Config.withDefault`
 *   covers "unset" and "set to nothing" alike.
 *
 * The kinds read with `Config.String` / `Config.Redacted` and check with `Config.mapEffect` rather
 * than using `Config.Int`, `Port`, `Boolean`, `Literals` or `URL` as they are: those refuse values
 * this service accepts (port 0 = any free port; `YES`, `Crossed`, `warning` in any case), accept
 * some it refuses (`1e2` as an integer, any URL scheme), and word their errors their own way, while
 * the error line here is part of the interface (the README quotes it).
 */
import { Config, ConfigProvider, Effect, Option, Redacted, Result, Schema, SchemaIssue } from "effect"

/** One environment variable the service reads. */
export type VariableDoc =
  | { readonly name: string; readonly status: "current"; readonly example: string }
  /** An older (seed) name read in place of `readAs`; a warning asks to rename it. */
  | { readonly name: string; readonly status: "renamed"; readonly example: string; readonly readAs: string }
  /** A seed variable that is accepted but has no effect here; a warning says why. */
  | { readonly name: string; readonly status: "ignored"; readonly why: string }

/** A configuration value and the variables it is read from (`N`: their names, as a type). */
export interface Setting<A, N extends string = string> {
  readonly config: Config.Config<A>
  readonly variables: ReadonlyArray<VariableDoc>
  /** Type only: the names of the variables read. */
  readonly names?: N
}

/** The value type of a setting or a section. */
export type SettingOf<S> = S extends Setting<infer A, any> ? A : never

/** The variable names a setting or section reads. */
export type NamesOf<S> = S extends Setting<any, infer N> ? N : never

// ---------------------------------------------------------------------------------------------
// Problems
// ---------------------------------------------------------------------------------------------

/** The failure of `variable`: `problem` is the text after "VARIABLE: " in the one-line message. */
export const problem = (variable: string, text: string): Config.ConfigError =>
  new Config.ConfigError(new Schema.SchemaError(new SchemaIssue.Pointer([variable], new SchemaIssue.InvalidValue({ message: text }))))

const leafMessage = (issue: SchemaIssue.Issue): string | undefined => {
  if (issue._tag === "InvalidValue") {
    const message = issue.annotations?.message
    return typeof message === "string" ? message : undefined
  }
  if (issue._tag === "Pointer") return leafMessage(issue.issue)
  return undefined
}

/** The variable and the problem a `ConfigError` is about (any error, not only those made by `problem`). */
export const problemOf = (error: Config.ConfigError): { readonly variable: string; readonly problem: string } => {
  const cause = error.cause
  if (Schema.isSchemaError(cause) && cause.issue._tag === "Pointer" && typeof cause.issue.path[0] === "string") {
    return {
      variable: cause.issue.path[0],
      problem: leafMessage(cause.issue) ?? oneLine(String(cause.issue.issue))
    }
  }
  return { variable: "configuration", problem: `could not be read (${oneLine(error.message)})` }
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, "; ")

/** Shows a (non-secret) value in a problem, bounded and quoted. */
export const show = (value: string) => JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/** The provider as the declaration expects it: values trimmed, empty ones absent. */
export const normalised = (provider: ConfigProvider.ConfigProvider): ConfigProvider.ConfigProvider =>
  ConfigProvider.make((path) =>
    Effect.map(provider.load(path), (node) => {
      if (node === undefined || node.value === undefined) return node
      const value = node.value.trim()
      if (value === node.value) return node
      if (node._tag === "Value") return value.length === 0 ? undefined : ConfigProvider.makeValue(value)
      if (node._tag === "Record") return ConfigProvider.makeRecord(node.keys, value.length === 0 ? undefined : value)
      return ConfigProvider.makeArray(node.length, value.length === 0 ? undefined : value)
    })
  )

/** The value of `name` checked by `parse` (a value, or the problem with it). Absent stays absent. */
const parsed = <A>(name: string, parse: (value: string) => Result.Result<A, string>): Config.Config<A> =>
  Config.String(name).pipe(Config.mapEffect((value) => {
    const r = parse(value)
    return Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(problem(name, r.failure))
  }))

const current = (name: string, example: string): ReadonlyArray<VariableDoc> => [{ name, status: "current", example }]

const make = <A, N extends string>(config: Config.Config<A>, variables: ReadonlyArray<VariableDoc>): Setting<A, N> => ({
  config,
  variables
})

/** `undefined` when absent. */
const orUndefined = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.option(config).pipe(Config.map(Option.getOrUndefined))

// ---------------------------------------------------------------------------------------------
// Kinds of variables
// ---------------------------------------------------------------------------------------------

export const text = <const N extends string>(name: N, fallback: string, example = fallback): Setting<string, N> =>
  make(Config.String(name).pipe(Config.withDefault(fallback)), current(name, example))

export const optionalText = <const N extends string>(name: N, example: string): Setting<string | undefined, N> =>
  make(orUndefined(Config.String(name)), current(name, example))

/** A secret: `Redacted`, never shown (not even in a problem). */
export const secret = <const N extends string>(name: N, example: string): Setting<Redacted.Redacted<string> | undefined, N> =>
  make(orUndefined(Config.Redacted(name)), current(name, example))

const wholeNumber = (min: number, max: number) => (v: string): Result.Result<number, string> => {
  if (!/^-?\d+$/.test(v)) return Result.fail(`${show(v)} is not a whole number`)
  const n = Number(v)
  return n < min || n > max ? Result.fail(`${v} is out of range (${min}..${max})`) : Result.succeed(n)
}

export const int = <const N extends string>(name: N, fallback: number, range: { readonly min: number; readonly max: number }): Setting<number, N> =>
  make(parsed(name, wholeNumber(range.min, range.max)).pipe(Config.withDefault(fallback)), current(name, String(fallback)))

const portNumber = (v: string): Result.Result<number, string> => {
  const n = /^\d+$/.test(v) ? Number(v) : NaN
  // 0 asks the OS for a free port (tests use it).
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? Result.succeed(n) : Result.fail(`${show(v)} is not a port number (0-65535)`)
}

/** A TCP port, 0..65535 (0 = any free port). */
export const port = <const N extends string>(name: N, fallback: number): Setting<number, N> =>
  make(parsed(name, portNumber).pipe(Config.withDefault(fallback)), current(name, String(fallback)))

/** A TCP port that may be unset. */
export const optionalPort = <const N extends string>(name: N, example: string): Setting<number | undefined, N> =>
  make(orUndefined(parsed(name, portNumber)), current(name, example))

/** A number with an optional fraction, for durations in seconds and ratios (not for money). */
export const decimalNumber = <const N extends string>(name: N, fallback: number, range: { readonly min: number; readonly max: number }): Setting<number, N> =>
  make(
    parsed(name, (v) => {
      const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN
      if (!Number.isFinite(n)) return Result.fail(`${show(v)} is not a number`)
      return n < range.min || n > range.max ? Result.fail(`${v} is out of range (${range.min}..${range.max})`) : Result.succeed(n)
    }).pipe(Config.withDefault(fallback)),
    current(name, String(fallback))
  )

/** An exact decimal kept as its string, matching `pattern`, from above 0 (or 0) up to `max`. */
export const decimalString = <const N extends string>(
  name: N,
  fallback: string,
  rule: { readonly pattern: RegExp; readonly max: number; readonly positive: boolean; readonly problem: string }
): Setting<string, N> =>
  make(
    parsed(name, (v) =>
      rule.pattern.test(v) && Number(v) <= rule.max && (!rule.positive || Number(v) > 0)
        ? Result.succeed(v)
        : Result.fail(`${show(v)} ${rule.problem}`)).pipe(Config.withDefault(fallback)),
    current(name, fallback)
  )

const TRUE = new Set(["true", "1", "yes", "on"])
const FALSE = new Set(["false", "0", "no", "off"])

/** true/1/yes/on or false/0/no/off, any case. */
export const bool = <const N extends string>(name: N, fallback: boolean): Setting<boolean, N> =>
  make(
    parsed(name, (v) => {
      const l = v.toLowerCase()
      if (TRUE.has(l)) return Result.succeed(true)
      if (FALSE.has(l)) return Result.succeed(false)
      return Result.fail(`${show(v)} is not a boolean (true/false)`)
    }).pipe(Config.withDefault(fallback)),
    current(name, String(fallback))
  )

/**
 * One of the literals of `schema` (any case), or an alias of one. The problem lists `shown`
 * (default: the literals), the example is the default.
 */
export const oneOf = <const N extends string, const L extends string>(
  name: N,
  schema: { readonly literals: ReadonlyArray<L> },
  fallback: NoInfer<L>,
  options: { readonly aliases?: Readonly<Record<string, NoInfer<L>>>; readonly shown?: string; readonly example?: string } = {}
): Setting<L, N> =>
  make(
    parsed(name, (v): Result.Result<L, string> => {
      const l = v.toLowerCase()
      const hit = schema.literals.find((x) => x.toLowerCase() === l) ?? options.aliases?.[l]
      return hit !== undefined
        ? Result.succeed(hit)
        : Result.fail(`${show(v)} is not one of ${options.shown ?? schema.literals.join("|")}`)
    }).pipe(Config.withDefault(fallback)),
    current(name, options.example ?? fallback)
  )

/** An absolute URL with one of `protocols`; the default is returned as declared. */
const url = (protocols: ReadonlyArray<string>, stripSlash: boolean) => (v: string): Result.Result<string, string> => {
  let parsedUrl: URL
  try {
    parsedUrl = new URL(v)
  } catch {
    return Result.fail(`${show(v)} is not a URL`)
  }
  if (!protocols.includes(parsedUrl.protocol)) {
    return Result.fail(`${show(v)} must start with ${protocols.map((p) => `${p}//`).join(" or ")}`)
  }
  return Result.succeed(stripSlash ? v.replace(/\/+$/, "") : v)
}

/** An http(s) URL without a trailing slash (callers append paths; grammY refuses an apiRoot ending in "/"). */
export const httpUrl = <const N extends string>(name: N, fallback: string): Setting<string, N> =>
  make(parsed(name, url(["http:", "https:"], true)).pipe(Config.withDefault(fallback)), current(name, fallback))

export const wsUrl = <const N extends string>(name: N, fallback: string): Setting<string, N> =>
  make(parsed(name, url(["ws:", "wss:"], false)).pipe(Config.withDefault(fallback)), current(name, fallback))

/** A list separated by commas, semicolons or spaces; absent = empty. */
export const list = <const N extends string>(name: N, example: string): Setting<ReadonlyArray<string>, N> =>
  make(
    Config.String(name).pipe(
      Config.map((v): ReadonlyArray<string> => v.split(/[,;\s]+/).filter((s) => s.length > 0)),
      Config.withDefault<ReadonlyArray<string>>([])
    ),
    current(name, example)
  )

/** A list whose every item `parse` accepts; the first refused item is the problem. */
export const listOf = <const N extends string, A>(
  name: N,
  example: string,
  parse: (item: string) => Result.Result<A, string>
): Setting<ReadonlyArray<A>, N> =>
  make(
    parsed(name, (v) => {
      const out: Array<A> = []
      for (const item of v.split(/[,;\s]+/).filter((s) => s.length > 0)) {
        const r = parse(item)
        if (Result.isFailure(r)) return Result.fail(r.failure)
        out.push(r.success)
      }
      return Result.succeed<ReadonlyArray<A>>(out)
    }).pipe(Config.withDefault<ReadonlyArray<A>>([])),
    current(name, example)
  )

/** An optional value checked by `parse`. */
export const optionalParsed = <const N extends string, A>(
  name: N,
  example: string,
  parse: (value: string) => Result.Result<A, string>
): Setting<A | undefined, N> => make(orUndefined(parsed(name, parse)), current(name, example))

/**
 * The first of `name` and its older names that is set, with the name it came from; `undefined` when
 * none is. The older names are declared `renamed` (read, with a warning).
 */
export const firstOf = <const N extends string, const O extends string>(
  name: N,
  example: string,
  olderNames: ReadonlyArray<O>
): Setting<{ readonly name: string; readonly value: string } | undefined, N | O> =>
  make(
    Config.all([name, ...olderNames].map((n) => orUndefined(Config.String(n)))).pipe(
      Config.map((values) => {
        const names = [name, ...olderNames]
        const i = values.findIndex((v) => v !== undefined)
        return i < 0 ? undefined : { name: names[i]!, value: values[i]! }
      })
    ),
    [{ name, status: "current", example }, ...olderNames.map((n): VariableDoc => ({ name: n, status: "renamed", example, readAs: name }))]
  )

/** Whether each of `names` is set (seed variables with no effect here): the ones set, with why. */
export const ignored = <const N extends string>(
  entries: ReadonlyArray<{ readonly variable: N; readonly why: string }>
): Setting<ReadonlyArray<{ readonly variable: N; readonly why: string }>, N> =>
  make(
    Config.all(entries.map((e) => orUndefined(Config.String(e.variable)))).pipe(
      Config.map((values) => entries.filter((_, i) => values[i] !== undefined))
    ),
    entries.map((e): VariableDoc => ({ name: e.variable, status: "ignored", why: e.why }))
  )

/** The older names among `variables` that are set, with the name to use instead (declares nothing new). */
export const renamedInUse = (
  variables: ReadonlyArray<VariableDoc>
): Setting<ReadonlyArray<{ readonly variable: string; readonly use: string }>, never> => {
  const renamed = variables.flatMap((v) => (v.status === "renamed" ? [{ variable: v.name, use: v.readAs }] : []))
  return make(
    Config.all(renamed.map((r) => orUndefined(Config.String(r.variable)))).pipe(
      Config.map((values) => renamed.filter((_, i) => values[i] !== undefined))
    ),
    []
  )
}

// ---------------------------------------------------------------------------------------------
// Combining
// ---------------------------------------------------------------------------------------------

/** A record of settings as one setting (its value: the record of their values). */
export const section = <const S extends Record<string, Setting<any, string>>>(
  settings: S
): Setting<{ readonly [K in keyof S]: SettingOf<S[K]> }, NamesOf<S[keyof S]>> => {
  const configs: Record<string, Config.Config<unknown>> = {}
  const variables: Array<VariableDoc> = []
  for (const [key, setting] of Object.entries(settings)) {
    configs[key] = setting.config
    variables.push(...setting.variables)
  }
  return make(Config.all(configs) as Config.Config<any>, variables)
}

/** A setting computed (and checked) from another; `f` fails with `problem(...)`. */
export const derive = <A, B, N extends string>(
  setting: Setting<A, N>,
  f: (a: A) => Effect.Effect<B, Config.ConfigError>
): Setting<B, N> => make(Config.mapEffect(setting.config, f), setting.variables)

/** A setting computed from another without a check. */
export const mapSetting = <A, B, N extends string>(setting: Setting<A, N>, f: (a: A) => B): Setting<B, N> =>
  make(Config.map(setting.config, f), setting.variables)
