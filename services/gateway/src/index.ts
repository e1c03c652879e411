export { createGatewayApp, type GatewayAppOptions } from "./app.js";
export { openGatewayServices, type GatewayServices } from "./services.js";
export { readGatewayEnv, type GatewayEnv } from "./env.js";
export { createGatewayMetrics } from "./metrics.js";
export { createLogger } from "./logger.js";
