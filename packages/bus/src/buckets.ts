/** Creates (or binds to) the fabric's JetStream buckets. */
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { BucketName } from "@blender-fabric/protocol";

export type FabricBuckets = { clients: KV; sessions: KV; jobs: KV };

export type BucketOptions = {
  /** JetStream replicas per bucket: 1 for a single server, 3 for a production cluster. */
  replicas: number;
  /** How long a job record lives after its last update. */
  jobRetentionMs: number;
  /** How long an idle MCP session record lives after its last touch. */
  sessionRetentionMs: number;
};

export const DEFAULT_BUCKET_OPTIONS: BucketOptions = {
  replicas: 1,
  jobRetentionMs: 24 * 60 * 60 * 1000,
  sessionRetentionMs: 24 * 60 * 60 * 1000,
};

/** Every replica calls this at boot; creating an existing bucket with the same config binds to it. */
export async function openFabricBuckets(
  nc: NatsConnection,
  options: BucketOptions = DEFAULT_BUCKET_OPTIONS,
): Promise<FabricBuckets> {
  const kvm = new Kvm(nc);
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
