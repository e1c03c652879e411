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
};
