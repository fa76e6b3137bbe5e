/**
 * The one TCP proxy of the tests: a loopback listener in front of `127.0.0.1:targetPort` (an app's
 * database, an api process) that a test uses to break the link without stopping anything:
 * - `setDown(true)`: every open connection is cut and new ones are closed at once (the client sees a
 *   reset, like a server that is gone); `setDown(false)` accepts and forwards again;
 * - `cut()`: resets the open connections once, new ones are accepted (a dropped link);
 * - `freeze()`: stops moving bytes both ways and holds new connections (a hung server or a network
 *   partition: nothing is refused, nothing answers); `thaw()` delivers what was held.
 * It only ever listens on, and connects to, 127.0.0.1.
 */
import * as Net from "node:net"

export interface TcpProxy {
  readonly host: "127.0.0.1"
  readonly port: number
  readonly setDown: (down: boolean) => void
  readonly cut: () => void
  readonly freeze: () => void
  readonly thaw: () => void
  readonly close: () => Promise<void>
}

interface Pair {
  readonly client: Net.Socket
  readonly upstream: Net.Socket
}

export const startTcpProxy = (targetPort: number): Promise<TcpProxy> =>
  new Promise((resolve, reject) => {
    let down = false
    let frozen = false
    const pairs = new Set<Pair>()
    const flow = ({ client, upstream }: Pair) => {
      client.pipe(upstream)
      upstream.pipe(client)
    }
    const hold = ({ client, upstream }: Pair) => {
      client.unpipe(upstream)
      upstream.unpipe(client)
      client.pause()
      upstream.pause()
    }
    const resetAll = () => {
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy()
        upstream.destroy()
      }
      pairs.clear()
    }
    const server = Net.createServer((client) => {
      if (down) {
        client.resetAndDestroy()
        return
      }
      const upstream = Net.connect(targetPort, "127.0.0.1")
      const pair = { client, upstream }
      pairs.add(pair)
      if (!frozen) flow(pair)
      const drop = () => {
        pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", drop).on("close", drop)
      upstream.on("error", drop).on("close", drop)
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      resolve({
        host: "127.0.0.1",
        port: (server.address() as Net.AddressInfo).port,
        setDown: (value) => {
          down = value
          if (value) resetAll()
        },
        cut: resetAll,
        freeze: () => {
          frozen = true
          for (const pair of pairs) hold(pair)
        },
        thaw: () => {
          frozen = false
          for (const pair of pairs) flow(pair)
        },
        close: () =>
          new Promise<void>((res) => {
            down = true
            for (const { client, upstream } of pairs) {
              client.destroy()
              upstream.destroy()
            }
            pairs.clear()
            server.close(() => res())
          })
      })
    })
  })
