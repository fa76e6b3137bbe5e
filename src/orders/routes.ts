/**
 * Order routes on :8000 (bearer API_TOKEN), as in the API contract:
 *   GET  /orders?status=&symbol=&limit=   → {"orders": [Order…]} newest first (limit 1..500, default 50)
 *   GET  /orders/{id}                     → Order with fills (404 when unknown)
 *   POST /orders/{id}/approve             → Order (now pending, enqueued) | 409 | 404
 *   POST /orders/{id}/reject              → Order (rejected by operator) | 409 | 404
 */
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { isOrderStatus, OrderStatus } from "../domain/order.ts"
import type { FieldProblem } from "../domain/vocabulary.ts"
import { ApiError, json, operatorRoute } from "../http/respond.ts"
import { type OrderConflict, type OrderListFilter, type OrderNotFound, OrderService } from "./OrderService.ts"
import { orderJson } from "./OrderView.ts"

const API_ACTOR = { actor: "api", actorId: "operator" } as const

const toApiError = <A, R>(effect: Effect.Effect<A, OrderNotFound | OrderConflict | { readonly _tag: "SqlError" }, R>) =>
  effect.pipe(
    Effect.catchTags({
      OrderNotFound: (e: OrderNotFound) => Effect.fail(new ApiError({ status: 404, message: e.message })),
      OrderConflict: (e: OrderConflict) => Effect.fail(new ApiError({ status: 409, message: e.message }))
    })
  )

const orderId = Effect.map(HttpRouter.params, (p) => p["id"] ?? "")

/** Query parameters of GET /orders, validated (422 with every problem). */
export const parseListQuery = (search: URLSearchParams) => {
  const problems: Array<FieldProblem> = []
  const status = search.get("status") ?? undefined
  if (status !== undefined && !isOrderStatus(status)) {
    problems.push({ field: "status", problem: `must be one of ${OrderStatus.literals.join(", ")}` })
  }
  const rawSymbol = search.get("symbol") ?? undefined
  const symbol = rawSymbol?.trim().toUpperCase()
  if (symbol !== undefined && !/^[A-Z0-9]{1,20}-[A-Z0-9]{1,10}$/.test(symbol)) {
    problems.push({ field: "symbol", problem: "must be a BingX symbol like BTC-USDT" })
  }
  const rawLimit = search.get("limit") ?? undefined
  const limit = rawLimit === undefined ? 50 : Number(rawLimit)
  if (rawLimit !== undefined && (!/^\d{1,4}$/.test(rawLimit) || limit < 1 || limit > 500)) {
    problems.push({ field: "limit", problem: "must be a whole number from 1 to 500" })
  }
  const filter: OrderListFilter = {
    status: status !== undefined && isOrderStatus(status) ? status : undefined,
    symbol,
    limit
  }
  return { problems, filter }
}

const list = operatorRoute(
  "GET",
  "/orders",
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const search = new URL(request.url, "http://localhost").searchParams
    const { problems, filter } = parseListQuery(search)
    if (problems.length > 0) return yield* new ApiError({ status: 422, message: "invalid query parameters", fields: problems })
    return json({ orders: (yield* (yield* OrderService).list(filter)).map(orderJson) })
  })
)

const get = operatorRoute(
  "GET",
  "/orders/:id",
  Effect.gen(function*() {
    const service = yield* OrderService
    return json(orderJson(yield* toApiError(service.get(yield* orderId))))
  })
)

const approve = operatorRoute(
  "POST",
  "/orders/:id/approve",
  Effect.gen(function*() {
    const service = yield* OrderService
    return json(orderJson(yield* toApiError(service.approve(yield* orderId, API_ACTOR))))
  })
)

const reject = operatorRoute(
  "POST",
  "/orders/:id/reject",
  Effect.gen(function*() {
    const service = yield* OrderService
    return json(orderJson(yield* toApiError(service.reject(yield* orderId, API_ACTOR))))
  })
)

/** The order routes (need OrderService and Secrets). */
export const orderRoutes = Layer.mergeAll(list, get, approve, reject)
