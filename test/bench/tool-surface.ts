/** The gateway's tool definitions (names, descriptions, zod schemas), for the benchmarks' bare servers. */
import { DEFAULT_MAX_PAYLOAD_BYTES } from "@blender-fabric/protocol";
import { createFabricTools } from "../../services/gateway/src/tools/fabric-tools.js";

export const fabricToolDefinitions = () => createFabricTools({ maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES });

/** Built once: a server written with the SDK defines its schemas once, and registers them per request. */
const definitions = fabricToolDefinitions();

/**
 * Registers every fabric tool on an SDK McpServer (1.x or 2.x), as a server written with the
 * SDK would. Typed loosely: the SDKs' generic signatures cannot see that each definition's
 * schema fits its handler.
 */
export function registerFabricTools<Server extends { registerTool: unknown }>(server: Server, handler: (name: string) => unknown): Server {
  const registerTool = (server.registerTool as (...args: unknown[]) => unknown).bind(server);
  for (const tool of definitions) {
    registerTool(
      tool.name,
      { title: tool.title, description: tool.description, inputSchema: tool.inputSchema, outputSchema: tool.outputSchema, annotations: tool.annotations },
      async () => handler(tool.name),
    );
  }
  return server;
}
