/**
 * What every peer API handler gets: who asks (tenant and peer, from the request's subject,
 * never from its body), the trusted tier's stores, and the boot check.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import type { ArtifactStore, BlendStore, ClientRegistry, PeerLanes, WorkStream } from "@blender-fabric/bus";
import type { JobStore } from "../jobs/job-store.js";
import { PeerApiErrorCode, type ClientRecord } from "@blender-fabric/protocol";
import { PeerApiError } from "./errors.js";
import type { TenantQuotas } from "../quotas.js";

export type PeerApiStores = {
  nc: NatsConnection;
  registry: ClientRegistry;
  jobs: JobStore;
  work: WorkStream;
  artifacts: ArtifactStore;
  blends: BlendStore;
  projects: KV;
  quotas: TenantQuotas;
};

export type PeerCaller = { userId: string; peerUuid: string };

export type PeerApiContext = PeerCaller & { stores: PeerApiStores };

/**
 * The registered record of the calling boot. Refused when another boot registered since (or
 * none did): a paused bridge that wakes up after its successor took over may not touch work.
 * The in-memory mirror answers at once; only a miss asks KV (a registration may be newer
 * than the mirror).
 */
export async function requireBoot(context: PeerApiContext, incarnation: string): Promise<ClientRecord> {
  const { registry } = context.stores;
  let record = registry.cached(context.userId, context.peerUuid);
  if (record?.incarnation !== incarnation) record = await registry.get(context.userId, context.peerUuid);
  if (!record) throw new PeerApiError(PeerApiErrorCode.StaleIncarnation, `peer ${context.peerUuid} is not registered`);
  if (record.incarnation !== incarnation) {
    throw new PeerApiError(PeerApiErrorCode.StaleIncarnation, `boot ${incarnation} of ${context.peerUuid} was replaced by ${record.incarnation ?? "another"}`);
  }
  return record;
}

/** The consumers a registered peer takes work from. */
export const lanesOf = (record: ClientRecord): PeerLanes => ({
  peerUuid: record.uuid,
  projectId: record.project_id ?? null,
  groupId: record.group_id,
  farmWorker: record.farm_worker ?? false,
});
