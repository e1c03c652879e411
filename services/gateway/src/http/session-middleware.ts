/**
 * MCP sessions without sticky routing. `initialize` creates a session record in KV and the
 * response carries its `Mcp-Session-Id`; every later request, on any replica, is checked
 * against KV: missing id 400, unknown id (or another user's) 404, a user over a session
 * quota 429. The body was parsed by the generation router (mcp-generations.ts).
 */
import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { epochSeconds, type SessionRecord } from "@blender-fabric/protocol";
import type { SessionQuotas, SessionStore } from "@blender-fabric/bus";
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

/** What each session quota says when exceeded (429). */
const QUOTA_MESSAGES: Record<keyof SessionQuotas, (limit: number) => string> = {
  FABRIC_MAX_SESSIONS_PER_USER: (limit) => `(${limit} live sessions); end one (DELETE /mcp) or wait until one is idle`,
  FABRIC_SESSIONS_PER_MINUTE: (limit) => `(${limit} new sessions a minute)`,
};

export function createSessionMiddleware(
  sessions: SessionStore,
  quotas: SessionQuotas,
): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function resolveSession(c, next) {
    const identity = c.get("identity");
    if (c.req.method === "POST") {
      const body = c.get("body");
      const initialize = findInitialize(body);
      if (initialize) {
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
        const begun = await sessions.begin(id, record, quotas);
        if (!begun.begun) {
          const limit = quotas[begun.exceeded];
          throw new McpHttpError(429, `quota_exceeded: ${begun.exceeded} ${QUOTA_MESSAGES[begun.exceeded](limit)}`);
        }
        c.set("session", { id, record });
        await next();
        c.res.headers.set(SESSION_HEADER, id);
        return;
      }
    }
    const id = c.req.header(SESSION_HEADER);
    if (!id) throw new McpHttpError(400, "Bad Request: Mcp-Session-Id header is required");
    // Sessions are stored under their user: another user's session id is not found (404).
    const record = await sessions.get(identity.userId, id);
    if (!record) throw new McpHttpError(404, "Session not found", JsonRpcCode.Unauthorized);
    c.set("session", { id, record });
    await sessions.touch(identity.userId, id, record);
    await next();
  };
}
