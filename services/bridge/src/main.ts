/** Boots one bridge: a Blender peer on one user's bus. Start more for a bigger farm. */
import { ArtifactStore, BlendStore, JobStore, inboxPrefixForUser, WorkStream, connectToFabric, openFabricBuckets } from "@blender-fabric/bus";
import { readBridgeEnv } from "./env.js";
import { createLogger } from "./logger.js";
import { BlenderPeer } from "./blender-peer.js";
import { Bridge } from "./bridge.js";
import { BlendCache } from "./blend-cache.js";
import { mintedAuthenticator } from "./minted-credentials.js";
import { startHealthServer } from "./health-server.js";

const env = readBridgeEnv();
const logger = createLogger(`bridge-${env.FABRIC_CLIENT_UUID}`, env.FABRIC_LOG_LEVEL);
// No credential file, but a gateway and a token: the gateway mints (and renews) one.
const minted =
  !env.FABRIC_NATS_CREDS && !env.FABRIC_NATS_NKEY && env.FABRIC_GATEWAY_URL && env.FABRIC_TOKEN
    ? await mintedAuthenticator({
        gatewayUrl: env.FABRIC_GATEWAY_URL,
        token: env.FABRIC_TOKEN,
        clientUuid: env.FABRIC_CLIENT_UUID,
        groupId: env.FABRIC_GROUP_ID ?? null,
        farmWorker: env.FABRIC_FARM_WORKER,
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
const peer = new BlenderPeer(env, logger);
const blends = await BlendStore.open(nc, env.FABRIC_KV_REPLICAS);
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
const health = env.FABRIC_HEALTH_PORT
  ? await startHealthServer(env.FABRIC_HEALTH_HOST, env.FABRIC_HEALTH_PORT, () => bridge.registered)
  : undefined;
await bridge.start();

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "bridge stopping");
  bridge.stop();
  peer.stop();
  health?.close();
  minted?.stop();
  await nc.drain().catch(() => {});
  process.exit(0);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
