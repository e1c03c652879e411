/** Boots one bridge: a Blender peer on one user's bus. Start more for a bigger farm. */
import { ArtifactStore, JobStore, connectToFabric, openFabricBuckets } from "@blender-fabric/bus";
import { readBridgeEnv } from "./env.js";
import { createLogger } from "./logger.js";
import { BlenderPeer } from "./blender-peer.js";
import { Bridge } from "./bridge.js";

const env = readBridgeEnv();
const logger = createLogger(`bridge-${env.FABRIC_CLIENT_UUID}`, env.FABRIC_LOG_LEVEL);
const nc = await connectToFabric({
  servers: env.FABRIC_NATS_URL.split(",").map((url) => url.trim()),
  name: `bridge-${env.FABRIC_CLIENT_UUID}`,
});
const buckets = await openFabricBuckets(nc, {
  replicas: env.FABRIC_KV_REPLICAS,
  jobRetentionMs: 24 * 3600 * 1000,
  sessionRetentionMs: 24 * 3600 * 1000,
});
const peer = new BlenderPeer(env, logger);
const bridge = new Bridge({
  env,
  nc,
  clients: buckets.clients,
  jobs: new JobStore(buckets.jobs),
  artifacts: await ArtifactStore.open(nc, env.FABRIC_KV_REPLICAS),
  peer,
  logger,
});
await bridge.start();

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "bridge stopping");
  bridge.stop();
  peer.stop();
  await nc.drain().catch(() => {});
  process.exit(0);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
