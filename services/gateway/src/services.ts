/** Everything a gateway replica shares across requests: NATS and the views of its buckets. */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  ArtifactStore,
  BlendStore,
  ClientRegistry,
  JobReaper,
  JobStore,
  RequestLedger,
  SessionStore,
  WorkStream,
  connectToFabric,
  openFabricBuckets,
} from "@blender-fabric/bus";
import type { GatewayEnv } from "./env.js";
import { CallCancellations } from "./delivery/call-cancellations.js";

export type GatewayServices = {
  nc: NatsConnection;
  registry: ClientRegistry;
  sessions: SessionStore;
  jobs: JobStore;
  requests: RequestLedger;
  work: WorkStream;
  artifacts: ArtifactStore;
  blends: BlendStore;
  /** Running calls a client may cancel from any replica. */
  cancellations: CallCancellations;
  close(): Promise<void>;
};

export async function openGatewayServices(env: GatewayEnv): Promise<GatewayServices> {
  const nc = await connectToFabric({
    servers: env.FABRIC_NATS_URL.split(",").map((url) => url.trim()),
    name: env.FABRIC_GATEWAY_NAME,
    credentials: { nkeySeedFile: env.FABRIC_NATS_NKEY, credsFile: env.FABRIC_NATS_CREDS },
  });
  const buckets = await openFabricBuckets(nc, env.FABRIC_KV_REPLICAS, ["clients", "sessions", "jobs", "requests", "projects"]);
  const [registry, sessions, artifacts, blends, work] = await Promise.all([
    ClientRegistry.open(buckets.clients, {
      staleAfterSeconds: env.FABRIC_STALE_AFTER_SECONDS,
      evictAfterSeconds: env.FABRIC_EVICT_AFTER_SECONDS,
    }),
    SessionStore.open(buckets.sessions, env.FABRIC_SESSION_IDLE_SECONDS),
    ArtifactStore.open(nc, env.FABRIC_KV_REPLICAS),
    BlendStore.open(nc, env.FABRIC_KV_REPLICAS),
    WorkStream.open(nc, env.FABRIC_KV_REPLICAS),
  ]);
  const jobs = new JobStore(buckets.jobs, nc);
  const reaper = await JobReaper.start(buckets.jobs, jobs, registry);
  const cancellations = new CallCancellations(nc);
  return {
    nc,
    registry,
    sessions,
    jobs,
    requests: new RequestLedger(buckets.requests),
    work,
    artifacts,
    blends,
    cancellations,
    async close() {
      cancellations.stop();
      reaper.stop();
      registry.stop();
      sessions.stop();
      await nc.drain();
    },
  };
}
