/**
 * POST /mcp for MCP 2026-07-28 clients: one self-describing request per POST, no session, so
 * any replica serves any request and nothing is kept between them. The tools, resources and
 * their handlers are the same ones the 2025 path serves through the SDK; this module is the
 * 2026 wire around them: `server/discover`, the `_meta` and header checks, caching hints and
 * `resultType` on results, 404 for methods 2026 removed, `subscriptions/listen`, and tasks.
 *
 * Why not SDK v2's `createMcpHandler`: it keeps listen subscriptions and tasks in the process
 * that accepted them, while a fabric replica must hear bus messages and find tasks stored by
 * any other replica (README, "MCP generations").
 */
import type { Context } from "hono";
import type { VerifiedIdentity } from "@blender-fabric/auth";
import { RpcError } from "../rpc-error.js";
import { progressNotifier, runToolCall, type ToolCallDependencies } from "../run-tool-call.js";
import { sessionlessContext, type ToolContext } from "../tool-context.js";
import { RESOURCE_TEMPLATES, listResources, readResource } from "../resources.js";
import { SERVER_INFO } from "../create-mcp-server.js";
import type { GatewayServices } from "../../services.js";
import type { GatewayEnv } from "../../env.js";
import { MetaKey, StatelessCode, StatelessError, TASKS_EXTENSION, checkStatelessRequest, errorBody, type StatelessRequest } from "./wire.js";
import { openListenStream, type ListenStreams } from "./listen-stream.js";
import { TaskCalls } from "./task-calls.js";
import { sseResponse, type SseWriter } from "./sse.js";

export type StatelessDependencies = ToolCallDependencies & {
  services: GatewayServices;
  env: GatewayEnv;
  listens: ListenStreams;
};

/** Cache hints (SEP-2549) per list and read: what may be reused, by whom, for how long. */
const CACHE_HINTS = {
  // The same for every user, and changes only with a new gateway version.
  discover: { ttlMs: 300_000, cacheScope: "public" },
  tools: { ttlMs: 300_000, cacheScope: "public" },
  prompts: { ttlMs: 300_000, cacheScope: "public" },
  templates: { ttlMs: 300_000, cacheScope: "public" },
  // The caller's own clients and scene: another user must not see them, and they change.
  resources: { ttlMs: 0, cacheScope: "private" },
  read: { ttlMs: 0, cacheScope: "private" },
} as const;

/** Methods the 2026 revision removed: answered like any unknown method, 404 and -32601. */
const REMOVED_METHODS = new Set(["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"]);

export const INSTRUCTIONS =
  "Blender Fabric: many LLM sessions, many Blender instances, one bus per user. Register with " +
  "blender_register_client; messages for your client wait in its inbox: read them with " +
  "blender_receive_messages or the resource fabric://clients/<uuid>/inbox (subscribe to it with subscriptions/listen).";

const CAPABILITIES = {
  tools: {},
  resources: { subscribe: true },
  prompts: {},
  extensions: { [TASKS_EXTENSION]: {} },
};

/** A complete result: `resultType`, and the server named in `_meta`. */
const complete = (body: Record<string, unknown>) => ({ resultType: "complete", ...body, _meta: { [MetaKey.serverInfo]: SERVER_INFO } });

const json = (status: number, body: string) => new Response(body, { status, headers: { "content-type": "application/json" } });

const resultResponse = (id: string | number, result: Record<string, unknown>) => json(200, JSON.stringify({ jsonrpc: "2.0", id, result }));

function errorResponse(id: string | number | undefined, error: unknown): Response {
  if (error instanceof StatelessError) {
    return json(error.httpStatus, errorBody(id, { code: error.code, message: error.message, ...(error.data ? { data: error.data } : {}) }));
  }
  if (error instanceof RpcError) return json(200, errorBody(id, { code: error.code, message: error.message, ...(error.data ? { data: error.data } : {}) }));
  throw error; // an unexpected fault: the app's error handler logs it and answers 500
}

const methodNotFound = (method: string) =>
  new StatelessError(404, StatelessCode.MethodNotFound, `Method not found: ${method}${REMOVED_METHODS.has(method) ? " (removed in MCP 2026-07-28)" : ""}`);

export function createStatelessEndpoint(dependencies: StatelessDependencies) {
  const { services, env } = dependencies;
  const tasks = new TaskCalls(dependencies);

  return async function serveStateless(c: Context, identity: VerifiedIdentity, body: unknown): Promise<Response> {
    const message = body as Record<string, unknown>;
    if (typeof message.method !== "string") {
      return json(400, errorBody(undefined, { code: -32600, message: "Invalid Request: a 2026-07-28 POST carries one request or notification" }));
    }
    // A notification needs no answer (2026 has none a client must send over HTTP).
    if (message.id === undefined) return new Response(null, { status: 202 });
    if (typeof message.id !== "string" && typeof message.id !== "number") {
      return json(400, errorBody(undefined, { code: -32600, message: "Invalid Request: id is a string or a number" }));
    }
    const id = message.id;
    let request: StatelessRequest;
    try {
      request = checkStatelessRequest(message, c.req.raw.headers);
    } catch (error) {
      return errorResponse(id, error);
    }
    const context = sessionlessContext(services, env, identity, request.protocolVersion);
    try {
      switch (request.method) {
        case "server/discover":
          return resultResponse(id, complete({ supportedVersions: ["2026-07-28"], capabilities: CAPABILITIES, instructions: INSTRUCTIONS, ...CACHE_HINTS.discover }));
        case "tools/list":
          return resultResponse(id, complete({ tools: dependencies.catalog.tools, ...CACHE_HINTS.tools }));
        case "prompts/list":
          return resultResponse(id, complete({ prompts: [], ...CACHE_HINTS.prompts }));
        case "prompts/get":
          throw new RpcError(StatelessCode.InvalidParams, `Unknown prompt: ${String(request.params.name)}`);
        case "resources/list":
          return resultResponse(id, complete({ resources: await listResources(context), ...CACHE_HINTS.resources }));
        case "resources/templates/list":
          return resultResponse(id, complete({ resourceTemplates: RESOURCE_TEMPLATES, ...CACHE_HINTS.templates }));
        case "resources/read":
          if (typeof request.params.uri !== "string") throw new RpcError(StatelessCode.InvalidParams, "Invalid params: uri is required");
          return resultResponse(id, complete({ ...(await readResource(request.params.uri, context)), ...CACHE_HINTS.read }));
        case "tools/call":
          return await callTool(c, request, context);
        case "subscriptions/listen":
          return await openListenStream(c, request, context, dependencies.listens);
        case "tasks/get":
          return resultResponse(id, complete(await tasks.get(request, context)));
        case "tasks/cancel":
          return resultResponse(id, complete(await tasks.cancel(request, context)));
        default:
          throw methodNotFound(request.method);
      }
    } catch (error) {
      return errorResponse(id, error);
    }
  };

  /**
   * A tool call. Closing the request (its stream, or the connection of a plain JSON answer)
   * cancels the call, as 2026 has no `notifications/cancelled` over HTTP. A call with a
   * progress token is answered as an SSE stream: its progress, then its result.
   */
  async function callTool(c: Context, request: StatelessRequest, context: ToolContext): Promise<Response> {
    const { id, params } = request;
    const name = params.name;
    if (typeof name !== "string") throw new RpcError(StatelessCode.InvalidParams, "Invalid params: name is required");
    const task = await tasks.startIfWanted(request, context);
    if (task) return resultResponse(id, task);
    const call = new AbortController();
    const progressToken = (params._meta as Record<string, unknown> | undefined)?.progressToken;
    const run = (writer?: SseWriter) =>
      runToolCall(dependencies, name, params.arguments, {
        ...context,
        signal: call.signal,
        ...(writer && (typeof progressToken === "string" || typeof progressToken === "number")
          ? { progress: progressNotifier(progressToken, (notification) => writer.send({ jsonrpc: "2.0", ...notification })) }
          : {}),
      });
    const closed = () => call.abort();
    c.req.raw.signal.addEventListener("abort", closed, { once: true });
    const accept = c.req.header("accept") ?? "";
    if (progressToken === undefined || !accept.includes("text/event-stream")) {
      try {
        return resultResponse(id, complete({ ...(await run()) }));
      } finally {
        c.req.raw.signal.removeEventListener("abort", closed);
      }
    }
    return sseResponse(async (writer) => {
      writer.onClose(closed);
      try {
        const result = await run(writer);
        if (!call.signal.aborted) writer.send({ jsonrpc: "2.0", id, result: complete({ ...result }) });
      } catch (error) {
        if (error instanceof RpcError) writer.send(JSON.parse(errorBody(id, { code: error.code, message: error.message })) as object);
        else throw error;
      }
    }, c.req.raw.signal);
  }
}
