/**
 * A loopback TCP proxy for fault tests: it forwards to `127.0.0.1:targetPort` and can
 * - `freeze()`: stop moving bytes in both directions and hold new connections (a hung server or a
 *   network partition: nothing is refused, nothing answers); `thaw()` delivers what was held;
 * - `cut()`: reset every connection (the peer sees the connection drop).
 */
import * as Net from "node:net"

export interface TcpProxy {
  readonly port: number
  readonly freeze: () => void
  readonly thaw: () => void
  readonly cut: () => void
  readonly close: () => Promise<void>
}

export const startTcpProxy = (targetPort: number): Promise<TcpProxy> =>
  new Promise((resolve, reject) => {
    let frozen = false
    const pairs = new Set<{ client: Net.Socket; upstream: Net.Socket }>()
    const flow = ({ client, upstream }: { client: Net.Socket; upstream: Net.Socket }) => {
      client.pipe(upstream)
      upstream.pipe(client)
    }
    const hold = ({ client, upstream }: { client: Net.Socket; upstream: Net.Socket }) => {
      client.unpipe(upstream)
      upstream.unpipe(client)
      client.pause()
      upstream.pause()
    }
    const server = Net.createServer((client) => {
      const upstream = Net.connect(targetPort, "127.0.0.1")
      const pair = { client, upstream }
      pairs.add(pair)
      if (!frozen) flow(pair)
      const drop = () => {
        pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", drop)
      upstream.on("error", drop)
      client.on("close", drop)
      upstream.on("close", drop)
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as Net.AddressInfo).port,
        freeze: () => {
          frozen = true
          for (const pair of pairs) hold(pair)
        },
        thaw: () => {
          frozen = false
          for (const pair of pairs) flow(pair)
        },
        cut: () => {
          for (const { client, upstream } of pairs) {
            client.resetAndDestroy()
            upstream.destroy()
          }
          pairs.clear()
        },
        close: () =>
          new Promise<void>((res) => {
            for (const { client, upstream } of pairs) {
              client.destroy()
              upstream.destroy()
            }
            server.close(() => res())
          })
      })
    })
  })
