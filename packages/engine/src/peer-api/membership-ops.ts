/** A peer joins, stays and leaves the registry through these; it names only itself. */
import { PeerApiErrorCode, type PeerRequest } from "@blender-fabric/protocol";
import { PeerApiError } from "./errors.js";
import { lanesOf, requireBoot, type PeerApiContext } from "./context.js";

/**
 * Registers (or updates) the calling peer with its boot's incarnation. A peer is always
 * persistent: it stays listed until it leaves or goes stale.
 */
export async function register(context: PeerApiContext, request: PeerRequest<"register">) {
  const client = await context.stores.registry.register(context.userId, {
    ...request.registration,
    uuid: context.peerUuid,
    client_type: request.registration.client_type ?? "blender",
    is_persistent: true,
    incarnation: request.incarnation,
  });
  return { client };
}

/** Marks the boot alive; `alive: false` tells a peer that was evicted to register again. */
export async function heartbeat(context: PeerApiContext, request: PeerRequest<"heartbeat">) {
  const { registry } = context.stores;
  const current = registry.cached(context.userId, context.peerUuid) ?? (await registry.get(context.userId, context.peerUuid));
  if (!current) return { alive: false };
  if (current.incarnation !== request.incarnation) throw new PeerApiError(PeerApiErrorCode.StaleIncarnation, "another boot of this peer registered since");
  const record = await registry.heartbeat(context.userId, context.peerUuid, { health: request.health });
  return { alive: record !== undefined };
}

/**
 * Leaves for good (scale to zero): the registry forgets the peer and its own consumer goes,
 * so whatever the server sent to its last pull is free for the next peer at once.
 */
export async function leave(context: PeerApiContext, request: PeerRequest<"leave">) {
  const record = await requireBoot(context, request.incarnation);
  const { registry, work } = context.stores;
  await registry.unregister(context.userId, context.peerUuid);
  await work.removeOwnConsumer(context.userId, lanesOf(record), "peer");
  return {};
}
