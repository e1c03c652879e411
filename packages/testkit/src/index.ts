// The processes tests start are the production supervisor's; the testkit adds what only
// tests need (an MCP test client, fixtures, tokens).
export {
  findFreePort,
  findProgram,
  isProcessGone,
  processStat,
  sourceCommand,
  spawnTracked,
  startBridgeProcess,
  startGatewayProcess,
  startNatsCluster,
  startNatsServer,
  startNatsServerWithConfig,
  startPoolProcess,
  stopChild,
  waitFor,
  type BridgeProcess,
  type GatewayProcess,
  type NatsNode,
  type NatsServer,
  type PoolProcess,
} from "@blender-fabric/supervisor";
export { FabricTestClient, type BusNotification, type FabricTestClientOptions } from "./mcp-client.js";
export { DEV_JWT_SECRET, mintToken } from "@blender-fabric/auth";
export { startPolyHavenFixture, type PolyHavenFixture } from "./polyhaven-fixture.js";
