/**
 * A project's lease (project-lease.ts), kept in KV `fabric_projects` by the trusted tier: the
 * peer asks for the few key operations the lease needs, on its own tenant's project key only,
 * and whatever it writes names the calling peer and boot, never anyone else.
 */
import { keyForProject, type PeerRequest } from "@blender-fabric/protocol";
import type { PeerApiContext } from "./context.js";

/** A project's lease as stored: its revision and value (null once deleted), or null when never taken. */
export async function readLease(context: PeerApiContext, projectId: string): Promise<{ revision: number; value: unknown } | null> {
  const entry = await context.stores.projects.get(keyForProject(context.userId, projectId));
  if (!entry) return null;
  let value: unknown;
  try {
    value = entry.operation === "PUT" ? entry.json() : undefined;
  } catch {
    value = undefined;
  }
  return { revision: entry.revision, value: value ?? null };
}

export async function lease(context: PeerApiContext, request: PeerRequest<"lease">) {
  const { projects } = context.stores;
  const key = keyForProject(context.userId, request.project_id);
  const mine = JSON.stringify({ holder_uuid: context.peerUuid, incarnation: request.incarnation });
  switch (request.action) {
    case "get":
      return { entry: await readLease(context, request.project_id) };
    case "create":
      return { revision: await projects.create(key, mine) };
    case "update":
      return { revision: await projects.update(key, mine, request.revision ?? 0) };
    case "delete":
      await projects.delete(key, { previousSeq: request.revision ?? 0 });
      return {};
  }
}
