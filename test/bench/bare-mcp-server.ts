/**
 * The benchmark's baseline: a bare MCP server with the fabric's tool surface (the same 39
 * tools, names, descriptions and zod schemas) written the way the SDK documents a stateless
 * server: a new server per request, every tool registered on it, then the request handled.
 * `blender_send_message` answers `{status:"ok"}` and does nothing else (no auth, no KV, no
 * NATS), so the gap to the gateway is what the fabric adds.
 *
 * Usage: tsx bare-mcp-server.ts 2025|2026 → prints `listening <url>` on stdout.
 *   2025: SDK 1.x McpServer + the web-standard Streamable HTTP transport, stateless.
 *   2026: SDK 2.x createMcpHandler (modern requests; legacy ones refused).
 */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { McpServer as McpServerV1 } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { McpServer as McpServerV2, createMcpHandler } from "@modelcontextprotocol/server";
import { registerFabricTools } from "./tool-surface.js";

const generation = process.argv[2];
const answer = (name: string) => {
  const body = name === "blender_send_message" ? { status: "ok", message_id: "m-bench", targets: ["bench-receiver"] } : { status: "ok" };
  return { content: [{ type: "text" as const, text: JSON.stringify(body) }], structuredContent: body };
};

const buildV1 = () => registerFabricTools(new McpServerV1({ name: "bare", version: "1.0.0" }), answer);
const buildV2 = () => registerFabricTools(new McpServerV2({ name: "bare", version: "1.0.0" }), answer);

async function serveV1(request: Request): Promise<Response> {
  const server = buildV1();
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  const response = await transport.handleRequest(request);
  await server.close();
  return response;
}

const modern = createMcpHandler(() => buildV2(), { legacy: "reject" });

const fetchHandler = generation === "2026" ? (request: Request) => modern.fetch(request) : serveV1;
const server = serve({ fetch: fetchHandler, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) => {
  process.stdout.write(`listening http://127.0.0.1:${info.port}/mcp\n`);
});
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
