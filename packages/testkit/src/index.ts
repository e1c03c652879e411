// The processes tests start are the production supervisor's; the testkit adds what only
// tests need (an MCP test client, fixtures, tokens).
export * from "@blender-fabric/supervisor";
export * from "./mcp-client.js";
export { DEV_JWT_SECRET, mintToken } from "@blender-fabric/auth";
export * from "./polyhaven-fixture.js";
