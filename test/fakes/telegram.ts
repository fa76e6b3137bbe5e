/**
 * A loopback fake of the Telegram Bot API, for driving the real bot (grammY) in tests.
 *
 * - `POST /bot<token>/<method>` with JSON (or form) bodies; every reply is the `{ok, ...}`
 *   envelope, errors as `{ok:false, error_code, description, parameters?}` with Telegram's texts.
 * - getUpdates long polling with offsets (confirmation), limit and timeout; a second poller
 *   terminates the first with 409; a set webhook makes getUpdates answer 409.
 * - sendMessage / editMessageText validate HTML parse mode (only Telegram's tags, balanced,
 *   `& < >` escaped), the 4096-character limit after entity parsing, and callback_data ≤ 64
 *   bytes; editing without a change answers "message is not modified".
 * - answerCallbackQuery (once per query), setMyCommands, getMe, deleteWebhook, setWebhook,
 *   getWebhookInfo.
 * - Faults: `inject429(method, count, retryAfter)`, `injectError(method, count, code, description)`
 *   (e.g. 502), `setDown(true)` (connections are cut: the client sees a network error),
 *   `blockedChats` (403 "bot was blocked by the user").
 * - Users: `sendText(user, "/status")` and `press(user, message, data)` queue updates.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface FakeUser {
  readonly id: number
  readonly username?: string
  readonly first_name?: string
}

export interface InlineButton {
  readonly text: string
  readonly callback_data?: string
}

export interface FakeMessage {
  readonly message_id: number
  readonly chat_id: number | string
  /** The raw HTML (or text) the bot sent. */
  html: string
  /** What the user sees (tags stripped, entities decoded). */
  text: string
  parse_mode: string | undefined
  reply_markup: { inline_keyboard: ReadonlyArray<ReadonlyArray<InlineButton>> } | undefined
  edits: number
  readonly date: number
}

export interface ApiCall {
  readonly method: string
  readonly payload: Record<string, unknown>
  /** HTTP-level outcome: "ok", an error code, or "cut" (connection destroyed while down). */
  readonly outcome: "ok" | number | "cut"
  readonly at: number
}

interface Waiter {
  readonly res: Http.ServerResponse
  readonly offset: number
  readonly limit: number
  readonly timer: NodeJS.Timeout
}

const ALLOWED_TAGS = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "span",
  "tg-spoiler",
  "a",
  "tg-emoji",
  "code",
  "pre",
  "blockquote",
  "tg-time"
])

class ApiFailure extends Error {
  readonly code: number
  readonly description: string
  readonly parameters: Record<string, unknown> | undefined
  constructor(code: number, description: string, parameters?: Record<string, unknown>) {
    super(description)
    this.code = code
    this.description = description
    this.parameters = parameters
  }
}

const badRequest = (description: string) => new ApiFailure(400, `Bad Request: ${description}`)

/** Parses Telegram HTML; returns the visible text or throws Telegram's error. */
export const parseTelegramHtml = (html: string): string => {
  let out = ""
  const stack: Array<string> = []
  let i = 0
  const byteOffset = (index: number) => Buffer.byteLength(html.slice(0, index), "utf8")
  while (i < html.length) {
    const ch = html[i]!
    if (ch === "<") {
      const close = html.indexOf(">", i)
      if (close < 0) throw badRequest(`can't parse entities: Unclosed start tag at byte offset ${byteOffset(i)}`)
      const inner = html.slice(i + 1, close)
      if (inner.startsWith("/")) {
        const name = inner.slice(1).trim().toLowerCase()
        const open = stack.pop()
        if (open === undefined || open !== name) {
          throw badRequest(`can't parse entities: Unmatched end tag at byte offset ${byteOffset(i)}, expected "</${open ?? ""}>", found "</${name}>"`)
        }
      } else {
        const name = /^([a-zA-Z][a-zA-Z0-9-]*)/.exec(inner)?.[1]?.toLowerCase()
        if (name === undefined || !ALLOWED_TAGS.has(name)) {
          throw badRequest(`can't parse entities: Unsupported start tag "${name ?? inner}" at byte offset ${byteOffset(i)}`)
        }
        stack.push(name)
      }
      i = close + 1
      continue
    }
    if (ch === ">") throw badRequest(`can't parse entities: Unexpected end tag at byte offset ${byteOffset(i)}`)
    if (ch === "&") {
      const m = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/.exec(html.slice(i))
      if (m === null) {
        throw badRequest(`can't parse entities: Unsupported HTML entity or unescaped "&" at byte offset ${byteOffset(i)}`)
      }
      const e = m[1]!
      out += e === "lt" ? "<" : e === "gt" ? ">" : e === "amp" ? "&" : e === "quot" ? "\"" : String.fromCodePoint(
        e.startsWith("#x") ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)
      )
      i += m[0].length
      continue
    }
    out += ch
    i++
  }
  if (stack.length > 0) throw badRequest(`can't parse entities: Can't find end tag corresponding to start tag "${stack.at(-1)}"`)
  return out
}

const botUser = (username: string) => ({
  id: 999_000_001,
  is_bot: true,
  first_name: "FakeBot",
  username,
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false
})

export class FakeTelegram {
  readonly calls: Array<ApiCall> = []
  commands: ReadonlyArray<{ command: string; description: string }> | undefined
  webhook: { url: string; secret_token: string | undefined } | undefined
  /** Chats that blocked the bot: sendMessage answers 403. */
  readonly blockedChats = new Set<string>()
  readonly callbackAnswers = new Map<string, { text: string | undefined; show_alert: boolean }>()
  private readonly messagesByChat = new Map<string, Array<FakeMessage>>()
  private readonly updates: Array<Record<string, unknown> & { update_id: number }> = []
  private readonly pendingQueries = new Set<string>()
  private readonly sockets = new Set<import("node:net").Socket>()
  private waiter: Waiter | undefined
  private nextUpdateId = 1
  private nextMessageId = 1
  private nextQueryId = 1
  private down = false
  private faults: Array<{ method: string; remaining: number; code: number; description: string; retryAfter: number | undefined }> = []
  private readonly server: Http.Server
  readonly token: string
  readonly botUsername: string

  private constructor(server: Http.Server, token: string, botUsername: string) {
    this.server = server
    this.token = token
    this.botUsername = botUsername
  }

  /** The `TELEGRAM_API_ROOT` to configure ("http://127.0.0.1:port"). */
  get apiRoot(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  static async start(options: { token?: string; botUsername?: string } = {}): Promise<FakeTelegram> {
    const server = Http.createServer()
    const fake = new FakeTelegram(server, options.token ?? "123456:TEST-token", options.botUsername ?? "fake_test_bot")
    server.on("connection", (socket) => {
      fake.sockets.add(socket)
      socket.on("close", () => fake.sockets.delete(socket))
    })
    server.on("request", (req, res) => void fake.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return fake
  }

  async close(): Promise<void> {
    if (this.waiter) clearTimeout(this.waiter.timer)
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  // --- faults ------------------------------------------------------------------------------------

  /** The next `count` calls of `method` ("*" = any) answer 429 with `retry_after`. */
  inject429(method: string, count: number, retryAfter = 1): void {
    this.faults.push({
      method: method.toLowerCase(),
      remaining: count,
      code: 429,
      description: `Too Many Requests: retry after ${retryAfter}`,
      retryAfter
    })
  }

  /** The next `count` calls of `method` ("*" = any) answer `code` (e.g. 502 "Bad Gateway"). */
  injectError(method: string, count: number, code: number, description: string): void {
    this.faults.push({ method: method.toLowerCase(), remaining: count, code, description, retryAfter: undefined })
  }

  /** Down: every connection is cut (the client sees a network error); pending long polls too. */
  setDown(down: boolean): void {
    this.down = down
    if (down) {
      if (this.waiter) {
        clearTimeout(this.waiter.timer)
        this.waiter.res.socket?.destroy()
        this.waiter = undefined
      }
      for (const s of this.sockets) s.destroy()
    }
  }

  // --- users -------------------------------------------------------------------------------------

  private push(update: Record<string, unknown>): number {
    const update_id = this.nextUpdateId++
    this.updates.push({ update_id, ...update })
    this.wake()
    return update_id
  }

  /** A user sends `text` in their private chat (or `chat`); commands get a bot_command entity. */
  sendText(user: FakeUser, text: string, chat?: { id: number; type: "private" | "group" | "supergroup" }): number {
    const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text)
    return this.push({
      message: {
        message_id: this.nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        chat: chat ?? { id: user.id, type: "private", first_name: user.first_name ?? "User" },
        from: { id: user.id, is_bot: false, first_name: user.first_name ?? "User", ...(user.username ? { username: user.username } : {}) },
        text,
        ...(command ? { entities: [{ type: "bot_command", offset: 0, length: command[0].length }] } : {})
      }
    })
  }

  /** A user presses the button `data` under `message`; returns the callback query id. */
  press(user: FakeUser, message: FakeMessage, data: string): string {
    const id = `cq${this.nextQueryId++}`
    this.pendingQueries.add(id)
    this.push({
      callback_query: {
        id,
        from: { id: user.id, is_bot: false, first_name: user.first_name ?? "User", ...(user.username ? { username: user.username } : {}) },
        chat_instance: "1",
        data,
        message: this.messageObject(message)
      }
    })
    return id
  }

  // --- inspection --------------------------------------------------------------------------------

  /** Messages the bot sent to `chatId`, oldest first (edits applied in place). */
  messages(chatId: number | string): ReadonlyArray<FakeMessage> {
    return this.messagesByChat.get(String(chatId)) ?? []
  }

  lastMessage(chatId: number | string): FakeMessage | undefined {
    return this.messages(chatId).at(-1)
  }

  callsOf(method: string): ReadonlyArray<ApiCall> {
    return this.calls.filter((c) => c.method === method.toLowerCase())
  }

  /** Updates queued and not confirmed (webhook-mode tests deliver them themselves). */
  pendingUpdates(): ReadonlyArray<Record<string, unknown>> {
    return [...this.updates]
  }

  /** Updates not yet confirmed by getUpdates offsets. */
  get unconfirmedUpdates(): number {
    return this.updates.length
  }

  /** Resolves with the first truthy value of `probe`, polling every 10 ms (rejects after `timeoutMs`). */
  async waitFor<T>(probe: () => T | undefined | false | null, timeoutMs = 10_000, what = "condition"): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = probe()
      if (value !== undefined && value !== false && value !== null) return value
      if (Date.now() > deadline) throw new Error(`FakeTelegram: timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  /** Waits until the bot has sent `count` messages to `chatId` in total; returns the last one. */
  waitForMessages(chatId: number | string, count: number, timeoutMs = 10_000): Promise<FakeMessage> {
    return this.waitFor(() => this.messages(chatId).length >= count && this.messages(chatId)[count - 1], timeoutMs, `${count} messages in chat ${chatId}`)
  }

  // --- HTTP --------------------------------------------------------------------------------------

  private messageObject(m: FakeMessage) {
    return {
      message_id: m.message_id,
      date: m.date,
      chat: typeof m.chat_id === "number" && m.chat_id > 0
        ? { id: m.chat_id, type: "private", first_name: "User" }
        : { id: m.chat_id, type: "supergroup", title: "Group" },
      from: botUser(this.botUsername),
      text: m.text,
      ...(m.reply_markup === undefined ? {} : { reply_markup: m.reply_markup })
    }
  }

  private async readBody(req: Http.IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Array<Buffer> = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString("utf8")
    if (raw.length === 0) return {}
    const type = req.headers["content-type"] ?? ""
    if (type.includes("application/json")) return JSON.parse(raw) as Record<string, unknown>
    if (type.includes("application/x-www-form-urlencoded")) {
      const out: Record<string, unknown> = {}
      for (const [k, v] of new URLSearchParams(raw)) {
        try {
          out[k] = JSON.parse(v)
        } catch {
          out[k] = v
        }
      }
      return out
    }
    throw badRequest("unsupported content type")
  }

  private send(res: Http.ServerResponse, status: number, body: unknown) {
    if (res.writableEnded || res.destroyed) return
    res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify(body))
  }

  private async handle(req: Http.IncomingMessage, res: Http.ServerResponse) {
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url?.split("?")[0] ?? "")
    const method = match?.[2]?.toLowerCase() ?? "unknown"
    if (this.down) {
      this.calls.push({ method, payload: {}, outcome: "cut", at: Date.now() })
      req.socket.destroy()
      return
    }
    let payload: Record<string, unknown> = {}
    try {
      payload = await this.readBody(req)
      if (match === null) throw new ApiFailure(404, "Not Found")
      if (match[1] !== this.token) throw new ApiFailure(401, "Unauthorized")
      const fault = this.faults.find((f) => (f.method === method || f.method === "*") && f.remaining > 0)
      if (fault !== undefined) {
        fault.remaining--
        throw new ApiFailure(fault.code, fault.description, fault.retryAfter === undefined ? undefined : { retry_after: fault.retryAfter })
      }
      if (method === "getupdates") {
        this.calls.push({ method, payload, outcome: "ok", at: Date.now() })
        return this.getUpdates(payload, res)
      }
      const result = this.dispatch(method, payload)
      this.calls.push({ method, payload, outcome: "ok", at: Date.now() })
      this.send(res, 200, { ok: true, result })
    } catch (e) {
      const failure = e instanceof ApiFailure ? e : badRequest(String(e))
      this.calls.push({ method, payload, outcome: failure.code, at: Date.now() })
      this.send(res, failure.code, {
        ok: false,
        error_code: failure.code,
        description: failure.description,
        ...(failure.parameters ? { parameters: failure.parameters } : {})
      })
    }
  }

  private wake() {
    const w = this.waiter
    if (w === undefined) return
    const ready = this.updates.filter((u) => u.update_id >= w.offset)
    if (ready.length === 0) return
    clearTimeout(w.timer)
    this.waiter = undefined
    this.send(w.res, 200, { ok: true, result: ready.slice(0, w.limit) })
  }

  private getUpdates(payload: Record<string, unknown>, res: Http.ServerResponse) {
    if (this.webhook !== undefined) {
      throw new ApiFailure(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
    }
    const offset = typeof payload.offset === "number" ? payload.offset : 0
    const limit = typeof payload.limit === "number" ? Math.min(Math.max(payload.limit, 1), 100) : 100
    const timeout = typeof payload.timeout === "number" ? payload.timeout : 0
    // Confirm everything below the offset.
    if (offset > 0) {
      while (this.updates.length > 0 && this.updates[0]!.update_id < offset) this.updates.shift()
    }
    if (this.waiter !== undefined) {
      const old = this.waiter
      clearTimeout(old.timer)
      this.waiter = undefined
      this.send(old.res, 409, {
        ok: false,
        error_code: 409,
        description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
      })
    }
    const ready = this.updates.filter((u) => u.update_id >= offset)
    if (ready.length > 0 || timeout <= 0) {
      this.send(res, 200, { ok: true, result: ready.slice(0, limit) })
      return
    }
    const timer = setTimeout(() => {
      if (this.waiter?.res === res) this.waiter = undefined
      this.send(res, 200, { ok: true, result: [] })
    }, timeout * 1000)
    this.waiter = { res, offset, limit, timer }
    res.on("close", () => {
      if (this.waiter?.res === res) {
        clearTimeout(timer)
        this.waiter = undefined
      }
    })
  }

  private validateMarkup(markup: unknown) {
    if (markup === undefined) return undefined
    const keyboard = (markup as { inline_keyboard?: unknown }).inline_keyboard
    if (!Array.isArray(keyboard)) throw badRequest("can't parse reply keyboard markup JSON object")
    for (const row of keyboard) {
      if (!Array.isArray(row)) throw badRequest("can't parse reply keyboard markup JSON object")
      for (const button of row as Array<InlineButton>) {
        if (typeof button.text !== "string" || button.text.length === 0) throw badRequest("text buttons are unallowed in the inline keyboard")
        if (button.callback_data !== undefined) {
          const bytes = Buffer.byteLength(button.callback_data, "utf8")
          if (bytes < 1 || bytes > 64) throw badRequest("BUTTON_DATA_INVALID")
        }
      }
    }
    return markup as FakeMessage["reply_markup"]
  }

  private render(payload: Record<string, unknown>): { html: string; text: string; parse_mode: string | undefined } {
    const html = payload.text
    if (typeof html !== "string") throw badRequest("message text is empty")
    const parse_mode = typeof payload.parse_mode === "string" ? payload.parse_mode : undefined
    if (parse_mode !== undefined && parse_mode !== "HTML") throw badRequest(`unsupported parse_mode ${parse_mode} in this fake`)
    const text = parse_mode === "HTML" ? parseTelegramHtml(html) : html
    if (text.trim().length === 0) throw badRequest("message text is empty")
    if (text.length > 4096) throw badRequest("message is too long")
    return { html, text, parse_mode }
  }

  private dispatch(method: string, payload: Record<string, unknown>): unknown {
    switch (method) {
      case "getme":
        return botUser(this.botUsername)
      case "deletewebhook":
        this.webhook = undefined
        return true
      case "setwebhook": {
        const url = payload.url
        if (typeof url !== "string") throw badRequest("bad webhook: URL must be provided")
        if (url === "") {
          this.webhook = undefined
          return true
        }
        const secret = payload.secret_token
        if (secret !== undefined && (typeof secret !== "string" || !/^[A-Za-z0-9_-]{1,256}$/.test(secret))) {
          throw badRequest("bad webhook: secret token contains unallowed characters")
        }
        this.webhook = { url, secret_token: secret as string | undefined }
        return true
      }
      case "getwebhookinfo":
        return { url: this.webhook?.url ?? "", has_custom_certificate: false, pending_update_count: this.updates.length }
      case "setmycommands": {
        const commands = payload.commands
        if (!Array.isArray(commands) || commands.length > 100) throw badRequest("commands must be an array of at most 100")
        for (const c of commands as Array<{ command?: unknown; description?: unknown }>) {
          if (typeof c.command !== "string" || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw badRequest("BOT_COMMAND_INVALID")
          if (typeof c.description !== "string" || c.description.length < 1 || c.description.length > 256) {
            throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
          }
        }
        this.commands = commands as Array<{ command: string; description: string }>
        return true
      }
      case "sendmessage": {
        const chatId = payload.chat_id
        if (typeof chatId !== "number" && typeof chatId !== "string") throw badRequest("chat_id is empty")
        if (this.blockedChats.has(String(chatId))) throw new ApiFailure(403, "Forbidden: bot was blocked by the user")
        const rendered = this.render(payload)
        const reply_markup = this.validateMarkup(payload.reply_markup)
        const message: FakeMessage = {
          message_id: this.nextMessageId++,
          chat_id: chatId,
          ...rendered,
          reply_markup,
          edits: 0,
          date: Math.floor(Date.now() / 1000)
        }
        const list = this.messagesByChat.get(String(chatId)) ?? []
        list.push(message)
        this.messagesByChat.set(String(chatId), list)
        return this.messageObject(message)
      }
      case "editmessagetext": {
        const list = this.messagesByChat.get(String(payload.chat_id)) ?? []
        const message = list.find((m) => m.message_id === payload.message_id)
        if (message === undefined) throw badRequest("message to edit not found")
        const rendered = this.render(payload)
        const reply_markup = this.validateMarkup(payload.reply_markup)
        if (rendered.html === message.html && JSON.stringify(reply_markup) === JSON.stringify(message.reply_markup)) {
          throw badRequest(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
          )
        }
        message.html = rendered.html
        message.text = rendered.text
        message.parse_mode = rendered.parse_mode
        message.reply_markup = reply_markup
        message.edits++
        return this.messageObject(message)
      }
      case "answercallbackquery": {
        const id = payload.callback_query_id
        if (typeof id !== "string" || !this.pendingQueries.has(id)) {
          throw badRequest("query is too old and response timeout expired or query ID is invalid")
        }
        const text = payload.text
        if (text !== undefined && (typeof text !== "string" || text.length > 200)) throw badRequest("MESSAGE_TOO_LONG")
        this.pendingQueries.delete(id)
        this.callbackAnswers.set(id, { text: text as string | undefined, show_alert: payload.show_alert === true })
        return true
      }
      default:
        throw new ApiFailure(404, "Not Found: method not found")
    }
  }
}
