/**
 * An in-memory backend with the contract's behaviour, for tests: `BotBackend.layerMemory(state)`
 * serves the bot from it in-process, and the loopback HTTP fake (test/fakes/backend.ts) serves the
 * same state over the HTTP contract. It records every call so tests can assert, for example, that
 * one button press made exactly one approve call.
 */
import { Effect, Schema } from "effect"
import { type Action, type FieldProblem, MarginMode, type PositionSide } from "../domain/vocabulary.ts"
import { parseUnsafe, ZERO } from "../domain/decimal.ts"
import {
  BackendUnavailable,
  type BotAuditEntry,
  type BotBackendShape,
  type BotState,
  Conflict,
  Invalid,
  NotFound,
  type Order,
  type PnlPeriod,
  type PnlReport,
  type Position,
  type SettingsPatch,
  type Signal
} from "./contract.ts"

export interface MemoryCall {
  readonly op: "status" | "updateSettings" | "recentSignals" | "orders" | "order" | "approve" | "reject" | "pnl" | "positions" | "audit"
  readonly arg?: string
}

export interface NewSignal {
  readonly symbol: string
  readonly action: Action
  readonly positionSide?: PositionSide | null
  readonly quantity?: string | null
  readonly price?: string | null
  readonly orderStatus?: Order["status"]
}

const iso = (d: Date) => d.toISOString()
const decimalOrNull = (text: string | null | undefined) => (text === null || text === undefined ? null : parseUnsafe(text))

export class MemoryBackend {
  state: BotState
  readonly signals: Array<Signal> = []
  readonly orderList: Array<Order> = []
  readonly calls: Array<MemoryCall> = []
  readonly audits: Array<BotAuditEntry> = []
  pnlReport: PnlReport | undefined
  positionList: Array<Position> = []
  /** When set, every operation fails with BackendUnavailable(this message). */
  unavailable: string | undefined
  /** Approvals of orders created longer ago than this are refused as expired. */
  approvalTimeoutMs = 300_000
  now: () => Date = () => new Date()
  private nextId = 1

  constructor(initial: Partial<BotState> = {}) {
    this.state = {
      auto_trade_enabled: false,
      manual_confirmation_required: true,
      margin_mode: "isolated",
      leverage: 5,
      paused: false,
      updated_at: iso(new Date("2026-01-02T03:04:05.000Z")),
      trading_mode: "paper",
      ...initial
    }
  }

  private guard(call: MemoryCall) {
    this.calls.push(call)
    if (this.unavailable !== undefined) throw new BackendUnavailable({ message: this.unavailable })
  }

  callsOf(op: MemoryCall["op"]): Array<MemoryCall> {
    return this.calls.filter((c) => c.op === op)
  }

  /** Stores a signal and its order, as the webhook would. */
  addSignal(input: NewSignal): { readonly signal: Signal; readonly order: Order } {
    const now = iso(this.now())
    const signalId = String(this.nextId++)
    const orderId = String(this.nextId++)
    const status = input.orderStatus ?? "awaiting_approval"
    const order: Order = {
      id: orderId,
      signal_id: signalId,
      symbol: input.symbol,
      action: input.action,
      position_side: input.positionSide ?? null,
      reduce_only: false,
      status,
      quantity: input.quantity ?? null,
      margin_usdt: null,
      filled_quantity: "0",
      price: input.price ?? null,
      average_price: null,
      leverage: this.state.leverage,
      margin_mode: this.state.margin_mode,
      stop_loss: null,
      take_profit: null,
      client_order_id: null,
      exchange_order_id: null,
      reason: null,
      created_at: now,
      updated_at: now,
      fills: []
    }
    const signal: Signal = {
      id: signalId,
      symbol: input.symbol,
      action: input.action,
      positionSide: input.positionSide ?? null,
      reduceOnly: false,
      quantity: decimalOrNull(input.quantity),
      marginUsdt: null,
      price: decimalOrNull(input.price),
      leverage: null,
      marginMode: null,
      stopLoss: null,
      takeProfit: null,
      timestamp: null,
      receivedAt: new Date(now),
      orderId,
      orderStatus: status
    }
    this.signals.unshift(signal)
    this.orderList.unshift(order)
    return { signal, order }
  }

  findOrder(id: string): Order | undefined {
    return this.orderList.find((o) => o.id === id)
  }

  private setOrder(order: Order) {
    const i = this.orderList.findIndex((o) => o.id === order.id)
    this.orderList[i] = order
    const s = this.signals.findIndex((x) => x.orderId === order.id)
    if (s >= 0) this.signals[s] = { ...this.signals[s]!, orderStatus: order.status }
  }

  getStatus(): BotState {
    this.guard({ op: "status" })
    return this.state
  }

  updateSettings(patch: SettingsPatch): BotState {
    this.guard({ op: "updateSettings", arg: JSON.stringify(patch) })
    const fields: Array<FieldProblem> = []
    if (patch.leverage !== undefined && (!Number.isInteger(patch.leverage) || patch.leverage < 1 || patch.leverage > 125)) {
      fields.push({ field: "leverage", problem: "must be a whole number from 1 to 125" })
    }
    if (patch.margin_mode !== undefined && !Schema.is(MarginMode)(patch.margin_mode)) {
      fields.push({ field: "margin_mode", problem: `must be ${MarginMode.literals.join(" or ")}` })
    }
    if (fields.length > 0) throw Invalid.of("invalid settings", fields)
    this.state = { ...this.state, ...patch, updated_at: iso(this.now()) }
    return this.state
  }

  recentSignals(limit: number): ReadonlyArray<Signal> {
    this.guard({ op: "recentSignals", arg: String(limit) })
    return this.signals.slice(0, limit)
  }

  orders(limit: number): ReadonlyArray<Order> {
    this.guard({ op: "orders", arg: String(limit) })
    return this.orderList.slice(0, limit)
  }

  order(id: string): Order {
    this.guard({ op: "order", arg: id })
    const order = this.findOrder(id)
    if (order === undefined) throw NotFound.of(`order ${id} not found`)
    return order
  }

  private decide(id: string, op: "approve" | "reject"): Order {
    this.guard({ op, arg: id })
    const order = this.findOrder(id)
    if (order === undefined) throw NotFound.of(`order ${id} not found`)
    if (order.status !== "awaiting_approval") {
      throw Conflict.of(`order ${id} is already ${order.status.replace("_", " ")}`)
    }
    const now = this.now()
    if (now.getTime() - new Date(order.created_at).getTime() > this.approvalTimeoutMs) {
      this.setOrder({ ...order, status: "expired", reason: "approval timed out", updated_at: iso(now) })
      throw Conflict.of(`order ${id} expired: it waited longer than the approval timeout`)
    }
    const decided: Order = op === "approve"
      ? { ...order, status: "pending", updated_at: iso(now) }
      : { ...order, status: "rejected", reason: "rejected by operator", updated_at: iso(now) }
    this.setOrder(decided)
    return decided
  }

  approve(id: string): Order {
    return this.decide(id, "approve")
  }

  reject(id: string): Order {
    return this.decide(id, "reject")
  }

  pnl(period: PnlPeriod): PnlReport {
    this.guard({ op: "pnl", arg: period })
    return this.pnlReport === undefined
      ? {
        period,
        from: null,
        to: this.now(),
        realised: ZERO,
        fees: ZERO,
        net: ZERO,
        unrealised: ZERO,
        volume: ZERO,
        trades: 0,
        realisingFills: 0,
        winRate: null,
        bySymbol: []
      }
      : { ...this.pnlReport, period }
  }

  positions(): ReadonlyArray<Position> {
    this.guard({ op: "positions" })
    return this.positionList
  }

  audit(entry: BotAuditEntry): void {
    this.calls.push({ op: "audit", arg: entry.action })
    this.audits.push(entry)
  }
}

type Err = BackendUnavailable | NotFound | Conflict | Invalid

const attempt = <A>(f: () => A): Effect.Effect<A, Err> =>
  Effect.try({
    try: f,
    catch: (e) => (e instanceof BackendUnavailable || e instanceof NotFound || e instanceof Conflict || e instanceof Invalid
      ? e
      : new BackendUnavailable({ message: String(e) }))
  })

/** The `BotBackendShape` over a `MemoryBackend`. */
export const memoryShape = (m: MemoryBackend): BotBackendShape => ({
  status: attempt(() => m.getStatus()),
  updateSettings: (patch) => attempt(() => m.updateSettings(patch)),
  recentSignals: (limit) => attempt(() => m.recentSignals(limit)),
  orders: (limit) => attempt(() => m.orders(limit)),
  order: (id) => attempt(() => m.order(id)),
  approve: (id) => attempt(() => m.approve(id)),
  reject: (id) => attempt(() => m.reject(id)),
  pnl: (period) => attempt(() => m.pnl(period)),
  positions: attempt(() => m.positions()),
  audit: (entry) => Effect.sync(() => m.audit(entry))
})
