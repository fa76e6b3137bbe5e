/**
 * The operator API as served on :8000 (roles api and all): every group of the contract with its
 * implementation, behind the contract's middlewares, plus `GET /openapi.json`. Adding a group to
 * the contract without providing its handlers here fails at start ("HttpApiGroup ... not found").
 */
import { Layer } from "effect"
import { Api } from "../api/Api.ts"
import { layerApiRoutes } from "../api/server.ts"
import { ordersGroup } from "../orders/routes.ts"
import { pnlGroup } from "../pnl/routes.ts"
import { botGroup } from "../signals/botRoutes.ts"
import { signalsGroup } from "../signals/routes.ts"
import { systemGroup } from "./servers.ts"

/** The implementations of every group (they need the services from the runtime). */
export const apiGroups = Layer.mergeAll(signalsGroup, ordersGroup, pnlGroup, botGroup, systemGroup)

/** The operator API's routes. */
export const operatorApiRoutes = layerApiRoutes(Api, apiGroups)
