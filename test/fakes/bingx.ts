/**
 * A loopback fake of the BingX perpetual swap REST API (and the user-data WebSocket), for tests.
 *
 * What it does like the real one:
 * - verifies `X-BX-APIKEY`, the HMAC signature (raw values in received order, or the exact bytes)
 *   and `timestamp` against its own clock and `recvWindow` (100412 / 100413 / 100001 / 100421);
 * - answers business errors as HTTP 200 + `code`, sometimes with `code` as a string;
 * - writes order ids above 2^53 as bare JSON numbers;
 * - one-way mode accepts only `positionSide=BOTH` (+ `reduceOnly`), hedge mode only LONG/SHORT
 *   (and refuses `reduceOnly`); leverage `side` likewise;
 * - rejects a repeated clientOrderId (101481), too many quantity decimals (109400), below minimum
 *   (101400), insufficient margin (101204), SL/TP on the wrong side (110411/110412);
 * - fills MARKET orders at its current price (or leaves them NEW when `fillMode: "new"`), charging
 *   the taker fee `feeRate` (default 0.0005): queries and open orders report it as `commission`
 *   (negative = paid), stream events as `n` / `N`; the placement answer carries no commission and
 *   no time, like BingX's;
 * - serves `/swap-market?listenKey=` with gzip binary frames, `Ping` heartbeats, and pushes
 *   ORDER_TRADE_UPDATE when an order fills.
 * Faults can be injected per path: business codes, HTTP statuses, hangs, delays, and "execute
 * then hang/5xx" (the order is placed but the client never learns it: an unknown outcome).
 * Everything received is recorded for assertions.
 */
import * as NodeWS from "@effect/platform-node/NodeWS"
import { BigDecimal, Effect } from "effect"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Zlib from "node:zlib"

export const FAKE_API_KEY = "fake-api-key"
export const FAKE_SECRET = "fake-secret-0123456789"
export const FIRST_ORDER_ID = 1736011869418901234n

export type FakePositionMode = "one_way" | "hedge"

export interface FakeContract {
  readonly symbol: string
  readonly quantityPrecision: number
  readonly pricePrecision: number
  readonly tradeMinQuantity: string
  readonly tradeMinUSDT: string
  readonly maxLongLeverage: number
  readonly maxShortLeverage: number
}

export type Fault =
  /** HTTP 200 (or `http`) with this business code. `codeAsString` writes "code":"…". */
  | { readonly kind: "code"; readonly code: number; readonly msg: string; readonly http?: number; readonly codeAsString?: boolean }
  | { readonly kind: "http"; readonly status: number; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }
  /** Never answers (the connection stays open until the client gives up). */
  | { readonly kind: "hang" }
  /** Answers normally after `ms`. */
  | { readonly kind: "delay"; readonly ms: number }
  /** Processes the request (an order is placed), then never answers. */
  | { readonly kind: "executeThenHang" }
  /** Processes the request at once, answers after `ms` (a client that gives up first never learns it). */
  | { readonly kind: "executeThenDelay"; readonly ms: number }
  /** Processes the request, then answers with this HTTP status. */
  | { readonly kind: "executeThenHttp"; readonly status: number }
  /** Processes the request, then answers this business code (e.g. 101500 rpc timeout). */
  | { readonly kind: "executeThenCode"; readonly code: number; readonly msg: string }
  /**
   * A success that lacks the order: `{"code":0,"data":{"order":{}}}`. With `execute` the order is
   * placed first (the answer alone was lost); without, nothing happened at the exchange.
   */
  | { readonly kind: "emptySuccess"; readonly execute?: boolean }
  /**
   * Processes the request, then answers its JSON body (`{code, msg, data}`, ids as bigint) as
   * `rewrite` returns it: a malformed answer to a request that took effect.
   */
  | { readonly kind: "rewrite"; readonly rewrite: (body: any) => unknown }

export interface FaultRule {
  readonly method: string | undefined
  /** Only requests for this symbol. */
  readonly symbol: string | undefined
  readonly path: string
  remaining: number
  readonly fault: Fault
}

export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  /** Decoded parameters (query and form body). */
  readonly params: Readonly<Record<string, string>>
  /** Parameter keys in the order they were sent. */
  readonly keys: ReadonlyArray<string>
  readonly rawQuery: string
  readonly headers: Readonly<Record<string, string | undefined>>
  /** undefined for public endpoints. */
  readonly signatureValid: boolean | undefined
  readonly at: number
  /** The business code answered (0 = success), or the HTTP status for transport-level answers. */
  answer: { readonly http: number; readonly code: number | undefined } | undefined
}

export interface FakeOrder {
  readonly orderId: bigint
  readonly clientOrderId: string | undefined
  readonly symbol: string
  readonly side: "BUY" | "SELL"
  readonly positionSide: "BOTH" | "LONG" | "SHORT"
  readonly type: string
  readonly quantity: string
  readonly reduceOnly: boolean
  readonly stopLoss: string | undefined
  readonly takeProfit: string | undefined
  status: "NEW" | "FILLED" | "CANCELLED"
  executedQty: string
  avgPrice: string
  commission: string
  readonly time: number
  updateTime: number
  readonly params: Readonly<Record<string, string>>
}

export interface FakeBingxOptions {
  readonly apiKey?: string
  readonly secret?: string
  readonly positionMode?: FakePositionMode
  readonly prices?: Readonly<Record<string, string>>
  readonly contracts?: ReadonlyArray<FakeContract>
  /** USDT wallet balance. */
  readonly balance?: string
  readonly fillMode?: "immediate" | "new"
  /** The fake's clock is `Date.now() + clockOffsetMs`. */
  readonly clockOffsetMs?: number
  readonly pingIntervalMs?: number
  /** Taker fee rate charged on fills. */
  readonly feeRate?: string
}

const DEFAULT_CONTRACTS: ReadonlyArray<FakeContract> = [
  { symbol: "BTC-USDT", quantityPrecision: 4, pricePrecision: 1, tradeMinQuantity: "0.0001", tradeMinUSDT: "2", maxLongLeverage: 125, maxShortLeverage: 125 },
  { symbol: "ETH-USDT", quantityPrecision: 2, pricePrecision: 2, tradeMinQuantity: "0.01", tradeMinUSDT: "2", maxLongLeverage: 100, maxShortLeverage: 100 },
  { symbol: "SOL-USDT", quantityPrecision: 1, pricePrecision: 3, tradeMinQuantity: "0.1", tradeMinUSDT: "2", maxLongLeverage: 50, maxShortLeverage: 50 }
]

const DEFAULT_PRICES: Readonly<Record<string, string>> = {
  "BTC-USDT": "65000.5",
  "ETH-USDT": "3000.25",
  "SOL-USDT": "150.125"
}

const D = (s: string) => BigDecimal.fromStringUnsafe(s)
const text = (d: BigDecimal.BigDecimal): string => {
  const n = BigDecimal.normalize(d)
  const neg = n.value < 0n
  const digits = (neg ? -n.value : n.value).toString()
  let out: string
  if (n.scale <= 0) out = digits + "0".repeat(-n.scale)
  else {
    const p = digits.padStart(n.scale + 1, "0")
    out = `${p.slice(0, p.length - n.scale)}.${p.slice(p.length - n.scale)}`
  }
  return neg && out !== "0" ? `-${out}` : out
}

/** JSON with bigint values written as bare numbers (like BingX's ids). */
const toJson = (body: unknown): string =>
  JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? `__BIG__${v.toString()}` : v)).replace(
    /"__BIG__(-?\d+)"/g,
    "$1"
  )

const hmac = (secret: string, payload: string) => Crypto.createHmac("sha256", secret).update(payload).digest("hex")

interface PositionState {
  quantity: BigDecimal.BigDecimal
  cost: BigDecimal.BigDecimal
}

export class FakeBingx {
  readonly apiKey: string
  readonly secret: string
  positionMode: FakePositionMode
  fillMode: "immediate" | "new"
  clockOffsetMs: number
  feeRate: string
  balance: BigDecimal.BigDecimal
  readonly prices = new Map<string, string>()
  readonly contracts = new Map<string, FakeContract>()
  readonly received: Array<ReceivedRequest> = []
  readonly orders: Array<FakeOrder> = []
  readonly marginTypes = new Map<string, string>()
  /** key `${symbol}:${side}` → leverage. */
  readonly leverages = new Map<string, number>()
  readonly positions = new Map<string, PositionState>()
  readonly listenKeys = new Set<string>()
  readonly ws = { connections: 0, pongs: 0, open: new Set<NodeWS.WebSocket>(), frames: [] as Array<string> }
  private rules: Array<FaultRule> = []
  private nextOrderId = FIRST_ORDER_ID
  private server: Http.Server
  private wss: NodeWS.WebSocketServer
  private sockets = new Set<Net.Socket>()
  private pingTimer: ReturnType<typeof setInterval> | undefined
  port = 0

  constructor(options: FakeBingxOptions = {}) {
    this.apiKey = options.apiKey ?? FAKE_API_KEY
    this.secret = options.secret ?? FAKE_SECRET
    this.positionMode = options.positionMode ?? "one_way"
    this.fillMode = options.fillMode ?? "immediate"
    this.clockOffsetMs = options.clockOffsetMs ?? 0
    this.feeRate = options.feeRate ?? "0.0005"
    this.balance = D(options.balance ?? "10000")
    for (const [k, v] of Object.entries(options.prices ?? DEFAULT_PRICES)) this.prices.set(k, v)
    for (const c of options.contracts ?? DEFAULT_CONTRACTS) this.contracts.set(c.symbol, c)
    this.server = Http.createServer((req, res) => this.handle(req, res))
    this.server.on("connection", (s) => {
      this.sockets.add(s)
      s.on("close", () => this.sockets.delete(s))
    })
    this.wss = new NodeWS.WebSocketServer({ noServer: true })
    this.server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      const key = url.searchParams.get("listenKey")
      if (url.pathname !== "/swap-market" || key === null || !this.listenKeys.has(key)) {
        socket.end("HTTP/1.1 404 Not Found\r\n\r\n")
        return
      }
      this.wss.handleUpgrade(req, socket, head, (client) => this.onWsConnection(client))
    })
    const pingMs = options.pingIntervalMs ?? 1_000
    this.pingTimer = setInterval(() => {
      for (const client of this.ws.open) this.sendWs(client, "Ping")
    }, pingMs)
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/swap-market`
  }

  now(): number {
    return Date.now() + this.clockOffsetMs
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject)
      this.server.listen(0, "127.0.0.1", () => {
        const address = this.server.address()
        this.port = typeof address === "object" && address !== null ? address.port : 0
        resolve()
      })
    })
  }

  stop(): Promise<void> {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer)
    for (const client of this.ws.open) client.terminate()
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.wss.close(() => this.server.close(() => resolve())))
  }

  // ------------------------------------------------------------------------------------------
  // Test controls
  // ------------------------------------------------------------------------------------------

  /** The next `times` requests to `path` (optionally only `method`) get `fault`. */
  inject(
    path: string,
    fault: Fault,
    options: { readonly times?: number; readonly method?: string; readonly symbol?: string } = {}
  ): void {
    this.rules.push({ path, fault, remaining: options.times ?? 1, method: options.method, symbol: options.symbol })
  }

  clearFaults(): void {
    this.rules = []
  }

  requests(path: string, method?: string): Array<ReceivedRequest> {
    return this.received.filter((r) => r.path === path && (method === undefined || r.method === method))
  }

  /** Accepted (placed) orders. */
  placed(): Array<FakeOrder> {
    return this.orders
  }

  /** Fills every NEW order at the current price (for `fillMode: "new"`). */
  fillPending(): void {
    for (const o of this.orders) if (o.status === "NEW") this.fill(o)
  }

  /** Sends an event (JSON) to every user-data stream connection. */
  pushEvent(event: unknown): void {
    for (const client of this.ws.open) this.sendWs(client, toJson(event))
  }

  /** Closes every user-data stream connection (the client should reconnect). */
  dropStreams(): void {
    for (const client of this.ws.open) client.terminate()
  }

  // ------------------------------------------------------------------------------------------
  // HTTP
  // ------------------------------------------------------------------------------------------

  private handle(req: Http.IncomingMessage, res: Http.ServerResponse): void {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      this.route(req, res, body)
    })
  }

  private route(req: Http.IncomingMessage, res: Http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const rawQuery = (req.url ?? "").includes("?") ? (req.url ?? "").slice((req.url ?? "").indexOf("?") + 1) : ""
    const pieces = [rawQuery, req.headers["content-type"]?.includes("x-www-form-urlencoded") ? body : ""]
      .filter((p) => p.length > 0)
      .join("&")
    const params: Record<string, string> = {}
    const keys: Array<string> = []
    for (const piece of pieces.split("&").filter((p) => p.length > 0)) {
      const eq = piece.indexOf("=")
      const k = eq < 0 ? piece : piece.slice(0, eq)
      const v = eq < 0 ? "" : decodeURIComponent(piece.slice(eq + 1))
      params[k] = v
      keys.push(k)
    }
    const method = req.method ?? "GET"
    const path = url.pathname
    const isPublic = path.startsWith("/openApi/swap/v2/quote/") || path === "/openApi/swap/v2/server/time" ||
      path === "/openApi/swap/v1/ticker/price"
    const isListenKey = path === "/openApi/user/auth/userDataStream"
    const headers: Record<string, string | undefined> = {}
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(",") : v
    const signatureValid = isPublic || isListenKey ? undefined : this.verifySignature(pieces, params)
    const record: ReceivedRequest = { method, path, params, keys, rawQuery, headers, signatureValid, at: this.now(), answer: undefined }
    this.received.push(record)

    const send = (status: number, payload: unknown, code: number | undefined, extraHeaders: Record<string, string> = {}) => {
      record.answer = { http: status, code }
      if (res.writableEnded || res.destroyed) return
      res.writeHead(status, { "content-type": "application/json", ...extraHeaders })
      res.end(typeof payload === "string" ? payload : toJson(payload))
    }
    const ok = (data: unknown) => send(200, { code: 0, msg: "", data }, 0)
    const fail = (code: number, msg: string, codeAsString = false) =>
      send(200, { code: codeAsString ? String(code) : code, msg, timestamp: this.now() }, code)

    // Authentication (private endpoints), like BingX: before anything else.
    if (!isPublic) {
      if (headers["x-bx-apikey"] !== this.apiKey) return fail(100413, "Incorrect apiKey")
      if (!isListenKey) {
        if (params["signature"] === undefined) return fail(100412, "Null signature")
        if (signatureValid !== true) return fail(100001, "Signature verification failed due to signature mismatch")
        const ts = Number(params["timestamp"])
        const recvWindow = params["recvWindow"] === undefined ? 5_000 : Number(params["recvWindow"])
        const now = this.now()
        if (!Number.isFinite(ts) || now - ts > recvWindow || ts > now + 1_000) {
          return fail(100421, "Null timestamp or timestamp mismatch, try to run our sample code to see if your server time is correct")
        }
      }
    }

    const rule = this.rules.find((r) =>
      r.path === path && (r.method === undefined || r.method === method) &&
      (r.symbol === undefined || r.symbol === params["symbol"]) && r.remaining > 0
    )
    if (rule !== undefined) rule.remaining--
    const fault = rule?.fault
    const execute = () => this.dispatch(method, path, params, ok, fail, send)

    if (fault === undefined) return execute()
    switch (fault.kind) {
      case "code":
        record.answer = { http: fault.http ?? 200, code: fault.code }
        res.writeHead(fault.http ?? 200, { "content-type": "application/json" })
        res.end(toJson({ code: fault.codeAsString ? String(fault.code) : fault.code, msg: fault.msg, timestamp: this.now() }))
        return
      case "http":
        record.answer = { http: fault.status, code: undefined }
        res.writeHead(fault.status, { "content-type": "text/plain", ...fault.headers })
        res.end(fault.body ?? `fake ${fault.status}`)
        return
      case "hang":
        record.answer = { http: 0, code: undefined }
        return
      case "delay":
        setTimeout(execute, fault.ms)
        return
      case "executeThenHang":
        this.dispatch(method, path, params, () => {}, () => {}, () => {})
        record.answer = { http: 0, code: undefined }
        return
      case "executeThenDelay": {
        let answer: (() => void) | undefined
        this.dispatch(method, path, params, (data) => {
          answer = () => ok(data)
        }, (code, msg) => {
          answer = () => fail(code, msg)
        }, (status, payload, code) => {
          answer = () => send(status, payload, code)
        })
        setTimeout(() => answer?.(), fault.ms)
        return
      }
      case "executeThenHttp":
        this.dispatch(method, path, params, () => {}, () => {}, () => {})
        record.answer = { http: fault.status, code: undefined }
        res.writeHead(fault.status, { "content-type": "text/plain" })
        res.end("upstream timeout")
        return
      case "executeThenCode":
        this.dispatch(method, path, params, () => {}, () => {}, () => {})
        return fail(fault.code, fault.msg)
      case "emptySuccess":
        if (fault.execute === true) this.dispatch(method, path, params, () => {}, () => {}, () => {})
        return ok({ order: {} })
      case "rewrite":
        return this.dispatch(
          method,
          path,
          params,
          (data) => send(200, fault.rewrite({ code: 0, msg: "", data }), 0),
          fail,
          (status, payload, code) => send(status, typeof payload === "string" ? payload : fault.rewrite(payload), code)
        )
    }
  }

  /** Accepts (a) raw values joined in received order, or (b) the exact transmitted bytes. */
  private verifySignature(pieces: string, params: Record<string, string>): boolean {
    const signature = params["signature"]
    if (signature === undefined) return false
    const parts = pieces.split("&").filter((p) => p.length > 0 && !p.startsWith("signature="))
    const decoded = parts.map((p) => {
      const eq = p.indexOf("=")
      return eq < 0 ? p : `${p.slice(0, eq)}=${decodeURIComponent(p.slice(eq + 1))}`
    }).join("&")
    return hmac(this.secret, decoded) === signature || hmac(this.secret, parts.join("&")) === signature
  }

  private dispatch(
    method: string,
    path: string,
    p: Record<string, string>,
    ok: (data: unknown) => void,
    fail: (code: number, msg: string, codeAsString?: boolean) => void,
    send: (status: number, payload: unknown, code: number | undefined) => void
  ): void {
    const route = `${method} ${path}`
    switch (route) {
      case "GET /openApi/swap/v2/server/time":
        return ok({ serverTime: this.now() })
      case "GET /openApi/swap/v2/quote/price":
      case "GET /openApi/swap/v1/ticker/price": {
        const symbol = p["symbol"] ?? ""
        const price = this.prices.get(symbol)
        if (price === undefined) return fail(109400, "symbol not exist")
        return ok({ symbol, price, time: this.now() })
      }
      case "GET /openApi/swap/v2/quote/premiumIndex": {
        const symbol = p["symbol"] ?? ""
        const price = this.prices.get(symbol)
        if (price === undefined) return fail(109400, "symbol not exist")
        return ok({ symbol, markPrice: price, indexPrice: price, lastFundingRate: "0.0001", nextFundingTime: this.now() + 3_600_000 })
      }
      case "GET /openApi/swap/v2/quote/contracts": {
        const all = [...this.contracts.values()].filter((c) => p["symbol"] === undefined || c.symbol === p["symbol"])
        return ok(all.map((c) => ({
          contractId: "100",
          symbol: c.symbol,
          quantityPrecision: c.quantityPrecision,
          pricePrecision: c.pricePrecision,
          tradeMinQuantity: Number(c.tradeMinQuantity),
          tradeMinUSDT: Number(c.tradeMinUSDT),
          maxLongLeverage: c.maxLongLeverage,
          maxShortLeverage: c.maxShortLeverage,
          currency: "USDT",
          asset: c.symbol.split("-")[0],
          status: 1,
          apiStateOpen: "true",
          apiStateClose: "true"
        })))
      }
      case "GET /openApi/swap/v1/positionSide/dual":
        // Like the real API: code and value as strings.
        return send(200, {
          code: "0",
          msg: "",
          timeStamp: String(this.now()),
          data: { dualSidePosition: this.positionMode === "hedge" ? "true" : "false" }
        }, 0)
      case "POST /openApi/swap/v1/positionSide/dual":
        this.positionMode = p["dualSidePosition"] === "true" ? "hedge" : "one_way"
        return ok({ dualSidePosition: p["dualSidePosition"] })
      case "GET /openApi/swap/v2/trade/marginType":
        return ok({ marginType: this.marginTypes.get(p["symbol"] ?? "") ?? "CROSSED" })
      case "POST /openApi/swap/v2/trade/marginType": {
        const mt = p["marginType"]
        if (mt !== "ISOLATED" && mt !== "CROSSED") return fail(109400, "marginType must be ISOLATED or CROSSED")
        if (!this.contracts.has(p["symbol"] ?? "")) return fail(109400, "symbol not exist")
        this.marginTypes.set(p["symbol"]!, mt)
        return send(200, { code: 0, msg: "" }, 0)
      }
      case "GET /openApi/swap/v2/trade/leverage": {
        const s = p["symbol"] ?? ""
        const c = this.contracts.get(s)
        if (c === undefined) return fail(109500, "symbol not exist")
        const lev = (side: string) => this.leverages.get(`${s}:${side}`) ?? 10
        return ok({
          longLeverage: this.positionMode === "hedge" ? lev("LONG") : lev("BOTH"),
          shortLeverage: this.positionMode === "hedge" ? lev("SHORT") : lev("BOTH"),
          maxLongLeverage: c.maxLongLeverage,
          maxShortLeverage: c.maxShortLeverage
        })
      }
      case "POST /openApi/swap/v2/trade/leverage": {
        const s = p["symbol"] ?? ""
        const c = this.contracts.get(s)
        if (c === undefined) return fail(109500, "symbol not exist")
        const side = p["side"] ?? ""
        if (this.positionMode === "one_way" && side !== "BOTH") {
          return fail(109400, "In the One-way mode, the 'Side' field can only be set to BOTH")
        }
        if (this.positionMode === "hedge" && side !== "LONG" && side !== "SHORT") {
          return fail(109400, "In the Hedge mode, the 'Side' field can only be set to LONG or SHORT")
        }
        const leverage = Number(p["leverage"])
        if (!Number.isInteger(leverage) || leverage < 1) return fail(109400, "leverage invalid")
        if (leverage > c.maxLongLeverage) return fail(101414, "leverage exceeds the maximum")
        this.leverages.set(`${s}:${side}`, leverage)
        return ok({ leverage, symbol: s })
      }
      case "POST /openApi/swap/v2/trade/order":
        return this.placeOrder(p, ok, fail)
      case "GET /openApi/swap/v2/trade/order": {
        const o = this.findOrder(p)
        if (o === undefined) return fail(80016, "order does not exist")
        return ok({ order: this.orderView(o) })
      }
      case "DELETE /openApi/swap/v2/trade/order": {
        const o = this.findOrder(p)
        if (o === undefined) return fail(80016, "order does not exist")
        if (o.status === "FILLED") return fail(80018, "order already filled")
        o.status = "CANCELLED"
        o.updateTime = this.now()
        return ok({ order: this.orderView(o) })
      }
      case "GET /openApi/swap/v2/trade/openOrders":
        return ok({
          orders: this.orders.filter((o) => o.status === "NEW" && (p["symbol"] === undefined || o.symbol === p["symbol"]))
            .map((o) => this.orderView(o))
        })
      case "GET /openApi/swap/v2/user/positions": {
        const out: Array<unknown> = []
        for (const [key, pos] of this.positions) {
          const [symbol, side] = key.split(":") as [string, string]
          if (p["symbol"] !== undefined && p["symbol"] !== symbol) continue
          if (BigDecimal.isZero(pos.quantity)) continue
          const price = D(this.prices.get(symbol) ?? "0")
          const longSide = side === "LONG"
          const avg = BigDecimal.divideUnsafe(pos.cost, pos.quantity)
          const upnl = longSide
            ? BigDecimal.subtract(BigDecimal.multiply(price, pos.quantity), pos.cost)
            : BigDecimal.subtract(pos.cost, BigDecimal.multiply(price, pos.quantity))
          out.push({
            positionId: 1736011869418999999n,
            symbol,
            currency: "USDT",
            positionAmt: text(pos.quantity),
            availableAmt: text(pos.quantity),
            positionSide: side,
            isolated: this.marginTypes.get(symbol) === "ISOLATED",
            avgPrice: text(BigDecimal.round(avg, { scale: 8 })),
            leverage: this.leverages.get(`${symbol}:${this.positionMode === "hedge" ? side : "BOTH"}`) ?? 10,
            unrealizedProfit: text(upnl),
            markPrice: text(price),
            liquidationPrice: 0,
            onlyOnePosition: this.positionMode === "one_way",
            updateTime: this.now()
          })
        }
        return ok(out)
      }
      case "GET /openApi/swap/v2/user/balance":
        return ok({
          balance: {
            userId: "123",
            asset: "USDT",
            balance: text(this.balance),
            equity: text(this.balance),
            unrealizedProfit: "0",
            realisedProfit: "0",
            availableMargin: text(this.balance),
            usedMargin: "0",
            freezedMargin: "0"
          }
        })
      case "POST /openApi/user/auth/userDataStream": {
        const key = Crypto.randomBytes(16).toString("hex")
        this.listenKeys.add(key)
        return send(200, { listenKey: key }, undefined)
      }
      case "PUT /openApi/user/auth/userDataStream":
        if (!this.listenKeys.has(p["listenKey"] ?? "")) return send(404, { code: 404, msg: "not find key" }, undefined)
        return send(200, {}, undefined)
      case "DELETE /openApi/user/auth/userDataStream":
        this.listenKeys.delete(p["listenKey"] ?? "")
        return send(200, {}, undefined)
      default:
        return send(404, { code: 404, msg: `no route ${route}` }, undefined)
    }
  }

  private findOrder(p: Record<string, string>): FakeOrder | undefined {
    const byId = p["orderId"]
    const byClient = (p["clientOrderId"] ?? p["clientOrderID"])?.toLowerCase()
    return this.orders.find((o) =>
      o.symbol === p["symbol"] &&
      ((byId !== undefined && o.orderId.toString() === byId) || (byClient !== undefined && o.clientOrderId === byClient))
    )
  }

  private placeOrder(
    p: Record<string, string>,
    ok: (data: unknown) => void,
    fail: (code: number, msg: string) => void
  ): void {
    const symbol = p["symbol"] ?? ""
    const contract = this.contracts.get(symbol)
    if (contract === undefined) return fail(109400, "symbol not exist")
    const side = p["side"]
    if (side !== "BUY" && side !== "SELL") return fail(109400, "side must be BUY or SELL")
    if (p["type"] !== "MARKET") return fail(109400, "the fake only supports MARKET orders")
    const positionSide = p["positionSide"] ?? "LONG"
    if (this.positionMode === "one_way" && positionSide !== "BOTH") {
      return fail(109400, "In the One-way mode, the 'PositionSide' field can only be set to BOTH")
    }
    if (this.positionMode === "hedge" && positionSide !== "LONG" && positionSide !== "SHORT") {
      return fail(109400, "In the Hedge mode, the 'PositionSide' field can only be set to LONG or SHORT")
    }
    if (this.positionMode === "hedge" && p["reduceOnly"] !== undefined) {
      return fail(109400, "In the Hedge mode, the 'ReduceOnly' field can not be filled")
    }
    const qtyText = p["quantity"] ?? ""
    if (!/^\d+(\.\d+)?$/.test(qtyText)) return fail(80014, "parameter quantity is must")
    const decimals = qtyText.includes(".") ? qtyText.split(".")[1]!.length : 0
    if (decimals > contract.quantityPrecision) return fail(109400, `quantity precision is ${contract.quantityPrecision}`)
    const qty = D(qtyText)
    const price = D(this.prices.get(symbol)!)
    if (BigDecimal.isLessThan(qty, D(contract.tradeMinQuantity))) return fail(101400, "order size is below the minimum")
    if (BigDecimal.isLessThan(BigDecimal.multiply(qty, price), D(contract.tradeMinUSDT))) {
      return fail(101400, `must be greater than ${contract.tradeMinUSDT}u`)
    }
    const clientOrderId = (p["clientOrderId"] ?? p["clientOrderID"])?.toLowerCase()
    if (clientOrderId !== undefined && this.orders.some((o) => o.clientOrderId === clientOrderId)) {
      return fail(101481, "clientOrderID cannot be repeated")
    }
    const reduceOnly = p["reduceOnly"] === "true"
    const posSide = positionSide === "BOTH" ? this.netSide(symbol) : positionSide
    const closing = positionSide === "BOTH"
      ? posSide !== undefined && ((posSide === "LONG" && side === "SELL") || (posSide === "SHORT" && side === "BUY"))
      : (positionSide === "LONG" && side === "SELL") || (positionSide === "SHORT" && side === "BUY")
    if (reduceOnly && !closing) return fail(101290, "reduce-only order would open or increase a position")
    for (const [key, kind] of [["stopLoss", "STOP_MARKET"], ["takeProfit", "TAKE_PROFIT_MARKET"]] as const) {
      const raw = p[key]
      if (raw === undefined) continue
      let spec: { type?: string; stopPrice?: number | string; workingType?: string }
      try {
        spec = JSON.parse(raw)
      } catch {
        return fail(109400, `${key} is not JSON`)
      }
      if (spec.type !== kind) return fail(109400, `${key}.type must be ${kind}`)
      const stop = D(String(spec.stopPrice))
      const long = positionSide === "LONG" || (positionSide === "BOTH" && side === "BUY")
      const wrong = key === "stopLoss"
        ? (long ? BigDecimal.isGreaterThanOrEqualTo(stop, price) : BigDecimal.isLessThanOrEqualTo(stop, price))
        : (long ? BigDecimal.isLessThanOrEqualTo(stop, price) : BigDecimal.isGreaterThanOrEqualTo(stop, price))
      if (wrong) return fail(key === "stopLoss" ? 110411 : 110412, `${key} trigger price is on the wrong side of the price`)
    }
    const leverage = this.leverages.get(`${symbol}:${this.positionMode === "hedge" ? positionSide : "BOTH"}`) ?? 10
    if (!closing) {
      const margin = BigDecimal.divideUnsafe(BigDecimal.multiply(qty, price), BigDecimal.fromBigInt(BigInt(leverage)))
      if (BigDecimal.isGreaterThan(margin, this.balance)) return fail(101204, "Insufficient margin")
    }
    const order: FakeOrder = {
      orderId: this.nextOrderId++,
      clientOrderId,
      symbol,
      side,
      positionSide: positionSide as FakeOrder["positionSide"],
      type: "MARKET",
      quantity: qtyText,
      reduceOnly,
      stopLoss: p["stopLoss"],
      takeProfit: p["takeProfit"],
      status: "NEW",
      executedQty: "0",
      avgPrice: "0",
      commission: "0",
      time: this.now(),
      updateTime: this.now(),
      params: { ...p }
    }
    this.orders.push(order)
    if (this.fillMode === "immediate") this.fill(order)
    ok({ order: this.placementView(order) })
  }

  private netSide(symbol: string): "LONG" | "SHORT" | undefined {
    for (const side of ["LONG", "SHORT"] as const) {
      const pos = this.positions.get(`${symbol}:${side}`)
      if (pos !== undefined && !BigDecimal.isZero(pos.quantity)) return side
    }
    return undefined
  }

  private fill(order: FakeOrder): void {
    const price = D(this.prices.get(order.symbol)!)
    const qty = D(order.quantity)
    const fee = BigDecimal.multiply(BigDecimal.multiply(qty, price), D(this.feeRate))
    order.status = "FILLED"
    order.executedQty = order.quantity
    order.avgPrice = text(price)
    order.commission = text(BigDecimal.negate(fee))
    order.updateTime = this.now()
    this.balance = BigDecimal.subtract(this.balance, fee)
    // Position bookkeeping (enough for /user/positions).
    const side = order.positionSide === "BOTH" ? (this.netSide(order.symbol) ?? (order.side === "BUY" ? "LONG" : "SHORT")) : order.positionSide
    const key = `${order.symbol}:${side}`
    const pos = this.positions.get(key) ?? { quantity: D("0"), cost: D("0") }
    const opening = (side === "LONG") === (order.side === "BUY")
    if (opening) {
      pos.quantity = BigDecimal.sum(pos.quantity, qty)
      pos.cost = BigDecimal.sum(pos.cost, BigDecimal.multiply(qty, price))
    } else {
      const closeQty = BigDecimal.min(qty, pos.quantity)
      if (!BigDecimal.isZero(pos.quantity)) {
        pos.cost = BigDecimal.subtract(pos.cost, BigDecimal.divideUnsafe(BigDecimal.multiply(pos.cost, closeQty), pos.quantity))
      }
      pos.quantity = BigDecimal.subtract(pos.quantity, closeQty)
      const rest = BigDecimal.subtract(qty, closeQty)
      if (order.positionSide === "BOTH" && BigDecimal.isPositive(rest)) {
        const other = side === "LONG" ? "SHORT" : "LONG"
        this.positions.set(`${order.symbol}:${other}`, { quantity: rest, cost: BigDecimal.multiply(rest, price) })
      }
    }
    this.positions.set(key, pos)
    this.pushEvent({
      e: "ORDER_TRADE_UPDATE",
      E: this.now(),
      o: {
        s: order.symbol,
        c: order.clientOrderId ?? "",
        i: order.orderId,
        S: order.side,
        o: order.type,
        q: order.quantity,
        p: "0",
        ap: order.avgPrice,
        x: "TRADE",
        X: "FILLED",
        N: "USDT",
        n: order.commission,
        T: this.now(),
        ps: order.positionSide,
        z: order.executedQty,
        ro: order.reduceOnly
      }
    })
  }

  /** The placement answer: like BingX's, without commission and without a time. */
  private placementView(o: FakeOrder) {
    return {
      symbol: o.symbol,
      orderId: o.orderId,
      side: o.side,
      positionSide: o.positionSide,
      type: o.type,
      clientOrderId: o.clientOrderId ?? "",
      workingType: "MARK_PRICE",
      quantity: o.quantity,
      status: o.status,
      avgPrice: o.avgPrice,
      executedQty: o.executedQty
    }
  }

  /** An order as queries, cancels and the open-orders list answer it (with its commission, negative = paid). */
  private orderView(o: FakeOrder) {
    return {
      symbol: o.symbol,
      orderId: o.orderId,
      side: o.side,
      positionSide: o.positionSide,
      type: o.type,
      origQty: o.quantity,
      price: "0",
      executedQty: o.executedQty,
      avgPrice: o.avgPrice,
      cumQuote: text(BigDecimal.multiply(D(o.executedQty), D(o.avgPrice))),
      stopPrice: "",
      profit: "0",
      commission: o.commission,
      status: o.status,
      time: o.time,
      updateTime: o.updateTime,
      clientOrderId: o.clientOrderId ?? "",
      leverage: "",
      workingType: "MARK_PRICE",
      reduceOnly: o.reduceOnly
    }
  }

  // ------------------------------------------------------------------------------------------
  // WebSocket
  // ------------------------------------------------------------------------------------------

  private onWsConnection(client: NodeWS.WebSocket): void {
    this.ws.connections++
    this.ws.open.add(client)
    client.on("message", (data: Buffer, isBinary: boolean) => {
      const message = isBinary ? data.toString("utf8") : data.toString("utf8")
      if (message === "Pong") this.ws.pongs++
    })
    client.on("close", () => this.ws.open.delete(client))
    this.sendWs(client, "Ping")
  }

  private sendWs(client: NodeWS.WebSocket, message: string): void {
    this.ws.frames.push(message)
    client.send(Zlib.gzipSync(Buffer.from(message, "utf8")), { binary: true })
  }
}

/** A started fake, stopped when the scope closes. */
export const makeFakeBingx = (options: FakeBingxOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const fake = new FakeBingx(options)
      await fake.start()
      return fake
    }),
    (fake) => Effect.promise(() => fake.stop())
  )
