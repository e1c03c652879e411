/**
 * POST|GET|DELETE /mcp. Each request is served by a fresh SDK transport in stateless mode;
 * the session itself was resolved from KV by the session middleware. A GET keeps its server
 * alive as the session's notification stream until the client goes away.
 */
import type { Handler } from "hono";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { MESSAGE_BUS_LOGGER } from "@blender-fabric/protocol";
import { createMcpServer, type McpServerDependencies } from "../mcp/create-mcp-server.js";
import type { ToolContext } from "../mcp/tool-context.js";
import { SessionStream } from "../delivery/session-stream.js";
import type { GatewayServices } from "../services.js";
import type { GatewayEnv } from "../env.js";
import type { SessionVariables } from "./session-middleware.js";

export type McpEndpointDependencies = McpServerDependencies & {
  services: GatewayServices;
  env: GatewayEnv;
};

export function createMcpEndpoint(
  dependencies: McpEndpointDependencies,
): Handler<{ Variables: SessionVariables }> {
  const { services, env, logger, metrics } = dependencies;

  return async function serveMcp(c) {
    const session = c.get("session");
    const context: ToolContext = {
      services,
      env,
      identity: c.get("identity"),
      sessionId: session.id,
      session: session.record,
    };

    if (c.req.method === "DELETE") {
      await closeSession(services, session.id, context.identity.userId);
      return c.body(null, 200);
    }

    const body = c.get("body");
    if (c.req.method === "POST") {
      // The call it cancels may run on another replica: tell them all.
      for (const requestId of cancelledRequestIds(body)) services.cancellations.announce(session.id, requestId);
    }
    // A call that asked for progress is answered as an SSE stream (its notifications, then the
    // result); every other POST stays plain JSON, the fast path.
    const streaming = c.req.method === "POST" && asksForProgress(body);
    const server = createMcpServer(dependencies, context);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: !streaming,
    });
    await server.connect(transport);

    if (c.req.method !== "GET") {
      const response = await transport.handleRequest(c.req.raw, { parsedBody: body });
      if (!streaming || !response.body) {
        await server.close();
        return response;
      }
      // A stream is still being written: the server goes once the whole answer is sent, or
      // once the client has gone.
      const closeServer = () => void server.close();
      c.req.raw.signal.addEventListener("abort", closeServer, { once: true });
      return new Response(response.body.pipeThrough(new TransformStream({ flush: closeServer })), response);
    }

    const response = await transport.handleRequest(c.req.raw);
    if (!response.ok) return response;
    const stream = new SessionStream({
      services,
      sessionId: session.id,
      userId: context.identity.userId,
      heartbeatMs: env.FABRIC_HEARTBEAT_SECONDS * 1000,
      logger,
      deliver: (envelope) => {
        metrics.deliveredMessages.inc();
        void server
          .notification({
            method: "notifications/message",
            params: { level: envelope.priority, logger: MESSAGE_BUS_LOGGER, data: envelope },
          })
          .catch((error: unknown) => logger.debug({ err: error }, "notification not sent"));
      },
    });
    metrics.openStreams.inc();
    let open = true;
    const closeStream = () => {
      if (!open) return;
      open = false;
      stream.close();
      metrics.openStreams.dec();
      void server.close();
    };
    if (c.req.raw.signal.aborted) closeStream();
    c.req.raw.signal.addEventListener("abort", closeStream, { once: true });
    try {
      await stream.start();
    } catch (error) {
      closeStream();
      throw error;
    }
    return response;
  };
}

type JsonRpcMessage = { method?: unknown; params?: { requestId?: unknown; _meta?: { progressToken?: unknown } } };

const messagesOf = (body: unknown): JsonRpcMessage[] =>
  (Array.isArray(body) ? body : [body]).filter((message): message is JsonRpcMessage => typeof message === "object" && message !== null);

/** Whether a POST holds a tool call with a progress token. */
function asksForProgress(body: unknown): boolean {
  return messagesOf(body).some((message) => message.method === "tools/call" && message.params?._meta?.progressToken !== undefined);
}

/** The request ids a POST's `notifications/cancelled` name. */
function cancelledRequestIds(body: unknown): (string | number)[] {
  return messagesOf(body)
    .filter((message) => message.method === "notifications/cancelled")
    .map((message) => message.params?.requestId)
    .filter((id): id is string | number => typeof id === "string" || typeof id === "number");
}

/** DELETE /mcp: the session ends; its ephemeral clients leave the bus, persistent ones stay. */
async function closeSession(services: GatewayServices, sessionId: string, userId: string) {
  const record = await services.sessions.get(sessionId);
  for (const uuid of record?.client_uuids ?? []) {
    const client = await services.registry.get(userId, uuid);
    if (client && !client.is_persistent) await services.registry.unregister(userId, uuid);
  }
  await services.sessions.delete(sessionId);
}
