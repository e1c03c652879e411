/**
 * The fabric's JetStream KV buckets, each defined once here. Every service binds with the
 * same definition, so no service's boot order decides a bucket's retention (JetStream binds
 * an existing bucket silently, whatever configuration the binder asked for).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV, type KvOptions } from "@nats-io/kv";
import { BucketName, REQUEST_ID_RETENTION_SECONDS } from "@blender-fabric/protocol";
import { retryJetStream } from "./kv-update.js";

/** How long job records, session records and idempotency keys live after their last write. ms */
export const RECORD_RETENTION_MS = 24 * 60 * 60 * 1000;

const MiB = 1024 * 1024;

/**
 * Every bucket has a byte limit: the backstop behind the tenant quotas and the reaper's
 * retention (job-reaper.ts), so no traffic can grow the store without bound. A full bucket
 * refuses new writes (the caller gets an error); nothing stored is dropped. nats-server
 * reserves a stream's byte limit against its whole store when the stream is made, so these
 * (with FABRIC_WORK's, about 2.3 GiB in all) need that much room in the server's store.
 */
const BUCKETS = {
  clients: { name: BucketName.Clients, options: { history: 1, max_bytes: 64 * MiB } },
  // Idle sessions leave earlier through SessionStore's idle limit; this is the backstop.
  sessions: { name: BucketName.Sessions, options: { history: 1, ttl: RECORD_RETENTION_MS, max_bytes: 128 * MiB } },
  jobs: { name: BucketName.Jobs, options: { history: 1, ttl: RECORD_RETENTION_MS, max_bytes: 1024 * MiB } },
  requests: { name: BucketName.Requests, options: { history: 1, ttl: REQUEST_ID_RETENTION_SECONDS * 1000, max_bytes: 128 * MiB } },
  projects: { name: BucketName.Projects, options: { history: 1, max_bytes: 16 * MiB } },
} as const satisfies Record<string, { name: string; options: Partial<KvOptions> }>;

export type FabricBucketName = keyof typeof BUCKETS;
export type FabricBuckets = Record<FabricBucketName, KV>;

/** JetStream API request timeout. ms */
export const JETSTREAM_API_TIMEOUT_MS = 2_000;

/** How long a booting service keeps trying to bind its buckets. ms */
export const BIND_DEADLINE_MS = 120_000;

/**
 * Creates or binds the named buckets. `replicas`: 1 for a single server, 3 for a production
 * cluster. Retries while JetStream is unavailable (e.g. a cluster still electing leaders).
 */
export function openFabricBuckets<Name extends FabricBucketName>(
  nc: NatsConnection,
  replicas: number,
  names: readonly Name[],
): Promise<Pick<FabricBuckets, Name>> {
  return retryJetStream(
    "bind the fabric buckets",
    async () => {
      // A 2 s API timeout (not 5 s) lets retries find a newly elected stream leader sooner.
      const kvm = new Kvm(await jetstream(nc, { timeout: JETSTREAM_API_TIMEOUT_MS }));
      const opened = await Promise.all(
        names.map((name) => kvm.create(BUCKETS[name].name, { ...BUCKETS[name].options, replicas })),
      );
      return Object.fromEntries(names.map((name, index) => [name, opened[index]])) as Pick<FabricBuckets, Name>;
    },
    BIND_DEADLINE_MS,
  );
}
