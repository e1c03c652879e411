/** Boots the peer pool: Blender peers started on demand, scaled to zero when idle (seed 004). */
import { jetstreamManager } from "@nats-io/jetstream";
import { ClientRegistry, JETSTREAM_API_TIMEOUT_MS, WorkStream, connectToFabric, openFabricBuckets } from "@blender-fabric/bus";
import { JobStore } from "@blender-fabric/engine";
import { readPoolEnv } from "./env.js";
import { createLogger } from "./logger.js";
import { LaunchedPeers } from "./launched-peers.js";
import { cleanUpAfterCrash } from "./crash-cleanup.js";
import { ProcessLauncher } from "./process-launcher.js";
import { KnativeWaker } from "./knative-waker.js";
import { Pool } from "./pool.js";
import { startHealthEndpoint } from "@blender-fabric/supervisor";

const env = readPoolEnv();
const logger = createLogger("pool", env.FABRIC_LOG_LEVEL);
const nc = await connectToFabric({
  servers: env.FABRIC_NATS_URL,
  name: "pool",
  credentials: { nkeySeedFile: env.FABRIC_NATS_NKEY, credsFile: env.FABRIC_NATS_CREDS },
});
const buckets = await openFabricBuckets(nc, env.FABRIC_KV_REPLICAS, ["clients", "jobs"]);
// The stream exists before the first look at its subjects.
await WorkStream.open(nc, env.FABRIC_KV_REPLICAS);
const registry = await ClientRegistry.open(buckets.clients, { staleAfterSeconds: env.FABRIC_STALE_AFTER_SECONDS, evictAfterSeconds: 3600 });
const record = new LaunchedPeers(env.FABRIC_POOL_STATE_DIR);
await cleanUpAfterCrash(record, buckets.clients, logger);

const launcher = env.FABRIC_POOL_LAUNCHER === "process" ? new ProcessLauncher(env, logger, record) : undefined;
const waker = env.FABRIC_POOL_LAUNCHER === "knative" ? new KnativeWaker(env.FABRIC_POOL_KNATIVE_URL, logger) : undefined;
const pool = new Pool({ env, nc, jsm: await jetstreamManager(nc, { timeout: JETSTREAM_API_TIMEOUT_MS }), registry, jobs: new JobStore(buckets.jobs, nc), logger, launcher, waker });
pool.start();

const peers = () =>
  (launcher?.peers() ?? []).map(({ spec, bridge }) => ({
    uuid: spec.uuid,
    user: spec.userId,
    purpose: spec.purpose,
    state: bridge ? "running" : "starting",
    pid: bridge?.pid ?? null,
    blender_pid: bridge?.blenderPid() ?? null,
  }));
const health = env.FABRIC_HEALTH_PORT
  ? // /readyz lists the pool's peers, and is 200 once its warm peers run.
    await startHealthEndpoint(env.FABRIC_HEALTH_HOST, env.FABRIC_HEALTH_PORT, () => {
      const running = peers();
      const warmUp = running.filter((peer) => peer.purpose.startsWith("warm:") && peer.state === "running").length;
      return { ready: launcher ? warmUp >= Math.min(env.FABRIC_POOL_WARM, env.FABRIC_POOL_MAX_PEERS) : true, details: { peers: running } };
    })
  : undefined;
logger.info({ launcher: env.FABRIC_POOL_LAUNCHER, max: env.FABRIC_POOL_MAX_PEERS, warm: env.FABRIC_POOL_WARM, idle_seconds: env.FABRIC_IDLE_SECONDS }, "pool ready");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "pool stopping: its peers save their projects and leave");
  pool.stop();
  await launcher?.stopAll();
  registry.stop();
  health?.close();
  await nc.drain().catch(() => {});
  process.exit(0);
}
// `on`, not `once`: a second Ctrl-C must not fall back to Node's default and kill the pool
// while its peers save their projects.
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
