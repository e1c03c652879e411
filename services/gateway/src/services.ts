/** Everything a gateway replica shares across requests: NATS and the views of its buckets. */
import type { NatsConnection } from "@nats-io/transport-node";
import { ArtifactStore, BlendStore, ClientRegistry, InboxStore, SessionStore, WorkStream, connectToFabric, openFabricBuckets } from "@blender-fabric/bus";
import { FarmTally, JobEngine, PreviewVideos, JobReaper, JobStore, PeerApiServer, RequestLedger } from "@blender-fabric/engine";
import type { GatewayEnv } from "./env.js";
import { CallCancellations } from "./delivery/call-cancellations.js";
import { ListenStreams } from "./mcp/stateless/listen-stream.js";

export type GatewayServices = {
  nc: NatsConnection;
  registry: ClientRegistry;
  sessions: SessionStore;
  jobs: JobStore;
  /** Which job or answer each request id became (one per request id). */
  requests: RequestLedger;
  /** Starts jobs: request ids, the work quota, the target, record then queue. */
  engine: JobEngine;
  /** Settles abandoned jobs; also counts each user's unfinished jobs (the work quota). */
  reaper: JobReaper;
  /** Farm jobs' tasks and attempts in memory, fed by the reaper's watch (progress without a read per task). */
  tally: FarmTally;
  work: WorkStream;
  artifacts: ArtifactStore;
  blends: BlendStore;
  /** Every client's durable inbox (a view of the bus messages nats-server keeps). */
  inbox: InboxStore;
  /** Running calls a client may cancel from any replica. */
  cancellations: CallCancellations;
  /** The 2026 clients' `subscriptions/listen` streams this replica holds. */
  listens: ListenStreams;
  close(): Promise<void>;
};

/** Where the peer API logs what it refuses. */
type ServicesLogger = { warn(details: object, message: string): void; debug(details: object, message: string): void };

const quietLogger: ServicesLogger = { warn() {}, debug() {} };

export async function openGatewayServices(env: GatewayEnv, logger: ServicesLogger = quietLogger): Promise<GatewayServices> {
  const nc = await connectToFabric({
    servers: env.FABRIC_NATS_URL.split(",").map((url) => url.trim()),
    name: env.FABRIC_GATEWAY_NAME,
    credentials: { nkeySeedFile: env.FABRIC_NATS_NKEY, credsFile: env.FABRIC_NATS_CREDS },
  });
  const buckets = await openFabricBuckets(nc, env.FABRIC_KV_REPLICAS, ["clients", "sessions", "jobs", "requests", "projects"]);
  const [registry, sessions, artifacts, blends, work, inbox] = await Promise.all([
    ClientRegistry.open(buckets.clients, {
      staleAfterSeconds: env.FABRIC_STALE_AFTER_SECONDS,
      evictAfterSeconds: env.FABRIC_EVICT_AFTER_SECONDS,
    }),
    SessionStore.open(buckets.sessions, { idleLimitSeconds: env.FABRIC_SESSION_IDLE_SECONDS, keep: env.FABRIC_SESSIONS_HELD }),
    ArtifactStore.open(nc, env.FABRIC_KV_REPLICAS),
    BlendStore.open(nc, env.FABRIC_KV_REPLICAS),
    WorkStream.open(nc, env.FABRIC_KV_REPLICAS),
    InboxStore.open(nc, env.FABRIC_KV_REPLICAS),
  ]);
  const jobs = new JobStore(buckets.jobs, nc);
  const tally = new FarmTally();
  const reaper = await JobReaper.start(buckets.jobs, jobs, registry, env.FABRIC_FINISHED_JOB_RETENTION_SECONDS, tally);
  reaper.makeVideosWith(new PreviewVideos(jobs, artifacts));
  const cancellations = new CallCancellations(nc);
  // As many listen streams per user as live sessions: each is what a 2025 GET stream was.
  const listens = new ListenStreams(env.FABRIC_MAX_SESSIONS_PER_USER);
  // Every replica serves the peer API: the bridges' only way to the fabric's state.
  const peerApi = PeerApiServer.start(
    { nc, registry, jobs, work, artifacts, blends, projects: buckets.projects, quotas: { maxUploadBytes: env.FABRIC_MAX_BLEND_BYTES, maxArtifactBytes: env.FABRIC_TENANT_ARTIFACT_BYTES, maxBlendBytes: env.FABRIC_TENANT_BLEND_BYTES } },
    logger,
  );
  const requests = new RequestLedger(buckets.requests);
  const engine = new JobEngine(
    { jobs, requests, registry, work, reaper, artifacts },
    { maxUnfinishedJobs: env.FABRIC_MAX_UNFINISHED_JOBS },
  );
  return {
    nc,
    registry,
    sessions,
    jobs,
    requests,
    engine,
    reaper,
    tally,
    work,
    artifacts,
    blends,
    inbox,
    cancellations,
    listens,
    async close() {
      // Each listen stream ends with its result, so its client listens again elsewhere.
      listens.endAll();
      cancellations.stop();
      peerApi.stop();
      reaper.stop();
      registry.stop();
      sessions.stop();
      await nc.drain();
    },
  };
}
