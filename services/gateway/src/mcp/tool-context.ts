/** What a tool handler knows about the call it serves. */
import type { VerifiedIdentity } from "@blender-fabric/auth";
import type { SessionRecord } from "@blender-fabric/protocol";
import type { GatewayServices } from "../services.js";
import type { GatewayEnv } from "../env.js";

export type ToolContext = {
  services: GatewayServices;
  env: GatewayEnv;
  identity: VerifiedIdentity;
  sessionId: string;
  session: SessionRecord;
  /** Reports the call's progress (0..1) to a client that asked for it with a progress token. */
  progress?: (fraction: number, message: string) => void;
  /** Aborted when the client cancels the call (`notifications/cancelled`, on any replica). */
  signal?: AbortSignal;
};
