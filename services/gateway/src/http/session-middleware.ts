/**
 * MCP sessions without sticky routing. `initialize` creates a session record in KV and the
 * response carries its `Mcp-Session-Id`; every later request, on any replica, is checked
 * against KV: missing id 400, unknown id 404, another user's session 403.
 */
import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { epochSeconds, type SessionRecord } from "@blender-fabric/protocol";
import type { SessionStore } from "@blender-fabric/bus";
import type { AuthVariables } from "./auth-middleware.js";
import { JsonRpcCode, McpHttpError } from "./errors.js";

export type SessionVariables = AuthVariables & {
  session: { id: string; record: SessionRecord };
  /** The parsed JSON-RPC body of a POST, handed to the transport as `parsedBody`. */
  body: unknown;
};

const SESSION_HEADER = "mcp-session-id";

type InitializeMessage = { method: "initialize"; params?: { protocolVersion?: string } };

function findInitialize(body: unknown): InitializeMessage | undefined {
  const messages = Array.isArray(body) ? body : [body];
  return messages.find(
    (message): message is InitializeMessage =>
      typeof message === "object" && message !== null && message.method === "initialize",
  );
}

/** Per-user limits on MCP sessions (quotas); exceeding one answers 429 naming it. */
export type SessionQuotas = {
  /** Live sessions one user may hold. */
  maxPerUser: number;
  /** Sessions one user may begin per minute. */
  maxPerMinute: number;
};

function refuseOverQuota(sessions: SessionStore, userId: string, quotas: SessionQuotas): void {
  const { live, recent } = sessions.usageOf(userId, 60);
  if (live >= quotas.maxPerUser) {
    throw new McpHttpError(429, `quota_exceeded: FABRIC_MAX_SESSIONS_PER_USER (${quotas.maxPerUser} live sessions); end one (DELETE /mcp) or wait until one is idle`);
  }
  if (recent >= quotas.maxPerMinute) {
    throw new McpHttpError(429, `quota_exceeded: FABRIC_SESSIONS_PER_MINUTE (${quotas.maxPerMinute} new sessions a minute)`);
  }
}

export function createSessionMiddleware(
  sessions: SessionStore,
  quotas: SessionQuotas,
): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function resolveSession(c, next) {
    const identity = c.get("identity");
    if (c.req.method === "POST") {
      const body: unknown = await c.req.json().catch(() => {
        throw new McpHttpError(400, "Parse error: the body is not JSON", JsonRpcCode.ParseError);
      });
      c.set("body", body);
      const initialize = findInitialize(body);
      if (initialize) {
        refuseOverQuota(sessions, identity.userId, quotas);
        const id = randomUUID();
        const now = epochSeconds();
        const record: SessionRecord = {
          user_id: identity.userId,
          client_uuids: [],
          log_level: "debug",
          protocol_version: initialize.params?.protocolVersion ?? LATEST_PROTOCOL_VERSION,
          created_at: now,
          last_seen: now,
        };
        await sessions.create(id, record);
        c.set("session", { id, record });
        await next();
        c.res.headers.set(SESSION_HEADER, id);
        return;
      }
    }
    const id = c.req.header(SESSION_HEADER);
    if (!id) throw new McpHttpError(400, "Bad Request: Mcp-Session-Id header is required");
    const record = await sessions.get(id);
    if (!record) throw new McpHttpError(404, "Session not found", JsonRpcCode.Unauthorized);
    if (record.user_id !== identity.userId) {
      throw new McpHttpError(403, "Forbidden: the session belongs to another user");
    }
    c.set("session", { id, record });
    await sessions.touch(id, record);
    await next();
  };
}
