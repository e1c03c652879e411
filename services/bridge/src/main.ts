/** Boots one bridge: a Blender peer on one user's bus. Start more for a bigger farm. */
// Blender takes longest to start, so it starts first, from the raw environment, before any
// other module of the bridge loads (blender-start.ts); everything else is imported after it
// was spawned, and loads while it starts.
import { startBlenderEarly } from "./blender-start.js";
import { waitAsStandby } from "./standby.js";

// Started ahead of demand (a pool's standby): loaded, it waits to be told which peer it is.
const standby = process.env.FABRIC_STANDBY === "true";
if (standby) await waitAsStandby();
const early = startBlenderEarly();
await early?.spawned;
const { readBridgeEnv } = await import("./env.js");
const { createLogger } = await import("./logger.js");
const { BlenderPeer } = await import("./blender-peer.js");

type StopReason = "SIGINT" | "SIGTERM" | "idle" | "parent gone" | "project lost";

let env: ReturnType<typeof readBridgeEnv>;
try {
  env = readBridgeEnv();
} catch (error) {
  early?.abandon(); // not for an environment the bridge refuses
  throw error;
}
const logger = createLogger(`bridge-${env.FABRIC_CLIENT_UUID}`, env.FABRIC_LOG_LEVEL);
/** Milliseconds since this process started: each step of a start says when it was done. */
const uptime = () => Math.round(process.uptime() * 1000);
// runs_from: the build (dist) or the source under tsx, which takes longer to start.
logger.info(
  { uuid: env.FABRIC_CLIENT_UUID, project: env.FABRIC_PROJECT_ID, runs_from: import.meta.url.endsWith(".ts") ? "source" : "dist", standby, uptime_ms: uptime() },
  "bridge starting",
);

/**
 * How the peer ends, from its first moment (a signal during start-up must not skip the
 * clean-up). Told to stop (SIGTERM, SIGINT), a plain peer stops at once, as it always has;
 * a project's peer first finishes its job and saves the scene, and a farm peer told with
 * SIGTERM first finishes its task. Idle (scale to zero), or left
 * behind by the pool that started it, a peer also leaves the bus so nobody waits for it.
 */
let stop: (reason: StopReason) => Promise<void> = async () => process.exit(0);
let stopping = false;
const shutdown = (reason: StopReason) => {
  if (stopping) return;
  stopping = true;
  logger.info({ reason }, "bridge stopping");
  void stop(reason).finally(() => process.exit(0));
};
// `on`, not `once`: a second Ctrl-C must not fall back to Node's default and end the peer
// while it saves its project.
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
if (env.FABRIC_EXIT_WITH_STDIN) {
  // The parent holds our stdin open; it closes when the parent ends, even by SIGKILL.
  process.stdin.once("close", () => shutdown("parent gone"));
  process.stdin.once("end", () => shutdown("parent gone"));
  process.stdin.resume();
}

// While Blender starts, the bridge loads its NATS side (imported only now, about 0.3 s of
// module loading) and connects: a cold start on demand waits for both.
let peer = new BlenderPeer(env, logger, early);
stop = () => peer.stop();
const { connectToFabric } = await import("@blender-fabric/bus");
const { PeerApiClient, PeerFiles, PeerJobs, PeerWork } = await import("@blender-fabric/engine");
const { inboxPrefixForPeer } = await import("@blender-fabric/protocol");
const { randomBytes } = await import("node:crypto");
const { Bridge } = await import("./bridge.js");
const { BlendCache } = await import("./blend-cache.js");
const { mintedAuthenticator } = await import("./minted-credentials.js");
const { startHealthEndpoint } = await import("@blender-fabric/supervisor");
const { ProjectKeeper } = await import("./project-keeper.js");
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
  // A peer's credential may receive only on its own inbox prefix; the peer API answers only there.
  inboxPrefix: inboxPrefixForPeer(env.FABRIC_USER, env.FABRIC_CLIENT_UUID),
}).catch(async (error: unknown) => {
  // One line an operator can act on, not a stack trace.
  const credential = env.FABRIC_NATS_CREDS ? `the .creds file ${env.FABRIC_NATS_CREDS}` : env.FABRIC_NATS_NKEY ? `the nkey ${env.FABRIC_NATS_NKEY}` : minted ? "the credential the gateway minted" : "no credential";
  const hint =
    credential === "no credential"
      ? "; a NATS that requires one needs FABRIC_NATS_NKEY (npm start writes .fabric/credentials/bridge.nk), FABRIC_NATS_CREDS, or FABRIC_GATEWAY_URL with FABRIC_TOKEN"
      : "";
  process.stderr.write(`bridge ${env.FABRIC_CLIENT_UUID}: cannot connect to NATS at ${env.FABRIC_NATS_URL} with ${credential}: ${error instanceof Error ? error.message : String(error)}${hint}\n`);
  await peer.stop();
  process.exit(1);
});
logger.info({ server: nc.getServer(), uptime_ms: uptime() }, "connected to NATS");
// Every boot has its own id: the jobs of a dead boot can be settled while its work runs on the next.
const incarnation = `inc-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
const api = new PeerApiClient(nc, { userId: env.FABRIC_USER, peerUuid: env.FABRIC_CLIENT_UUID, incarnation });
const files = new PeerFiles(api);
/** A project's peer holds the project (one Blender per project) until its scene is saved back. */
let project: Awaited<ReturnType<typeof ProjectKeeper.start>> | undefined;
if (env.FABRIC_PROJECT_ID) {
  stop = async () => {
    project?.stop(); // stopped while starting: the lease frees once it goes stale
    await peer.stop();
  };
  project = await ProjectKeeper.start({ env, api, blends: files, peer, newPeer: () => new BlenderPeer(env, logger), logger });
  peer = project.peer; // a fresh one if the first was stopped while the lease was held by another
  project.onLost = () => shutdown("project lost");
}
const bridge = new Bridge({
  env,
  nc,
  api,
  work: new PeerWork(api),
  jobs: new PeerJobs(api),
  files,
  blendCache: new BlendCache(files, env.FABRIC_BLEND_CACHE, env.FABRIC_CLIENT_UUID),
  peer,
  logger,
});

const health = env.FABRIC_HEALTH_PORT
  ? // /readyz: 200 with {uuid, blender_pid, incarnation} once its Blender is registered on the bus.
    await startHealthEndpoint(env.FABRIC_HEALTH_HOST, env.FABRIC_HEALTH_PORT, () => ({ ready: !!bridge.registered && !stopping, details: { ...bridge.registered } }))
  : undefined;
/**
 * A peer that takes farm tasks finishes its task before it goes when told to stop with
 * SIGTERM (a cluster scaling it in or draining its node: the pod's grace period allows
 * FABRIC_DRAIN_SECONDS), so no attempt is spent on a bridge that was merely moved.
 */
const takesFarmTasks = env.FABRIC_GROUP_ID !== undefined || env.FABRIC_FARM_WORKER;
stop = async (reason) => {
  const leaving = reason === "idle" || reason === "parent gone" || project !== undefined || (reason === "SIGTERM" && takesFarmTasks);
  if (leaving) {
    await bridge.drain(env.FABRIC_DRAIN_SECONDS * 1000);
    // A peer that lost its project saves nothing and leaves the project's consumer to the
    // peer that has it now; otherwise the last save, then the consumer goes (whatever its
    // last pull held is free for the next peer at once), then the project.
    if (project && !project.lost) {
      await project.saveIfChanged(bridge.sceneChanges);
      if (!project.lost) await bridge.dropProjectConsumer().catch((error: unknown) => logger.warn({ err: error }, "project consumer not removed"));
    }
    await project?.release();
    await bridge.leave().catch((error: unknown) => logger.warn({ err: error }, "could not leave the bus cleanly"));
  } else {
    bridge.stop();
  }
  // Waited for, so no Blender outlives its bridge, not even for a moment.
  await peer.stop();
  health?.close();
  minted?.stop();
  await nc.drain().catch(() => {});
};
bridge.onIdle = () => shutdown("idle");
if (!stopping) {
  await bridge.start(project?.sceneOpened).catch(async (error: unknown) => {
    if (stopping) return; // stopped while starting: the stop ends the process
    // Registered already (a project's scene failed to open): leave the bus, so the pool need not wait for this peer to go stale.
    await bridge.leave().catch(() => {});
    throw error;
  });
  if (!stopping) project?.autosave(() => bridge.sceneChanges);
}
