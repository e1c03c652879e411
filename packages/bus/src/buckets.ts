/** Creates (or binds to) the fabric's JetStream buckets. */
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { BucketName } from "@blender-fabric/protocol";
import { retryJetStream } from "./kv-update.js";

export type FabricBuckets = { clients: KV; sessions: KV; jobs: KV };

export type BucketOptions = {
  /** JetStream replicas per bucket: 1 for a single server, 3 for a production cluster. */
  replicas: number;
  /** How long a job record lives after its last update. */
  jobRetentionMs: number;
  /** How long an idle MCP session record lives after its last touch. */
  sessionRetentionMs: number;
};

/** JetStream API request timeout. ms */
const JETSTREAM_API_TIMEOUT_MS = 2_000;

export const DEFAULT_BUCKET_OPTIONS: BucketOptions = {
  replicas: 1,
  jobRetentionMs: 24 * 60 * 60 * 1000,
  sessionRetentionMs: 24 * 60 * 60 * 1000,
};

/** How long a booting service keeps trying to bind its buckets. ms */
const BIND_DEADLINE_MS = 120_000;

/**
 * Every replica calls this at boot; creating an existing bucket with the same config binds
 * to it. Retries while JetStream is unavailable (e.g. a cluster still electing leaders).
 */
export function openFabricBuckets(
  nc: NatsConnection,
  options: BucketOptions = DEFAULT_BUCKET_OPTIONS,
): Promise<FabricBuckets> {
  return retryJetStream("bind the fabric buckets", () => createBuckets(nc, options), BIND_DEADLINE_MS);
}

async function createBuckets(
  nc: NatsConnection,
  options: BucketOptions = DEFAULT_BUCKET_OPTIONS,
): Promise<FabricBuckets> {
  // A 2 s API timeout (not 5 s) lets retries find a newly elected stream leader sooner.
  const kvm = new Kvm(await jetstream(nc, { timeout: JETSTREAM_API_TIMEOUT_MS }));
  const [clients, sessions, jobs] = await Promise.all([
    kvm.create(BucketName.Clients, { replicas: options.replicas, history: 1 }),
    kvm.create(BucketName.Sessions, {
      replicas: options.replicas,
      history: 1,
      ttl: options.sessionRetentionMs,
    }),
    kvm.create(BucketName.Jobs, {
      replicas: options.replicas,
      history: 1,
      ttl: options.jobRetentionMs,
    }),
  ]);
  return { clients, sessions, jobs };
}
