/** What a tool handler knows about the call it serves. */
import type { VerifiedIdentity } from "@blender-fabric/auth";
import { epochSeconds, type SessionRecord } from "@blender-fabric/protocol";
import type { GatewayServices } from "../services.js";
import type { GatewayEnv } from "../env.js";

export type ToolContext = {
  services: GatewayServices;
  env: GatewayEnv;
  identity: VerifiedIdentity;
  /**
   * The MCP session of a 2025-generation call; null for a 2026-07-28 call, which has none
   * (its clients are named by uuid and read their inbox instead of a session stream).
   */
  sessionId: string | null;
  session: SessionRecord;
  /** Reports the call's progress (0..1) to a client that asked for it with a progress token. */
  progress?: (fraction: number, message: string) => void;
  /** Aborted when the client cancels the call (`notifications/cancelled`, on any replica). */
  signal?: AbortSignal;
};

/** A call of a 2025-generation session. */
export type SessionToolContext = ToolContext & { sessionId: string };

/**
 * A context with no MCP session behind it (a 2026-07-28 call, the dashboard): tools that read
 * the session find one with no clients; `generation` says who is calling.
 */
export function sessionlessContext(services: GatewayServices, env: GatewayEnv, identity: VerifiedIdentity, generation: string, sessionId: string | null = null): ToolContext {
  const now = epochSeconds();
  const session: SessionRecord = { user_id: identity.userId, client_uuids: [], log_level: "info", protocol_version: generation, created_at: now, last_seen: now };
  return { services, env, identity, sessionId, session };
}
