/**
 * The bot suite with the bot in this process, once per `BotBackend` layer that works without the
 * other services: the in-memory backend, and the HTTP client against the loopback backend fake.
 */
import { inProcessHarness } from "./harness.ts"
import { defineBotScenarios } from "./scenarios.ts"

defineBotScenarios("in-process, BotBackend.layerMemory", inProcessHarness("memory"))
defineBotScenarios("in-process, BotBackend.layerHttp against the backend fake", inProcessHarness("http"))
