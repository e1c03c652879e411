/**
 * Checks common to the dispatch and job tools: the bus named by `bus_id` must be the
 * caller's own (`not_a_member`), and a token minted for a Blender peer does not dispatch
 * work (`wrong_role`).
 */
import type { ToolContext } from "../mcp/tool-context.js";

export function refuseCaller(context: ToolContext, busId: string | null) {
  if (busId !== null && busId !== context.identity.userId) {
    return { status: "not_a_member", error: `You are not a member of bus ${busId}; your bus is ${context.identity.userId}.` };
  }
  if (context.identity.role === "blender-client") {
    return { status: "wrong_role", error: "This tool is for LLM clients; the token's role is blender-client." };
  }
  return undefined;
}
