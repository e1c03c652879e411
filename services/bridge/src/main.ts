/** Boots one bridge: a Blender peer on one user's bus. Start more for a bigger farm. */
import { readBridgeEnv } from "./env.js";
import { createLogger } from "./logger.js";
import { BlenderPeer } from "./blender-peer.js";

/** A project lease not renewed for this many heartbeats belongs to a dead peer. */
const LEASE_STALE_HEARTBEATS = 3;

const env = readBridgeEnv();
const logger = createLogger(`bridge-${env.FABRIC_CLIENT_UUID}`, env.FABRIC_LOG_LEVEL);
// Blender takes longest to start, so it starts first, while the bridge loads the NATS side
// (imported only now, about 0.3 s of module loading) and connects: a cold start on demand
// waits for both.
const peer = new BlenderPeer(env, logger);
const { ArtifactStore, BlendStore, JobStore, ProjectLease, holderLeftRegistry, inboxPrefixForUser, WorkStream, connectToFabric, openFabricBuckets } =
  await import("@blender-fabric/bus");
const { Bridge } = await import("./bridge.js");
const { BlendCache } = await import("./blend-cache.js");
const { mintedAuthenticator } = await import("./minted-credentials.js");
const { startHealthEndpoint } = await import("@blender-fabric/supervisor");
const { fetchProjectScene, openProjectScene, saveProjectScene } = await import("./project-scene.js");
// No credential file, but a gateway and a token: the gateway mints (and renews) one.
const minted =
  !env.FABRIC_NATS_CREDS && !env.FABRIC_NATS_NKEY && env.FABRIC_GATEWAY_URL && env.FABRIC_TOKEN
    ? await mintedAuthenticator({
        gatewayUrl: env.FABRIC_GATEWAY_URL,
        token: env.FABRIC_TOKEN,
        clientUuid: env.FABRIC_CLIENT_UUID,
        groupId: env.FABRIC_GROUP_ID ?? null,
        farmWorker: env.FABRIC_FARM_WORKER,
        projectId: env.FABRIC_PROJECT_ID ?? null,
        logger,
      })
    : undefined;
const nc = await connectToFabric({
  servers: env.FABRIC_NATS_URL.split(",").map((url) => url.trim()),
  name: `bridge-${env.FABRIC_CLIENT_UUID}`,
  credentials: { nkeySeedFile: env.FABRIC_NATS_NKEY, credsFile: env.FABRIC_NATS_CREDS },
  authenticator: minted?.authenticator,
  // A tenant-scoped credential may receive replies only on its tenant's inbox prefix.
  inboxPrefix: inboxPrefixForUser(env.FABRIC_USER),
});
const buckets = await openFabricBuckets(nc, env.FABRIC_KV_REPLICAS, ["clients", "jobs"]);
const blends = await BlendStore.open(nc, env.FABRIC_KV_REPLICAS);
const project = env.FABRIC_PROJECT_ID ? { userId: env.FABRIC_USER, projectId: env.FABRIC_PROJECT_ID, blends } : undefined;
const bridge = new Bridge({
  env,
  nc,
  clients: buckets.clients,
  jobs: new JobStore(buckets.jobs, nc),
  work: await WorkStream.open(nc, env.FABRIC_KV_REPLICAS),
  artifacts: await ArtifactStore.open(nc, env.FABRIC_KV_REPLICAS),
  blends,
  blendCache: new BlendCache(blends, env.FABRIC_BLEND_CACHE, env.FABRIC_CLIENT_UUID),
  peer,
  logger,
});
/** A project's peer holds the project (one Blender per project) until its scene is saved back. */
let lease: Awaited<ReturnType<typeof ProjectLease.acquire>> | undefined;
if (project) {
  const { projects } = await openFabricBuckets(nc, env.FABRIC_KV_REPLICAS, ["projects"]);
  lease = await ProjectLease.acquire(projects, project.userId, project.projectId, { uuid: env.FABRIC_CLIENT_UUID, incarnation: bridge.incarnation }, {
    staleAfterMs: LEASE_STALE_HEARTBEATS * env.FABRIC_HEARTBEAT_SECONDS * 1000,
    holderGone: holderLeftRegistry(buckets.clients, project.userId),
    onWait: (holder) => logger.info({ project: project.projectId, holder: holder.holder_uuid }, "waiting for the project's previous peer to save and leave"),
  });
  // The scene the project's last peer saved, open before the peer takes any work; a Blender
  // that restarts later starts with it.
  const scene = await fetchProjectScene(project);
  if (scene) {
    await openProjectScene(peer, scene);
    env.FABRIC_BLEND_FILE = scene;
  }
  logger.info({ project: project.projectId, scene: scene ? "saved scene" : "new" }, "project scene");
}
const health = env.FABRIC_HEALTH_PORT
  ? // /readyz: 200 with {uuid, blender_pid, incarnation} once its Blender is registered on the bus.
    await startHealthEndpoint(env.FABRIC_HEALTH_HOST, env.FABRIC_HEALTH_PORT, () => ({ ready: !!bridge.registered, details: { ...bridge.registered } }))
  : undefined;
await bridge.start();

/**
 * A project's scene is saved while the peer works, not only when it stops, so a crashed peer
 * loses at most FABRIC_PROJECT_SAVE_SECONDS of work; an unchanged scene is not saved again.
 */
let saving: Promise<unknown> = Promise.resolve();
let savedAfterJobs = 0;
const saveIfChanged = () => {
  if (!project || bridge.jobsRun === savedAfterJobs) return saving;
  const jobsRun = bridge.jobsRun;
  saving = saving.then(() =>
    saveProjectScene(peer, project).then(
      (size) => {
        savedAfterJobs = jobsRun;
        logger.info({ project: project.projectId, size }, "project scene saved");
      },
      (error: unknown) => logger.error({ err: error, project: project.projectId }, "project scene NOT saved"),
    ),
  );
  return saving;
};
const autosave =
  project && env.FABRIC_PROJECT_SAVE_SECONDS > 0 ? setInterval(() => void saveIfChanged(), env.FABRIC_PROJECT_SAVE_SECONDS * 1000) : undefined;

/**
 * How the peer ends. Told to stop (SIGTERM, SIGINT), a plain peer stops at once, as it always
 * has; a project's peer first finishes its job and saves the scene. Idle (scale to zero), or
 * left behind by the pool that started it, a peer also leaves the bus so nobody waits for it.
 */
let stopping = false;
async function shutdown(reason: "SIGINT" | "SIGTERM" | "idle" | "parent gone" | "project lost") {
  if (stopping) return;
  stopping = true;
  clearInterval(leaseRenewal);
  clearInterval(autosave);
  logger.info({ reason }, "bridge stopping");
  const leaving = reason === "idle" || reason === "parent gone" || project !== undefined;
  if (leaving) {
    await bridge.drain(env.FABRIC_DRAIN_SECONDS * 1000);
    // A peer that lost its project saves nothing: the scene is another peer's now.
    if (project && reason !== "project lost") {
      // Unchanged since the last save (or since it was opened): nothing to write.
      await saveIfChanged();
      await lease?.release();
    }
    await bridge.leave().catch((error: unknown) => logger.warn({ err: error }, "could not leave the bus cleanly"));
  } else {
    bridge.stop();
  }
  // Waited for, so no Blender outlives its bridge, not even for a moment.
  await peer.stop();
  health?.close();
  minted?.stop();
  await nc.drain().catch(() => {});
  process.exit(0);
}
bridge.onIdle = () => void shutdown("idle");
const leaseRenewal = setInterval(() => {
  lease?.renew().then(
    (held: boolean) => {
      if (held) return;
      logger.error({ project: env.FABRIC_PROJECT_ID }, "another peer took this project's lease; stopping without saving");
      void shutdown("project lost");
    },
    () => {}, // KV unavailable: the next heartbeat tries again
  );
}, env.FABRIC_HEARTBEAT_SECONDS * 1000);
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
if (env.FABRIC_EXIT_WITH_STDIN) {
  // The parent holds our stdin open; it closes when the parent ends, even by SIGKILL.
  process.stdin.once("close", () => void shutdown("parent gone"));
  process.stdin.once("end", () => void shutdown("parent gone"));
  process.stdin.resume();
}
