/**
 * A loopback fake of the backend's HTTP contract (the routes the bot uses), serving a
 * `MemoryBackend`: the bot's HTTP layer (derived from the contract) is tested against it, and
 * `--role bot` processes are run against it. Bodies are written in the contract's wire form.
 *
 * Bearer `API_TOKEN` required; errors as `{"error", "fields"}` with the contract's statuses.
 * Faults: `delayMs` (slow answers, for timeouts), `failWith` (a status for every request).
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Schema } from "effect"
import { BotState } from "../../src/api/Bot.ts"
import { encodePositions, encodeReport } from "../../src/api/Pnl.ts"
import { SignalList } from "../../src/api/Signals.ts"
import { BackendUnavailable, Conflict, Invalid, type MemoryBackend, NotFound } from "../../src/bot/BotBackend.ts"

/** Signals, the status and PnL go out in the contract's wire form (the memory holds the decoded records). */
const encodeSignals = Schema.encodeSync(SignalList)
const encodeState = Schema.encodeSync(BotState)

export interface BackendRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly body: unknown
  readonly authorized: boolean
}

export class FakeBackend {
  readonly requests: Array<BackendRequest> = []
  delayMs = 0
  failWith: number | undefined
  private readonly sockets = new Set<import("node:net").Socket>()

  private readonly server: Http.Server
  readonly memory: MemoryBackend
  readonly apiToken: string

  private constructor(server: Http.Server, memory: MemoryBackend, apiToken: string) {
    this.server = server
    this.memory = memory
    this.apiToken = apiToken
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  static async start(memory: MemoryBackend, apiToken = "test-api-token"): Promise<FakeBackend> {
    const server = Http.createServer()
    const fake = new FakeBackend(server, memory, apiToken)
    server.on("connection", (s) => {
      fake.sockets.add(s)
      s.on("close", () => fake.sockets.delete(s))
    })
    server.on("request", (req, res) => void fake.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return fake
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  requestsTo(method: string, path: string): ReadonlyArray<BackendRequest> {
    return this.requests.filter((r) => r.method === method && r.path === path)
  }

  private async handle(req: Http.IncomingMessage, res: Http.ServerResponse) {
    const url = new URL(req.url ?? "/", "http://x")
    const chunks: Array<Buffer> = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString("utf8")
    let body: unknown = undefined
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined
    } catch {
      body = raw
    }
    const authorized = req.headers.authorization === `Bearer ${this.apiToken}`
    const request: BackendRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      authorized
    }
    this.requests.push(request)
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
    const send = (status: number, payload: unknown) => {
      if (res.destroyed) return
      res.writeHead(status, { "content-type": "application/json" })
      res.end(JSON.stringify(payload))
    }
    if (!authorized) return send(401, { error: "missing or invalid bearer token", fields: [] })
    if (this.failWith !== undefined) return send(this.failWith, { error: `injected ${this.failWith}`, fields: [] })
    try {
      send(...this.route(request))
    } catch (e) {
      if (e instanceof NotFound) return send(404, { error: e.message, fields: [] })
      if (e instanceof Conflict) return send(409, { error: e.message, fields: [] })
      if (e instanceof Invalid) return send(422, { error: e.message, fields: e.fields })
      if (e instanceof BackendUnavailable) return send(503, { error: e.message, fields: [] })
      send(500, { error: "internal error", fields: [] })
    }
  }

  private route(r: BackendRequest): [number, unknown] {
    const m = this.memory
    const limit = (fallback: number) => (r.query.limit === undefined ? fallback : Number(r.query.limit))
    const key = `${r.method} ${r.path}`
    if (key === "GET /bot/status") return [200, encodeState(m.getStatus())]
    if (key === "POST /bot/settings") return [200, encodeState(m.updateSettings(r.body as never))]
    if (key === "GET /bot/reports") return [200, encodeSignals({ signals: m.recentSignals(limit(5)) })]
    if (key === "GET /orders") return [200, { orders: m.orders(limit(50)) }]
    if (key === "GET /pnl") {
      const period = r.query.period ?? "day"
      if (period !== "day" && period !== "week" && period !== "all") {
        return [422, { error: "invalid period", fields: [{ field: "period", problem: "must be day, week or all" }] }]
      }
      return [200, encodeReport(m.pnl(period))]
    }
    if (key === "GET /positions") return [200, encodePositions({ positions: m.positions() })]
    if (key === "POST /bot/audit") {
      const b = r.body as { actor_id: string; username: string | null; action: string; payload: Record<string, unknown>; result: string }
      m.audit({ actor: { userId: Number(b.actor_id), username: b.username ?? undefined }, action: b.action, payload: b.payload, result: b.result })
      return [201, { status: "recorded" }]
    }
    const order = /^\/orders\/(\d+)(\/approve|\/reject)?$/.exec(r.path)
    if (order !== null) {
      const id = order[1]!
      if (r.method === "GET" && order[2] === undefined) return [200, m.order(id)]
      if (r.method === "POST" && order[2] === "/approve") return [200, m.approve(id)]
      if (r.method === "POST" && order[2] === "/reject") return [200, m.reject(id)]
    }
    return [404, { error: "not found", fields: [] }]
  }
}
