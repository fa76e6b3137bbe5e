/**
 * The handlers of the contract's `orders` group (src/api/Orders.ts): list (newest first, with
 * fills), one order, approve and reject (manual confirmation, actor "api"). The service's refusals
 * keep their words: unknown (or not an id) → 404, already decided or expired → 409.
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { Conflict, NotFound } from "../api/errors.ts"
import { DEFAULT_ORDER_LIMIT } from "../api/Orders.ts"
import { orUnavailable } from "../api/server.ts"
import { type OrderConflict, type OrderNotFound, OrderService } from "./OrderService.ts"
import { orderJson } from "./OrderView.ts"

const API_ACTOR = { actor: "api", actorId: "operator" } as const

/** The service's refusals as the contract's errors (same message). */
type Refusal<E> = E extends OrderNotFound ? NotFound : E extends OrderConflict ? Conflict : E

export const refusals = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Refusal<E>, R> =>
  Effect.mapError(effect, (e: any) =>
    e?._tag === "OrderNotFound" ? NotFound.of(e.message) : e?._tag === "OrderConflict" ? Conflict.of(e.message) : e)

export const ordersGroup = HttpApiBuilder.group(Api, "orders", (handlers) =>
  handlers
    .handle("list", ({ query }) =>
      Effect.gen(function*() {
        const service = yield* OrderService
        const orders = yield* orUnavailable(service.list({
          status: query.status,
          symbol: query.symbol,
          limit: query.limit ?? DEFAULT_ORDER_LIMIT
        }))
        return { orders: orders.map(orderJson) }
      }))
    .handle("get", ({ params }) => Effect.flatMap(OrderService, (s) => Effect.map(orUnavailable(refusals(s.get(params.id))), orderJson)))
    .handle("approve", ({ params }) =>
      Effect.flatMap(OrderService, (s) => Effect.map(orUnavailable(refusals(s.approve(params.id, API_ACTOR))), orderJson)))
    .handle("reject", ({ params }) =>
      Effect.flatMap(OrderService, (s) => Effect.map(orUnavailable(refusals(s.reject(params.id, API_ACTOR))), orderJson))))
