export * from "./programs.js";
export * from "./ports.js";
export * from "./nats-server.js";
export * from "./child-processes.js";
export * from "./gateway.js";
export * from "./mcp-client.js";
export { DEV_JWT_SECRET, mintToken } from "@blender-fabric/auth";
export * from "./bridge.js";
export * from "./polyhaven-fixture.js";
