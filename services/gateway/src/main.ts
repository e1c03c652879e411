/** Boots one gateway replica. Any number of them can share one NATS. */
import { serve } from "@hono/node-server";
import { GatewayConfigError, readGatewayEnv, type GatewayEnv } from "./env.js";
import { openGatewayServices } from "./services.js";
import { createGatewayMetrics } from "./metrics.js";
import { createLogger } from "./logger.js";
import { createGatewayApp } from "./app.js";
import { MINIMUM_NATS_SERVER_VERSION, SUPPORTED_NATS_SERVERS, isOlderServerVersion } from "./nats-version.js";

/** How often this replica evicts long-silent clients and forgets idle sessions. ms */
const EVICTION_INTERVAL_MS = 60_000;

let env: GatewayEnv;
try {
  env = readGatewayEnv();
} catch (error) {
  if (!(error instanceof GatewayConfigError)) throw error;
  // One line on stderr, before any logger exists: the operator's next step, not a stack trace.
  process.stderr.write(`gateway: refusing to start: ${error.message}\n`);
  process.exit(1);
}
const logger = createLogger(env.FABRIC_GATEWAY_NAME, env.FABRIC_LOG_LEVEL);
if (env.jwtSecretGenerated) {
  logger.warn("FABRIC_DEV_MODE without FABRIC_JWT_SECRET: tokens are verified with a random secret of this process, which no one outside it holds");
}
const services = await openGatewayServices(env, logger);
const natsVersion = services.nc.info?.version;
if (!env.FABRIC_DEV_MODE && natsVersion !== undefined && isOlderServerVersion(natsVersion, MINIMUM_NATS_SERVER_VERSION)) {
  logger.warn(
    { nats_version: natsVersion, minimum: MINIMUM_NATS_SERVER_VERSION, supported: SUPPORTED_NATS_SERVERS },
    `nats-server ${natsVersion} is older than ${MINIMUM_NATS_SERVER_VERSION} and has unfixed CVEs; run ${SUPPORTED_NATS_SERVERS}`,
  );
}
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
if (env.FABRIC_IGNORE_SIGINT) process.on("SIGINT", () => logger.info("SIGINT ignored: serving the peer API until told to stop (SIGTERM)"));
// `on`, not `once`: a second Ctrl-C must not fall back to Node's default (dying mid-stop).
else process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
