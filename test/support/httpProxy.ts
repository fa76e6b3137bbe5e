/**
 * A loopback HTTP proxy in front of a server (e.g. the bot process → the api process) that records
 * every request it forwards and can be taken down (`setDown(true)`: open connections are cut, new
 * ones closed at once). Its target may be given later: until then it refuses connections, like a
 * server that is not listening yet. For raw TCP (a database) use tcpProxy.ts.
 */
import * as Http from "node:http"
import * as Net from "node:net"

export interface ForwardedRequest {
  readonly method: string
  readonly path: string
  /** The target's answer (0 while in flight or when the link was cut). */
  status: number
}

export interface HttpProxy {
  /** http://127.0.0.1:port */
  readonly url: string
  /** Where to forward ("http://127.0.0.1:port"); until it is set, connections are refused. */
  readonly setTarget: (url: string) => void
  readonly setDown: (down: boolean) => void
  /** Every request forwarded to the target, in arrival order. */
  readonly forwarded: ReadonlyArray<ForwardedRequest>
  readonly close: () => Promise<void>
}

export const startHttpProxy = async (): Promise<HttpProxy> => {
  let target: string | undefined
  const forwarded: Array<ForwardedRequest> = []
  const sockets = new Set<Net.Socket>()
  let down = false
  const server = Http.createServer((req, res) => {
    if (down || target === undefined) {
      req.socket.destroy()
      return
    }
    const url = new URL(req.url ?? "/", target)
    const record: ForwardedRequest = { method: req.method ?? "GET", path: url.pathname, status: 0 }
    forwarded.push(record)
    const upstream = Http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (answer) => {
      record.status = answer.statusCode ?? 0
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on("error", () => req.socket.destroy())
    req.pipe(upstream)
  })
  server.on("connection", (socket) => {
    if (down || target === undefined) {
      socket.destroy()
      return
    }
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as Net.AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    setTarget: (url) => {
      target = url
    },
    setDown: (value) => {
      down = value
      if (value) for (const s of sockets) s.destroy()
    },
    forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
