/**
 * A project's lease (project-lease.ts), kept in KV `fabric_projects` by the trusted tier: the
 * peer asks for the few key operations the lease needs, on its own tenant's project key only,
 * and whatever it writes names the calling peer and boot, never anyone else.
 *
 * The lease also records the holder's request inbox (the reply subject of its last lease
 * call, always within its own inbox prefix: server.ts checks). A `get` by another peer asks
 * that inbox whether anyone still listens: nats-server answers "no responders" at once for a
 * connection that is gone (a killed bridge), so its successor takes the project over in a
 * moment instead of after the lease's stale time. A live holder's client ignores the probe,
 * which then times out: alive.
 */
import { RequestError } from "@nats-io/transport-node";
import { keyForProject, type PeerRequest } from "@blender-fabric/protocol";
import type { PeerApiContext } from "./context.js";

/** How long a probe of the holder's inbox waits before it counts the holder as alive. ms */
const HOLDER_PROBE_MS = 300;

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

/** The request inbox a reply subject belongs to: `<inbox prefix>.<client id>` without the request's token. */
const inboxOf = (reply: string) => reply.slice(0, reply.lastIndexOf("."));

/** True when nobody listens on the holder's inbox any more (its connection is gone). */
async function holderGone(context: PeerApiContext, value: unknown, incarnation: string): Promise<boolean> {
  const holder = value as { incarnation?: unknown; inbox?: unknown } | null;
  if (!holder || holder.incarnation === incarnation || typeof holder.inbox !== "string") return false;
  try {
    await context.stores.nc.request(`${holder.inbox}.alive`, "", { timeout: HOLDER_PROBE_MS });
    return false;
  } catch (error) {
    return error instanceof RequestError && error.isNoResponders();
  }
}

export async function lease(context: PeerApiContext, request: PeerRequest<"lease">, reply: string) {
  const { projects } = context.stores;
  const key = keyForProject(context.userId, request.project_id);
  const mine = JSON.stringify({ holder_uuid: context.peerUuid, incarnation: request.incarnation, inbox: inboxOf(reply) });
  switch (request.action) {
    case "get": {
      const entry = await readLease(context, request.project_id);
      return { entry, holder_gone: entry ? await holderGone(context, entry.value, request.incarnation) : false };
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
