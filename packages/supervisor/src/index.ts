/**
 * Starting and supervising the fabric's processes: nats-server (one, or a cluster), gateway
 * replicas and bridges, each a real child process that is stopped with its parent. `npm
 * start` (`blender-fabric up`) runs on this; the testkit re-exports it for tests.
 */
export { findProgram } from "./programs.js";
export { findFreePort, preferPort, waitFor } from "./ports.js";
export { startNatsCluster, startNatsServer, startNatsServerWithConfig, type NatsNode, type NatsServer } from "./nats-server.js";
export { killChildrenNow, sourceCommand, spawnTracked, stopChild } from "./child-processes.js";
export { startStopGuard, type StopGuard } from "./stop-guard.js";
export { startGatewayProcess, type GatewayProcess } from "./gateway.js";
export { startBridgeProcess, startBridgeStandby, type BridgeProcess, type BridgeStandby } from "./bridge.js";
export { startPoolProcess, type PoolProcess } from "./pool.js";
export { startHealthEndpoint } from "./health-endpoint.js";
export { isProcessGone, processDescendants, processEntries, processStartTime, processStat } from "./process-table.js";
