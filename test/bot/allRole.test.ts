/**
 * The bot suite with `--role all` in this process on the real services (BotBackend.layerLocal):
 * the webhook creates the orders, the order actor executes approvals at the BingX fake, the
 * notifications come from the services' Notifier. Then the bot's acceptance scenario and the backend's
 * notifications end to end (liveScenarios.ts).
 */
import { defineLiveBotScenarios } from "./liveScenarios.ts"
import { defineBotScenarios } from "./scenarios.ts"
import { allRoleInProcess } from "./stacks.ts"

defineBotScenarios("--role all in this process, real services, BingX fake", allRoleInProcess)
defineLiveBotScenarios("--role all in this process", allRoleInProcess)
