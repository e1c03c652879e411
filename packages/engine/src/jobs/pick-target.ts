/**
 * Which Blender peer a dispatch tool talks to (seed 001): the named uuid, `latest` (the most
 * recently connected live peer), `pid:<n>`, or, when nothing is named, the only live peer.
 * Stale peers are skipped by every automatic choice but stay reachable by explicit uuid, and
 * so are peers of a project: they hold their project's scene (address them as `project:<id>`).
 */
import type { ClientRecord } from "@blender-fabric/protocol";
import type { ClientRegistry } from "@blender-fabric/bus";

/** Client type of Blender peers. */
export const BLENDER_CLIENT_TYPE = "blender";

export type TargetRefusal =
  | { status: "no_client"; error: string }
  | { status: "unknown_target"; error: string; target_uuid: string }
  | { status: "ambiguous_target"; error: string; candidates: Candidate[] }
  | { status: "quota_exceeded"; error: string };

type Candidate = { uuid: string; label: string; group_id: string | null; pid?: number; capabilities: string[] };

const asCandidate = (client: ClientRecord): Candidate => ({
  uuid: client.uuid,
  label: client.label,
  group_id: client.group_id,
  pid: client.pid,
  capabilities: client.capabilities,
});

export async function pickTarget(
  registry: ClientRegistry,
  userId: string,
  selector: string | null,
): Promise<ClientRecord | TargetRefusal> {
  const named = selector && selector !== "latest" && !selector.startsWith("pid:") ? selector : undefined;
  // A named peer this replica already knows needs no wait for writes in flight elsewhere.
  const known = named ? registry.cached(userId, named) : undefined;
  if (known) return known;
  const clients = await registry.list(userId);
  const live = clients.filter((client) => client.client_type === BLENDER_CLIENT_TYPE && !client.project_id && !registry.isStale(client));
  if (named) {
    const registered = clients.find((client) => client.uuid === named);
    if (registered) return registered;
    return {
      status: "unknown_target",
      target_uuid: named,
      error: `No client ${named} on this bus. Call blender_list_available_clients to see who is there.`,
    };
  }
  if (live.length === 0) {
    return { status: "no_client", error: "No live Blender peer is registered on this bus. Start a bridge." };
  }
  if (selector === "latest") {
    return [...live].sort((a, b) => b.connected_at - a.connected_at)[0]!;
  }
  const matches = selector ? live.filter((client) => `pid:${client.pid}` === selector) : live;
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    return { status: "unknown_target", target_uuid: selector!, error: `No live Blender peer with ${selector}.` };
  }
  return {
    status: "ambiguous_target",
    error: "Several Blender peers are live; pass target_uuid (a uuid, 'latest' or 'pid:<n>').",
    candidates: matches.map(asCandidate),
  };
}

export const isRefusal = <Picked extends object>(target: Picked | TargetRefusal): target is TargetRefusal => "status" in target;
