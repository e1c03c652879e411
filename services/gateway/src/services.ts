/** Everything a gateway replica shares across requests: NATS and the views of its buckets. */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  ArtifactStore,
  ClientRegistry,
  JobStore,
  SessionStore,
  connectToFabric,
  openFabricBuckets,
} from "@blender-fabric/bus";
import type { GatewayEnv } from "./env.js";

export type GatewayServices = {
  nc: NatsConnection;
  registry: ClientRegistry;
  sessions: SessionStore;
  jobs: JobStore;
  artifacts: ArtifactStore;
  close(): Promise<void>;
};

export async function openGatewayServices(env: GatewayEnv): Promise<GatewayServices> {
  const nc = await connectToFabric({
    servers: env.FABRIC_NATS_URL.split(",").map((url) => url.trim()),
    name: env.FABRIC_GATEWAY_NAME,
  });
  const buckets = await openFabricBuckets(nc, {
    replicas: env.FABRIC_KV_REPLICAS,
    jobRetentionMs: 24 * 3600 * 1000,
    sessionRetentionMs: env.FABRIC_SESSION_IDLE_SECONDS * 1000,
  });
  const [registry, sessions, artifacts] = await Promise.all([
    ClientRegistry.open(buckets.clients, {
      staleAfterSeconds: env.FABRIC_STALE_AFTER_SECONDS,
      evictAfterSeconds: env.FABRIC_EVICT_AFTER_SECONDS,
    }),
    SessionStore.open(buckets.sessions, env.FABRIC_SESSION_IDLE_SECONDS),
    ArtifactStore.open(nc, env.FABRIC_KV_REPLICAS),
  ]);
  return {
    nc,
    registry,
    sessions,
    jobs: new JobStore(buckets.jobs),
    artifacts,
    async close() {
      registry.stop();
      sessions.stop();
      await nc.drain();
    },
  };
}
