/**
 * POST|GET|DELETE /mcp. Each request is served by a fresh SDK transport in stateless mode;
 * the session itself was resolved from KV by the session middleware. A GET keeps its server
 * alive as the session's notification stream until the client goes away.
 *
 * A POST body is validated whole before anything acts on it: one JSON-RPC message. A batch (a
 * top-level array) is refused with 400, as MCP 2025-06-18 removed batching; so one request
 * carries at most one `notifications/cancelled`, not 50,000 of them.
 */
import type { Handler } from "hono";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { CancelledNotificationSchema, ErrorCode, JSONRPCMessageSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { MESSAGE_BUS_LOGGER } from "@blender-fabric/protocol";
import { createMcpServer, type McpServerDependencies } from "../mcp/create-mcp-server.js";
import type { SessionToolContext } from "../mcp/tool-context.js";
import { SessionStream } from "../delivery/session-stream.js";
import type { GatewayServices } from "../services.js";
import type { GatewayEnv } from "../env.js";
import type { SessionVariables } from "./session-middleware.js";
import { jsonRpcError } from "./errors.js";

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
    const context: SessionToolContext = {
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
    let message: JSONRPCMessage | undefined;
    if (c.req.method === "POST") {
      const checked = checkBody(body);
      if (checked instanceof Response) return checked;
      message = checked;
      const cancelled = CancelledNotificationSchema.safeParse(message);
      // Aborted here if it runs here, else announced once to the replica that may run it.
      if (cancelled.success && cancelled.data.params.requestId !== undefined) services.cancellations.cancel(session.id, cancelled.data.params.requestId);
    }
    // A call that asked for progress is answered as an SSE stream (its notifications, then the
    // result); every other POST stays plain JSON, the fast path.
    const streaming = message !== undefined && asksForProgress(message);
    const server = createMcpServer(dependencies, context);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: !streaming,
    });
    await server.connect(transport);

    if (c.req.method !== "GET") {
      const response = await transport.handleRequest(c.req.raw, { parsedBody: body });
      const callId = message && "method" in message && message.method === "tools/call" && "id" in message ? message.id : undefined;
      if (!streaming || !response.body) {
        await server.close();
        // A call its client cancelled gets no answer (MCP: the receiver SHOULD NOT respond).
        if (callId !== undefined && services.cancellations.wasCancelled(session.id, callId)) return c.body(null, 202);
        return response;
      }
      // A stream is still being written: the server goes once the whole answer is sent, or
      // once the client has gone. A cancelled call's stream ends without its answer.
      const closeServer = () => void server.close();
      c.req.raw.signal.addEventListener("abort", closeServer, { once: true });
      const withoutCancelledAnswer = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          if (callId !== undefined && isAnswerEvent(chunk) && services.cancellations.wasCancelled(session.id, callId)) return;
          controller.enqueue(chunk);
        },
        flush: closeServer,
      });
      return new Response(response.body.pipeThrough(withoutCancelledAnswer), response);
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

/** The POST body's one JSON-RPC message, or the 400 that refuses it. */
function checkBody(body: unknown): JSONRPCMessage | Response {
  if (Array.isArray(body)) {
    return jsonRpcError(400, ErrorCode.InvalidRequest, "Invalid Request: JSON-RPC batches are not accepted (MCP 2025-06-18 removed batching); send one message per request");
  }
  const parsed = JSONRPCMessageSchema.safeParse(body);
  return parsed.success ? parsed.data : jsonRpcError(400, ErrorCode.InvalidRequest, "Invalid Request: the body is not a JSON-RPC message");
}

/** Whether an SSE chunk carries a JSON-RPC answer (a result or an error), not a notification. */
function isAnswerEvent(chunk: Uint8Array): boolean {
  const text = new TextDecoder().decode(chunk);
  const data = /^data: (.*)$/mu.exec(text)?.[1];
  if (!data) return false;
  try {
    const event = JSON.parse(data) as Record<string, unknown>;
    return "id" in event && ("result" in event || "error" in event);
  } catch {
    return false;
  }
}

/** Whether a POST holds a tool call with a progress token. */
function asksForProgress(message: JSONRPCMessage): boolean {
  return "method" in message && message.method === "tools/call" && message.params?._meta?.progressToken !== undefined;
}

/** DELETE /mcp: the session ends; its ephemeral clients leave the bus, persistent ones stay. */
async function closeSession(services: GatewayServices, sessionId: string, userId: string) {
  const record = await services.sessions.get(userId, sessionId);
  for (const uuid of record?.client_uuids ?? []) {
    const client = await services.registry.get(userId, uuid);
    if (client && !client.is_persistent) await services.registry.unregister(userId, uuid);
  }
  await services.sessions.delete(userId, sessionId);
}
