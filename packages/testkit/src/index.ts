// The processes tests start are the production supervisor's; the testkit adds what only
// tests need (an MCP test client, fixtures, tokens).
export {
  findFreePort,
  findProgram,
  isProcessGone,
  processEntries,
  processStat,
  sourceCommand,
  spawnTracked,
  startBridgeProcess,
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
export { TEST_JWT_SECRET, mintToken, startGatewayProcess } from "./tokens.js";
export { startPolyHavenFixture, type PolyHavenFixture } from "./polyhaven-fixture.js";
