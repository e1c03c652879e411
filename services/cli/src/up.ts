/**
 * `blender-fabric up`: the whole local fabric in one command (what `npm start` runs).
 * An embedded nats-server with JetStream under `.fabric/`, one gateway replica, and the peer
 * pool with one warm headless Blender (so a first call is fast), which also starts a peer
 * for each `project:<id>` an agent addresses and lets it go when idle. Ctrl-C stops
 * everything; project peers save their scenes first.
 */
import { join } from "node:path";
import { mintToken } from "@blender-fabric/auth";
import { ensureLocalCredentials } from "@blender-fabric/bus";
import { preferPort, startGatewayProcess, startNatsServer, startPoolProcess } from "@blender-fabric/supervisor";
import { printConnectionGuide } from "./connection-guide.js";
import { ensureLocalJwtSecret } from "./jwt-secret.js";

export type UpOptions = {
  /** Where NATS keeps its JetStream data between runs, and the pool its record. */
  dataDirectory: string;
  /** Preferred ports; a busy one is replaced by a free one. */
  natsPort: number;
  httpPort: number;
  /** The user id (`sub`) of the printed dev token; the warm Blender joins this user's bus. */
  user: string;
  /** Bus uuid of the warm headless Blender peer. */
  blenderUuid: string;
  /** A project's peer exits after this long idle. Seconds */
  idleSeconds: number;
  /** Most Blender peers at once (the warm one included). */
  maxPeers: number;
};

export async function up(options: UpOptions): Promise<void> {
  const natsPort = await preferPort(options.natsPort);
  // NATS admits only these users, even on this machine (made on first start, mode 0600).
  const credentials = await ensureLocalCredentials(options.dataDirectory);
  // Tokens too: a secret of this install (`.fabric/jwt-secret`, 0600), never a published one.
  const jwtSecret = await ensureLocalJwtSecret(options.dataDirectory);
  const nats = await startNatsServer({
    directory: join(options.dataDirectory, "nats"),
    port: natsPort,
    authConfig: credentials.authorization,
    // Ctrl-C must not stop NATS before the peers have saved their projects through it.
    ownProcessGroup: true,
  });
  const logLevel = process.env.FABRIC_LOG_LEVEL ?? "info";
  const gateway = await startGatewayProcess({
    natsUrls: [nats.url],
    port: await preferPort(options.httpPort),
    // Dev mode: this NATS is the OS's (Debian's 2.9.10), fine on one machine, not in production.
    // Ctrl-C must not stop it before the peers have saved their projects through its peer API.
    env: { FABRIC_LOG_LEVEL: logLevel, FABRIC_NATS_NKEY: credentials.gateway, FABRIC_JWT_SECRET: jwtSecret, FABRIC_DEV_MODE: "true", FABRIC_IGNORE_SIGINT: "true" },
    showLogs: true,
  });
  const pool = await startPoolProcess({
    natsUrls: [nats.url],
    env: {
      FABRIC_LOG_LEVEL: logLevel,
      FABRIC_NATS_NKEY: credentials.pool,
      FABRIC_POOL_BRIDGE_NKEY: credentials.bridge,
      FABRIC_POOL_WARM: "1",
      FABRIC_POOL_WARM_USER: options.user,
      FABRIC_POOL_WARM_PREFIX: options.blenderUuid,
      FABRIC_POOL_MAX_PEERS: String(options.maxPeers),
      // One user runs the local fabric: the tenant quota would only hold them back.
      FABRIC_POOL_MAX_PEERS_PER_USER: String(options.maxPeers),
      FABRIC_IDLE_SECONDS: String(options.idleSeconds),
      FABRIC_POOL_STATE_DIR: join(options.dataDirectory, "pool"),
    },
    showLogs: true,
  });
  const [warm] = await pool.peers();
  const token = await mintToken({ sub: options.user, role: "llm-client" }, { expiresIn: "30d", secret: jwtSecret });
  printConnectionGuide({ mcpUrl: gateway.mcpUrl, natsUrl: nats.url, operatorNkey: credentials.operator, token, user: options.user, blenderUuid: warm!.uuid });

  await untilStopped();
  process.stderr.write("\nstopping Blender (projects save their scenes), the gateway and NATS...\n");
  await pool.stop();
  await gateway.stop();
  await nats.stop();
}

/** `blender-fabric pool`: the pool alone, configured by its environment, until Ctrl-C. */
export async function runPool(natsUrls: string[]): Promise<void> {
  const pool = await startPoolProcess({ natsUrls, showLogs: true });
  await untilStopped();
  await pool.stop();
}

/** Resolves on Ctrl-C or SIGTERM. */
const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
