/**
 * BingX user-data stream follower (live mode, best effort — reconciliation polling is enough on its
 * own and keeps running either way).
 *
 * - `POST /openApi/user/auth/userDataStream` (API key header) gives a listenKey, valid 60 minutes;
 *   it is extended with `PUT …?listenKey=` every 30 minutes.
 * - `BINGX_WS_URL?listenKey=<key>`: no subscription message; every server frame is gzip-compressed
 *   (binary); the server's `Ping` is answered with `Pong`.
 * - Events are decoded with the Schemas of `wireStream.ts`; one that misses or garbles a field we
 *   rely on is logged (naming the field) and dropped, never filled in with defaults.
 * - ORDER_TRADE_UPDATE of one of our orders → `ExchangeEvents.OrderChanged` (the actor reconciles the
 *   order at once); a FILLED STOP_MARKET / TAKE_PROFIT_MARKET order → `ProtectiveFill`.
 *   ACCOUNT_CONFIG_UPDATE → the live layer's leverage / margin-type cache. ACCOUNT_UPDATE is logged
 *   (debug). listenKeyExpired → a new key and a new connection.
 * - When it cannot connect it logs, waits (5 s doubling to 60 s) and tries again.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Duration, Effect, Layer, Schedule } from "effect"
import * as Socket from "effect/socket/Socket"
import * as Zlib from "node:zlib"
import { AppConfig } from "../../config.ts"
import { ExchangeEvents } from "../ExchangeEvents.ts"
import { BingxLive } from "./BingxExchange.ts"
import { asText, field, parseExact } from "./json.ts"
import type { BingxMalformedAnswer } from "./wire.ts"
import { decodeAccountConfigUpdate, decodeAccountUpdate, decodeOrderTradeUpdate } from "./wireStream.ts"

export interface UserDataStreamOptions {
  /** listenKey keep-alive period (default 30 min). */
  readonly keepAliveMs?: number
  /** First reconnect delay (default 5 s, doubling up to 60 s). */
  readonly reconnectMs?: number
}

const LISTEN_KEY_PATH = "/openApi/user/auth/userDataStream"

class StreamEnded {
  readonly _tag = "StreamEnded"
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

/** A frame as text: gzip-compressed binary (the normal case) or plain text. */
export const frameText = (frame: Uint8Array | string): string => {
  if (typeof frame === "string") return frame
  try {
    return Zlib.gunzipSync(frame).toString("utf8")
  } catch {
    return Buffer.from(frame).toString("utf8")
  }
}

export const make = (options: UserDataStreamOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const live = yield* BingxLive
    const events = yield* ExchangeEvents
    const keepAliveMs = options.keepAliveMs ?? 30 * 60 * 1000
    const reconnectMs = options.reconnectMs ?? 5_000

    /** A malformed event is logged with what is wrong and dropped: polling reconciles anyway. */
    const dropped = (e: BingxMalformedAnswer) => Effect.logWarning(`user-data stream: event dropped: ${e.message}`)

    const handle = (message: unknown) =>
      Effect.gen(function*() {
        const type = field(message, "e")
        if (type === "ORDER_TRADE_UPDATE") {
          yield* decodeOrderTradeUpdate(message).pipe(Effect.flatMap(events.publish), Effect.catch(dropped))
          return
        }
        if (type === "ACCOUNT_CONFIG_UPDATE") {
          yield* decodeAccountConfigUpdate(message).pipe(
            Effect.flatMap(({ symbol, ...update }) => live.noteConfig(symbol, update)),
            Effect.catch(dropped)
          )
          return
        }
        if (type === "ACCOUNT_UPDATE") {
          yield* decodeAccountUpdate(message).pipe(
            Effect.flatMap((summary) => Effect.logDebug(`user-data stream: ACCOUNT_UPDATE ${summary}`)),
            Effect.catch(dropped)
          )
          return
        }
        if (type === "listenKeyExpired") return yield* Effect.fail(new StreamEnded("listenKey expired"))
        if (type === "SNAPSHOTA" || type === "SNAPSHOTAC") yield* Effect.logDebug(`user-data stream: ${type}`)
      })

    /** One listenKey, one connection, until it closes. */
    const session = Effect.scoped(Effect.gen(function*() {
      const created = yield* live.client.request({ method: "POST", path: LISTEN_KEY_PATH, signed: false, bare: true })
      const listenKey = asText(field(created, "listenKey"))
      if (listenKey === undefined) return yield* Effect.fail(new StreamEnded("no listenKey in the answer"))
      const url = `${config.bingx.wsUrl}${config.bingx.wsUrl.includes("?") ? "&" : "?"}listenKey=${encodeURIComponent(listenKey)}`
      const socket = yield* Socket.makeWebSocket(url, { openTimeout: "10 seconds" })
      const reader = yield* socket.reader
      const writer = yield* socket.writer
      yield* Effect.logInfo("BingX user-data stream connected")
      yield* live.client.request({ method: "PUT", path: LISTEN_KEY_PATH, params: { listenKey }, signed: false, bare: true }).pipe(
        Effect.catch((e) => Effect.logWarning(`user-data stream keep-alive failed: ${e.message}`)),
        Effect.delay(Duration.millis(keepAliveMs)),
        Effect.forever,
        Effect.forkScoped
      )
      yield* Effect.addFinalizer(() =>
        live.client.request({ method: "DELETE", path: LISTEN_KEY_PATH, params: { listenKey }, signed: false, bare: true }).pipe(
          Effect.timeout("2 seconds"),
          Effect.ignore
        )
      )
      while (true) {
        const frames = yield* reader.pull
        for (const frame of frames) {
          const text = frameText(frame)
          if (text === "Ping") {
            yield* writer.write("Pong")
            continue
          }
          let message: unknown
          try {
            message = parseExact(text)
          } catch {
            yield* Effect.logDebug(`user-data stream: ignored a frame that is not JSON`)
            continue
          }
          yield* handle(message)
        }
      }
    }))

    yield* session.pipe(
      Effect.catchCause((cause) => Effect.logWarning("BingX user-data stream disconnected; polling continues, reconnecting", cause)),
      Effect.repeat(Schedule.min([Schedule.exponential(Duration.millis(reconnectMs)), Schedule.spaced("60 seconds")])),
      Effect.provide(NodeSocket.layerWebSocketConstructor),
      Effect.forkScoped
    )
  })

/** Runs the follower for the layer's lifetime. Needs AppConfig, BingxLive, ExchangeEvents. */
export const layer = (options: UserDataStreamOptions = {}) => Layer.effectDiscard(make(options))
