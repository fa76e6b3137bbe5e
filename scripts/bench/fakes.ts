/**
 * Loopback servers the benchmarked app talks to, kept as cheap as possible so that they measure
 * the app and not themselves:
 *
 * - `startOtlpSink`: accepts every OTLP/HTTP export (`/v1/traces|metrics|logs`) and drops it
 *   (counting requests and bytes, so the report shows telemetry really flowed).
 * - `startFakeExchange`: the BingX REST endpoints the order path uses, answering at once: MARKET
 *   orders fill immediately at a fixed price. No signature check (the test fake in test/fakes does
 *   that; here only speed matters). It records when each order request ARRIVES
 *   (`performance.now()`, the same clock as the load generator in this process), keyed by our
 *   order id (the suffix of `clientOrderId = tvb-<prefix>-<order id>`).
 */
import * as Http from "node:http"
import type * as Net from "node:net"

export interface Listening {
  readonly url: string
  readonly close: () => Promise<void>
}

const listen = (server: Http.Server): Promise<string> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as Net.AddressInfo).port}`))
  })

const closer = (server: Http.Server) => () =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

export interface OtlpSink extends Listening {
  readonly received: { requests: number; bytes: number; bySignal: Record<string, number> }
}

export const startOtlpSink = async (): Promise<OtlpSink> => {
  const received = { requests: 0, bytes: 0, bySignal: {} as Record<string, number> }
  const server = Http.createServer((req, res) => {
    req.on("data", (c: Buffer) => {
      received.bytes += c.length
    })
    req.on("end", () => {
      received.requests++
      const signal = (req.url ?? "").replace(/^.*\/v1\//, "")
      received.bySignal[signal] = (received.bySignal[signal] ?? 0) + 1
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    })
  })
  const url = await listen(server)
  return { url, received, close: closer(server) }
}

export const BENCH_SYMBOLS: ReadonlyArray<string> = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "BNB-USDT", "DOGE-USDT", "ADA-USDT", "LINK-USDT"]
const PRICE = "100.5"

export interface FakeExchange extends Listening {
  /** Arrival time (performance.now()) of the first order request per order id. */
  readonly orderArrivals: Map<string, number>
  /** Requests per `METHOD path`. */
  readonly counts: Map<string, number>
}

export const startFakeExchange = async (): Promise<FakeExchange> => {
  const orderArrivals = new Map<string, number>()
  const counts = new Map<string, number>()
  let nextOrderId = 1736011869418901234n
  const orders = new Map<string, string>()

  const server = Http.createServer((req, res) => {
    const arrived = performance.now()
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const path = q < 0 ? url : url.slice(0, q)
    const params = new URLSearchParams(q < 0 ? "" : url.slice(q + 1))
    const route = `${req.method} ${path}`
    counts.set(route, (counts.get(route) ?? 0) + 1)
    const send = (json: string) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) })
      res.end(json)
    }
    const ok = (data: string) => send(`{"code":0,"msg":"","data":${data}}`)
    // Bodies are not used (BingX takes every parameter in the query string); drain them.
    req.resume()
    const symbol = params.get("symbol") ?? ""
    switch (route) {
      case "GET /openApi/swap/v2/server/time":
        return ok(`{"serverTime":${Date.now()}}`)
      case "GET /openApi/swap/v2/quote/price":
        return ok(`{"symbol":"${symbol}","price":"${PRICE}","time":${Date.now()}}`)
      case "GET /openApi/swap/v2/quote/premiumIndex":
        return ok(`{"symbol":"${symbol}","markPrice":"${PRICE}","indexPrice":"${PRICE}"}`)
      case "GET /openApi/swap/v2/quote/contracts": {
        const list = BENCH_SYMBOLS.filter((s) => symbol === "" || s === symbol).map((s) =>
          `{"symbol":"${s}","quantityPrecision":4,"pricePrecision":2,"tradeMinQuantity":0.0001,"tradeMinUSDT":1,` +
          `"maxLongLeverage":125,"maxShortLeverage":125,"status":1,"apiStateOpen":"true","apiStateClose":"true"}`
        )
        return ok(`[${list.join(",")}]`)
      }
      case "GET /openApi/swap/v1/positionSide/dual":
        return ok(`{"dualSidePosition":"false"}`)
      case "GET /openApi/swap/v2/trade/marginType":
        return ok(`{"marginType":"ISOLATED"}`)
      case "GET /openApi/swap/v2/trade/leverage":
        return ok(`{"longLeverage":5,"shortLeverage":5,"maxLongLeverage":125,"maxShortLeverage":125}`)
      case "POST /openApi/swap/v2/trade/marginType":
      case "POST /openApi/swap/v2/trade/leverage":
        return ok("{}")
      case "POST /openApi/swap/v2/trade/order": {
        const clientOrderId = params.get("clientOrderId") ?? ""
        const ourId = clientOrderId.slice(clientOrderId.lastIndexOf("-") + 1)
        if (!orderArrivals.has(ourId)) orderArrivals.set(ourId, arrived)
        const quantity = params.get("quantity") ?? "0"
        const now = Date.now()
        const order = `{"orderId":${nextOrderId++},"symbol":"${symbol}","side":"${params.get("side")}",` +
          `"positionSide":"${params.get("positionSide")}","type":"MARKET","clientOrderId":"${clientOrderId}",` +
          `"status":"FILLED","origQty":"${quantity}","executedQty":"${quantity}","avgPrice":"${PRICE}",` +
          `"commission":"-0.0001","time":${now},"updateTime":${now}}`
        orders.set(clientOrderId, order)
        return ok(`{"order":${order}}`)
      }
      case "GET /openApi/swap/v2/trade/order": {
        const order = orders.get(params.get("clientOrderId") ?? "")
        if (order === undefined) return send(`{"code":80016,"msg":"order does not exist"}`)
        return ok(`{"order":${order}}`)
      }
      case "GET /openApi/swap/v2/trade/openOrders":
        return ok(`{"orders":[]}`)
      case "GET /openApi/swap/v2/user/positions":
        return ok("[]")
      case "GET /openApi/swap/v2/user/balance":
        return ok(`{"balance":{"asset":"USDT","balance":"100000","equity":"100000","availableMargin":"100000","unrealizedProfit":"0"}}`)
      default:
        return send(`{"code":100400,"msg":"not served by the bench fake: ${route}"}`)
    }
  })
  const url = await listen(server)
  return { url, orderArrivals, counts, close: closer(server) }
}
