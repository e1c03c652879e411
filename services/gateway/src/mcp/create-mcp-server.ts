/**
 * Builds the low-level SDK `Server` that serves one HTTP request. Replicas are stateless, so
 * every request gets a fresh server and transport (the SDK's stateless mode); what makes
 * that cheap is that the tool catalog and its JSON schemas are built once per process.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  type ServerNotification,
} from "@modelcontextprotocol/sdk/types.js";
import type { ToolCatalog } from "./tool-catalog.js";
import { UnknownToolError } from "./tool-catalog.js";
import { RpcError } from "./rpc-error.js";
import type { ToolContext } from "./tool-context.js";
import { RESOURCES, RESOURCE_TEMPLATES, readResource } from "./resources.js";
import { requestSessionSync } from "../delivery/session-sync.js";
import type { GatewayMetrics } from "../metrics.js";
import type { Logger } from "../logger.js";

export const SERVER_INFO = { name: "blender-fabric", version: "0.1.0" } as const;

export type McpServerDependencies = {
  catalog: ToolCatalog;
  metrics: GatewayMetrics;
  logger: Logger;
};

/**
 * Sends `notifications/progress` for a call that carries a progress token (the endpoint
 * answers such a call as an SSE stream). MCP wants progress to grow with each notification,
 * so a report that does not is dropped.
 */
function progressNotifier(progressToken: string | number, send: (notification: ServerNotification) => Promise<void>) {
  let last = -1;
  return (fraction: number, message: string) => {
    if (fraction <= last) return;
    last = fraction;
    void send({ method: "notifications/progress", params: { progressToken, progress: fraction, total: 1, ...(message ? { message } : {}) } }).catch(() => {});
  };
}

/**
 * One JSON Schema validator per process: the SDK would build a new Ajv instance (with its
 * formats) for every server, which cost more than the rest of serving a tool call.
 */
const sharedSchemaValidator = new AjvJsonSchemaValidator();

export function createMcpServer(dependencies: McpServerDependencies, context: ToolContext): Server {
  const { catalog, metrics, logger } = dependencies;
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: {}, logging: {}, resources: {} },
    jsonSchemaValidator: sharedSchemaValidator,
    instructions:
      "Blender Fabric: many LLM sessions, many Blender instances, one bus per user. " +
      "Register with blender_register_client to receive messages as notifications/message.",
  });

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: catalog.tools }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args } = request.params;
    const stopTimer = metrics.toolSeconds.startTimer({ tool: name });
    const call = context.services.cancellations.register(context.sessionId, extra.requestId);
    const progressToken = request.params._meta?.progressToken;
    try {
      const result = await catalog.call(name, args, {
        ...context,
        signal: call.signal,
        ...(progressToken === undefined ? {} : { progress: progressNotifier(progressToken, extra.sendNotification) }),
      });
      metrics.toolCalls.inc({ tool: name, status: String(result.structuredContent?.status ?? "ok") });
      return result;
    } catch (error) {
      if (error instanceof UnknownToolError) {
        throw new RpcError(ErrorCode.InvalidParams, error.message);
      }
      // An infrastructure fault (e.g. NATS unreachable) is still answered as a result so
      // the LLM can tell the user; the details go to the log.
      logger.error({ err: error, tool: name }, "tool failed");
      metrics.toolCalls.inc({ tool: name, status: "error" });
      const message = error instanceof Error ? error.message : String(error);
      return {
        content: [{ type: "text", text: JSON.stringify({ status: "error", error: message }) }],
        isError: true,
      };
    } finally {
      call.done();
      stopTimer();
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: RESOURCES }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: RESOURCE_TEMPLATES }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => readResource(request.params.uri, context));

  // The level lives in the session record: the next request may land on another replica,
  // and the replica holding the stream filters by it.
  server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    await context.services.sessions.update(context.identity.userId, context.sessionId, (record) => ({
      ...record,
      log_level: request.params.level,
    }));
    await requestSessionSync(context.services.nc, context.sessionId);
    return {};
  });

  return server;
}
