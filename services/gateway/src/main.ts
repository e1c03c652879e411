/** Boots one gateway replica. Any number of them can share one NATS. */
import { serve } from "@hono/node-server";
import { readGatewayEnv } from "./env.js";
import { openGatewayServices } from "./services.js";
import { createGatewayMetrics } from "./metrics.js";
import { createLogger } from "./logger.js";
import { createGatewayApp } from "./app.js";

/** How often this replica evicts long-silent clients and forgets idle sessions. ms */
const EVICTION_INTERVAL_MS = 60_000;

const env = readGatewayEnv();
const logger = createLogger(env.FABRIC_GATEWAY_NAME, env.FABRIC_LOG_LEVEL);
const services = await openGatewayServices(env);
const app = createGatewayApp({ env, services, metrics: createGatewayMetrics(), logger });

const evictor = setInterval(() => {
  services.sessions.forgetIdle();
  services.registry
    .evictExpired()
    .then((count) => count > 0 && logger.info({ count }, "evicted silent clients"))
    .catch((error: unknown) => logger.warn({ err: error }, "eviction failed"));
}, EVICTION_INTERVAL_MS);

const server = serve(
  { fetch: app.fetch, hostname: env.FABRIC_HTTP_HOST, port: env.FABRIC_HTTP_PORT },
  (address) => {
    const url = `http://${address.address}:${address.port}/mcp`;
    // A NATS URL may carry credentials (nats://user:pass@host): log it without them.
    logger.info({ url, nats: env.FABRIC_NATS_URL.replace(/\/\/[^@/]*@/g, "//") }, "gateway listening");
  },
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "gateway stopping");
  clearInterval(evictor);
  server.close();
  // NATS may be gone already (Ctrl-C reaches every process of a terminal's group).
  await services.close().catch((error: unknown) => logger.debug({ err: error }, "NATS drain failed"));
  process.exit(0);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
