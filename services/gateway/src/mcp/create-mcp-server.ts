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
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  type ServerNotification,
} from "@modelcontextprotocol/sdk/types.js";
import { RpcError } from "./rpc-error.js";
import { runToolCall, progressNotifier, type ToolCallDependencies } from "./run-tool-call.js";
import type { SessionToolContext } from "./tool-context.js";
import { RESOURCE_TEMPLATES, listResources, readResource } from "./resources.js";
import { requestSessionSync } from "../delivery/session-sync.js";

export const SERVER_INFO = { name: "blender-fabric", version: "0.1.0" } as const;

export type McpServerDependencies = ToolCallDependencies;

/**
 * One JSON Schema validator per process: the SDK would build a new Ajv instance (with its
 * formats) for every server, which cost more than the rest of serving a tool call.
 */
const sharedSchemaValidator = new AjvJsonSchemaValidator();

export function createMcpServer(dependencies: McpServerDependencies, context: SessionToolContext): Server {
  const { catalog } = dependencies;
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: {}, logging: {}, resources: {}, prompts: {} },
    jsonSchemaValidator: sharedSchemaValidator,
    instructions:
      "Blender Fabric: many LLM sessions, many Blender instances, one bus per user. " +
      "Register with blender_register_client to receive messages as notifications/message.",
  });

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: catalog.tools }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const call = context.services.cancellations.register(context.sessionId, extra.requestId);
    const progressToken = request.params._meta?.progressToken;
    const send = (notification: ServerNotification) => void extra.sendNotification(notification).catch(() => {});
    try {
      return await runToolCall(dependencies, request.params.name, request.params.arguments, {
        ...context,
        signal: call.signal,
        ...(progressToken === undefined ? {} : { progress: progressNotifier(progressToken, send) }),
      });
    } finally {
      call.done();
    }
  });

  // No prompts yet; the list exists so a client that asks gets an answer, not -32601.
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: [] }));
  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    throw new RpcError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: await listResources(context) }));
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
