/**
 * A project's lease (project-lease.ts), kept in KV `fabric_projects` by the trusted tier: the
 * peer asks for the few key operations the lease needs, on its own tenant's project key only,
 * and whatever it writes names the calling peer and boot, never anyone else.
 */
import { keyForProject, type PeerRequest } from "@blender-fabric/protocol";
import type { PeerApiContext } from "./context.js";

export async function lease(context: PeerApiContext, request: PeerRequest<"lease">) {
  const { projects } = context.stores;
  const key = keyForProject(context.userId, request.project_id);
  const mine = JSON.stringify({ holder_uuid: context.peerUuid, incarnation: request.incarnation });
  switch (request.action) {
    case "get": {
      const entry = await projects.get(key);
      if (!entry) return { entry: null };
      let value: unknown;
      try {
        value = entry.operation === "PUT" ? entry.json() : undefined;
      } catch {
        value = undefined;
      }
      return { entry: { revision: entry.revision, value: value ?? null } };
    }
    case "create":
      return { revision: await projects.create(key, mine) };
    case "update":
      return { revision: await projects.update(key, mine, request.revision ?? 0) };
    case "delete":
      await projects.delete(key, { previousSeq: request.revision ?? 0 });
      return {};
  }
}
