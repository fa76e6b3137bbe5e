/**
 * Hostile HTTP requests for the fuzz test, as fast-check arbitraries: random and
 * mutated webhook bodies (deep JSON, huge numbers, NaN/Infinity, unicode, `__proto__` /
 * `constructor` keys, very long strings, wrong types, binary, KEY=VALUE garbage), odd headers, and
 * fuzzed query strings, ids and bodies for every operator route.
 */
import fc from "fast-check"
import { normaliseKey } from "../../src/domain/webhookBody.ts"

export interface FuzzRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string | Uint8Array | undefined
  /** What it exercises (for failure messages). */
  readonly kind: string
}

const FIELDS = [
  "secret", "token", "passphrase", "key", "symbol", "ticker", "action", "actions", "side", "signal", "qty", "quantity",
  "contracts", "amount", "margin_usdt", "margin", "price", "close", "leverage", "margin_mode", "stop_loss", "sl",
  "take_profit", "tp", "timestamp", "time", "timenow", "id", "market_position", "prev_market_position", "position_side",
  "sentiment", "reduce_only", "__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty",
  "__defineGetter__", "isPrototypeOf", "then", "length", ""
] as const

/** Normalised keys the webhook reads (a hostile extra field must not collide with one). */
const SIGNAL_KEYS = new Set(FIELDS.slice(0, 33).map(normaliseKey))

/** Raw JSON number tokens a parser or a decimal library may choke on. */
const hugeNumber = fc.oneof(
  fc.constantFrom("1e999", "-1e999", "1e-999", "-0", "0e0", "1E+308", "4.9e-324", "1e308", "123456789012345678901234567890",
    "0.000000000000000000000000000001", "9007199254740993", "-9223372036854775809", "1.7976931348623157e309"),
  fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 400 })).map(([neg, i, f]) =>
    `${neg ? "-" : ""}${"9".repeat(i)}${f > 0 ? `.${"1".repeat(f)}` : ""}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: -100_000, max: 100_000 })).map(([m, e]) => `${m}e${e}`)
)

const hostileString = fc.oneof(
  fc.constantFrom("NaN", "Infinity", "-Infinity", "nan", "inf", "1e999", "0x10", "1_000", "１２３", "١٢٣", "", " ", "null",
    "undefined", "true", "{{close}}", "{{strategy.order.contracts}}", "BTCUSDT", "BTC-USDT", "buy", "sell", "close_long",
    "LONG_BUY", "\u0000", "\ud800", "\udfff", "a\u0000b", "\u202e\u2066evil", "\ufeff1", "‮", "💥🚀", "e\u0301", "Ω",
    "'; DROP TABLE signals; --", "<script>alert(1)</script>", "../../etc/passwd", "%00", "\\u0000", "${7*7}", "__proto__"),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 1, max: 20_000 }).map((n) => "x".repeat(n))
)

/** A JSON value written as text (so raw numbers like 1e999 survive), possibly with hostile leaves. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: "small" },
    hugeNumber,
    hostileString.map((s) => JSON.stringify(s)),
    fc.constantFrom("true", "false", "null", "0", "1", "-1", "0.5"),
    fc.array(tie("value"), { maxLength: 5 }).map((xs) => `[${xs.join(",")}]`),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), hostileString), tie("value")), { maxLength: 6 })
      .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`)
  )
})).value

/** An object that is often a valid alert, with hostile values mixed in. */
const alertText = (token: string) =>
  fc.tuple(
    fc.dictionary(fc.constantFrom(...FIELDS), jsonText, { maxKeys: 8 }),
    fc.record({
      symbol: fc.oneof(fc.constantFrom("\"BTCUSDT\"", "\"ETHUSDT.P\"", "\"BINANCE:SOLUSDT\""), jsonText),
      action: fc.oneof(fc.constantFrom("\"buy\"", "\"sell\"", "\"long\"", "\"close_short\""), jsonText),
      qty: fc.oneof(fc.constantFrom("\"0.001\"", "1", "\"0.5\""), hugeNumber, jsonText)
    }),
    fc.boolean()
  ).map(([extra, main, withToken]) => {
    const entries: Array<[string, string]> = [...Object.entries(extra), ...Object.entries(main)]
    if (withToken) entries.unshift(["secret", JSON.stringify(token)])
    // Keys written as given: duplicates and __proto__ stay in the text.
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`
  })

/** A valid alert carrying hostile values in fields the signal does not use (they reach the stored payload). */
const storedAlertText = (token: string) =>
  fc.tuple(
    fc.dictionary(fc.oneof(hostileString, fc.constantFrom("note", "comment", "__proto__", "constructor", "prototype")), jsonText, {
      minKeys: 1,
      maxKeys: 4
    }),
    fc.constantFrom(["BTCUSDT", "0.001"], ["ETHUSDT", "0.01"], ["SOLUSDT", "0.1"]),
    fc.constantFrom("buy", "sell", "long", "close_long"),
    fc.uuid()
  ).map(([extra, [symbol, qty], action, id]) => {
    const entries = Object.entries(extra).filter(([k]) => !SIGNAL_KEYS.has(normaliseKey(k)))
    const head = `"secret":${JSON.stringify(token)},"id":"${id}","symbol":"${symbol}","action":"${action}","qty":"${qty}"`
    return `{${head}${entries.map(([k, v]) => `,${JSON.stringify(k)}:${v}`).join("")}}`
  })

const deepJson = (token: string) =>
  fc.tuple(fc.integer({ min: 20, max: 30_000 }), fc.constantFrom("[", "{\"a\":"), fc.boolean()).map(([depth, open, closed]) => {
    const close = open === "[" ? "]" : "}"
    return `{"secret":${JSON.stringify(token)},"symbol":"BTCUSDT","action":"buy","qty":"1","x":${open.repeat(depth)}1${
      closed ? close.repeat(depth) : ""
    }}`
  })

const keyValueText = (token: string) =>
  fc.tuple(
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), hostileString), hostileString), { maxLength: 10 }),
    fc.constantFrom("\n", "\r\n", ";", "\r", "&"),
    fc.boolean()
  ).map(([pairs, sep, withToken]) =>
    [...(withToken ? [["TOKEN", token] as const] : []), ...pairs].map(([k, v]) => `${k}=${v}`).join(sep)
  )

/** A valid alert text with random edits (deletions, insertions, duplications). */
const mutated = (token: string) =>
  fc.tuple(
    fc.constantFrom(
      `{"secret":"${token}","symbol":"BTCUSDT","action":"buy","qty":"0.001","price":"65000.5","timestamp":"2026-01-01T00:00:00Z"}`,
      `symbol=ETHUSDT\naction=sell\nqty=0.01\ntoken=${token}`,
      `{"secret":"${token}","actions":[{"action":"buy","qty":1},{"action":"sell","qty":2}],"symbol":"BTCUSDT"}`
    ),
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.string({ unit: "binary", maxLength: 6 })), { minLength: 1, maxLength: 6 })
  ).map(([base, edits]) => {
    let s = base
    for (const [at, cut, insert] of edits) {
      const i = at % (s.length + 1)
      s = s.slice(0, i) + insert + s.slice(i + cut)
    }
    return s
  })

const CONTENT_TYPES = [
  "application/json", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
  "application/octet-stream", "text/plain; charset=utf-16", "application/json; charset=latin1", "", "*/*", "x/\u00ff"
]

export const webhookRequest = (token: string): fc.Arbitrary<FuzzRequest> =>
  fc.tuple(
    fc.oneof(
      { weight: 3, arbitrary: alertText(token).map((b) => ["alert", b] as const) },
      { weight: 3, arbitrary: storedAlertText(token).map((b) => ["stored", b] as const) },
      { weight: 2, arbitrary: jsonText.map((b) => ["json", b] as const) },
      { weight: 1, arbitrary: deepJson(token).map((b) => ["deep", b] as const) },
      { weight: 2, arbitrary: keyValueText(token).map((b) => ["text", b] as const) },
      { weight: 2, arbitrary: mutated(token).map((b) => ["mutated", b] as const) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4_000 }).map((b) => ["binary", b] as const) },
      { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 - 100, max: 80_000 }).map((n) => ["long", `{"secret":"${token}","note":"${"y".repeat(n)}"}`] as const) }
    ),
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom("/webhook/tradingview", `/webhook/tradingview/${token}`, `/webhook/tradingview?token=${token}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom("/webhook/tradingview/%E0%A4%A", "/webhook/tradingview/..%2F..%2F", `/webhook/tradingview?token=${token}&token=x`,
          `/webhook/tradingview/${"t".repeat(600)}`, "/webhook/tradingview/%00")
      }
    ),
    fc.constantFrom(...CONTENT_TYPES),
    fc.oneof(
      { weight: 12, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.record({ "x-forwarded-for": fc.constantFrom("52.89.214.238", "1.1.1.1, 2.2.2.2", "garbage", "::1") }) },
      { weight: 1, arbitrary: fc.record({ "x-tradingview-token": fc.constantFrom(token, "wrong", "") }) },
      { weight: 1, arbitrary: fc.record({ "x-huge": fc.integer({ min: 1, max: 40 }).map((k) => "h".repeat(k * 1024)) }) }
    )
  ).map(([[kind, body], path, contentType, headers]) => ({
    kind,
    method: "POST",
    path,
    headers: { ...(contentType === "" ? {} : { "content-type": contentType }), ...headers },
    body
  }))

const queryValue = fc.oneof(hostileString, hugeNumber, fc.constantFrom("1", "50", "500", "501", "0", "-1", "day", "week", "all"))
const idValue = fc.oneof(fc.constantFrom("1", "0", "-1", "99999999999999999999", "9999999999999999999", "9223372036854775808", "1e3", "0x1", "abc", "%00", "1%2F2", "null"), hostileString)
const enc = (s: string) => {
  try {
    return encodeURIComponent(s)
  } catch {
    return "%ED%A0%80" // a lone surrogate cannot be encoded: send its (invalid) UTF-8 bytes instead
  }
}

/** Fuzzed calls of every operator route (the caller adds the bearer token). */
export const operatorRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.tuple(fc.constantFrom("/signals", "/orders", "/bot/reports", "/pnl", "/reports/pnl.csv", "/positions", "/balances", "/system", "/bot/status"),
    fc.array(fc.tuple(fc.constantFrom("limit", "symbol", "since", "status", "period", "from", "to", "x", "limit"), queryValue), { maxLength: 4 }))
    .map(([path, params]) => ({
      kind: "query",
      method: "GET",
      path: `${path}${params.length === 0 ? "" : `?${params.map(([k, v]) => `${k}=${enc(v)}`).join("&")}`}`,
      headers: {},
      body: undefined
    })),
  fc.tuple(fc.constantFrom("/signals/", "/orders/"), idValue).map(([p, id]) => ({
    kind: "id",
    method: "GET",
    path: `${p}${enc(id)}`,
    headers: {},
    body: undefined
  })),
  fc.tuple(idValue, fc.constantFrom("approve", "reject")).map(([id, what]) => ({
    kind: "decision",
    method: "POST",
    path: `/orders/${enc(id)}/${what}`,
    headers: {},
    body: undefined
  })),
  fc.tuple(fc.constantFrom("/bot/settings", "/bot/audit"), fc.oneof(jsonText, alertText("x"), fc.uint8Array({ maxLength: 500 }))).map(([path, body]) => ({
    kind: "body",
    method: "POST",
    path,
    headers: { "content-type": "application/json" },
    body
  }))
)
