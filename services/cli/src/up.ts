/**
 * `blender-fabric up`: the whole local fabric in one command (what `npm start` runs).
 * An embedded nats-server with JetStream under `.fabric/`, one gateway replica, and the peer
 * pool with one warm headless Blender (so a first call is fast), which also starts a peer
 * for each `project:<id>` an agent addresses and lets it go when idle. Ctrl-C stops
 * everything, however this process ends; project peers save their scenes first.
 */
import { join } from "node:path";
import { mintToken } from "@blender-fabric/auth";
import { ensureLocalCredentials } from "@blender-fabric/bus";
import { killChildrenNow, preferPort, startGatewayProcess, startNatsServer, startPoolProcess, startStopGuard } from "@blender-fabric/supervisor";
import { printConnectionGuide } from "./connection-guide.js";
import { ensureLocalJwtSecret } from "./jwt-secret.js";
import { listenForStopSignals } from "./stop-signals.js";

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

/** Something `up` started and stops again: NATS, the gateway, the pool. */
type Stoppable = { stop(): Promise<void> };

export async function up(options: UpOptions): Promise<void> {
  // From the first moment: a Ctrl-C while things start stops what has started.
  const signals = listenForStopSignals(stopAtOnce);
  // If this process ends without stopping its children (killed -9, as tsx's CLI does to a
  // child that is slow to answer its signal), the guard stops them in the same order.
  const guard = startStopGuard();
  /** What has started, in order: stopped last first (NATS last, after every peer has saved its project through it). */
  const started: Stoppable[] = [];
  try {
    // NATS admits only these users, even on this machine (made on first start, mode 0600).
    const credentials = await ensureLocalCredentials(options.dataDirectory);
    // Tokens too: a secret of this install (`.fabric/jwt-secret`, 0600), never a published one.
    const jwtSecret = await ensureLocalJwtSecret(options.dataDirectory);
    const nats = await startNatsServer({
      directory: join(options.dataDirectory, "nats"),
      // The same port as last time: a server an earlier run left behind is stopped first.
      preferredPort: options.natsPort,
      authConfig: credentials.authorization,
      // Ctrl-C must not stop NATS before the peers have saved their projects through it.
      ownProcessGroup: true,
    });
    started.push(nats);
    if (signals.isRequested()) return;
    const logLevel = process.env.FABRIC_LOG_LEVEL ?? "info";
    const gateway = await startGatewayProcess({
      natsUrls: [nats.url],
      port: await preferPort(options.httpPort),
      // Dev mode: this NATS is the OS's (Debian's 2.9.10), fine on one machine, not in production.
      // Ctrl-C must not stop it before the peers have saved their projects through its peer API.
      env: { FABRIC_LOG_LEVEL: logLevel, FABRIC_NATS_NKEY: credentials.gateway, FABRIC_JWT_SECRET: jwtSecret, FABRIC_DEV_MODE: "true", FABRIC_IGNORE_SIGINT: "true" },
      showLogs: true,
    });
    started.push(gateway);
    if (signals.isRequested()) return;
    // The pool hears the terminal's Ctrl-C itself and stops its peers (they save their projects).
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
    started.push(pool);
    if (signals.isRequested()) return;
    const [warm] = await pool.peers();
    const token = await mintToken({ sub: options.user, role: "llm-client" }, { expiresIn: "30d", secret: jwtSecret });
    printConnectionGuide({ mcpUrl: gateway.mcpUrl, natsUrl: nats.url, operatorNkey: credentials.operator, token, user: options.user, blenderUuid: warm!.uuid });
    await signals.requested;
  } catch (error) {
    // A start cut short by Ctrl-C fails (the pool heard it too and ended): that is the stop, not an error.
    if (!signals.isRequested()) throw error;
  } finally {
    if (signals.isRequested()) process.stderr.write("\nstopping Blender (projects save their scenes), the gateway and NATS... (Ctrl-C again to stop at once)\n");
    for (const service of started.reverse()) await service.stop();
    guard.release();
  }
}

/** `blender-fabric pool`: the pool alone, configured by its environment, until Ctrl-C. */
export async function runPool(natsUrls: string[]): Promise<void> {
  const signals = listenForStopSignals(stopAtOnce);
  const pool = await startPoolProcess({ natsUrls, showLogs: true });
  await signals.requested;
  await pool.stop();
}

/** A later Ctrl-C: everything this process started ends now, a project's unsaved changes with it. */
function stopAtOnce(): never {
  process.stderr.write("\nstopping at once\n");
  killChildrenNow();
  process.exit(130);
}
