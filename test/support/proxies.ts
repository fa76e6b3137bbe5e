/**
 * Loopback proxies that tests put between two real parts of the system, to see what passes and to
 * cut the link at will (an outage without stopping anything):
 * - `startHttpProxy`: HTTP in front of a server (e.g. the bot process → the api process); records
 *   every request it forwards. Its target may be given later: until then it refuses connections,
 *   like a server that is not listening yet.
 * - `startTcpProxy`: raw TCP in front of a server (e.g. the app → its database).
 * Down: every open connection is cut and new ones are closed at once (the client sees a reset).
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

export interface TcpProxy {
  readonly host: string
  readonly port: number
  readonly setDown: (down: boolean) => void
  readonly close: () => Promise<void>
}

export const startTcpProxy = async (targetHost: string, targetPort: number): Promise<TcpProxy> => {
  const pairs = new Set<{ readonly client: Net.Socket; readonly upstream: Net.Socket }>()
  let down = false
  const server = Net.createServer((client) => {
    if (down) {
      client.destroy()
      return
    }
    const upstream = Net.connect(targetPort, targetHost)
    const pair = { client, upstream }
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on("error", end).on("close", end)
    upstream.on("error", end).on("close", end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    host: "127.0.0.1",
    port: (server.address() as Net.AddressInfo).port,
    setDown: (value) => {
      down = value
      if (value) {
        for (const { client, upstream } of pairs) {
          client.destroy()
          upstream.destroy()
        }
        pairs.clear()
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        down = true
        for (const { client, upstream } of pairs) {
          client.destroy()
          upstream.destroy()
        }
        server.close(() => resolve())
      })
  }
}
