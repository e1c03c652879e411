/**
 * Starts peers as child processes of the pool: a bridge with headless Blender each, through
 * the supervisor (the same code `blender-fabric up` and the tests use), from the build output
 * when it is current with the sources (it starts sooner than from source), and from a standby
 * bridge when one waits (FABRIC_POOL_STANDBY). A peer is started once its Blender is
 * registered on the bus (its /readyz); it may exit by itself when idle, and it ends with the
 * pool however the pool ends.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { mintUserCreds, peerPermissions } from "@blender-fabric/bus";
import { startBridgeProcess, startBridgeStandby, type BridgeProcess, type BridgeStandby } from "@blender-fabric/supervisor";
import type { PoolEnv } from "./env.js";
import type { Logger } from "./logger.js";
import type { PeerSpec } from "./peer-spec.js";
import { launchedPeer, LaunchedPeers } from "./launched-peers.js";

/** Lifetime of a credential minted for a started peer; it lives no longer than it idles. Seconds */
const PEER_CREDENTIAL_SECONDS = 7 * 24 * 3600;
/**
 * How long a peer told to stop may take before SIGKILL: its running job's drain (the
 * bridge's FABRIC_DRAIN_SECONDS, 20 s) and its project's save (at most 60 s). ms
 */
const PEER_STOP_GRACE_MS = 90_000;
/**
 * How long after a peer started (or failed to) the next standby bridge starts: not beside a
 * Blender that is starting, whose cold start an agent waits for. ms
 */
const STANDBY_DELAY_MS = 2_000;

export type RunningPeer = {
  spec: PeerSpec;
  /** Set once the peer is registered on the bus (before that, it is starting). */
  bridge?: BridgeProcess;
  /** Settles once the start has succeeded (with the bridge) or failed (undefined). */
  started: Promise<BridgeProcess | undefined>;
};

export class ProcessLauncher {
  readonly #env: PoolEnv;
  readonly #logger: Logger;
  readonly #record: LaunchedPeers;
  readonly #peers = new Map<string, RunningPeer>();
  /** Bridges started ahead of demand, each waiting to become a peer. */
  #standbys: BridgeStandby[] = [];
  #standbyTimer: NodeJS.Timeout | undefined;
  #standbyCount = 0;
  #stopped = false;
  /** Called when a peer the pool started has exited (idle, crashed or stopped). */
  onExit: (spec: PeerSpec) => void = () => {};

  constructor(env: PoolEnv, logger: Logger, record: LaunchedPeers) {
    this.#env = env;
    this.#logger = logger;
    this.#record = record;
    mkdirSync(join(env.FABRIC_POOL_STATE_DIR, "logs"), { recursive: true });
    this.#replenishStandbys(0);
  }

  /** Starts standby bridges up to FABRIC_POOL_STANDBY, after `delayMs`. */
  #replenishStandbys(delayMs = STANDBY_DELAY_MS): void {
    clearTimeout(this.#standbyTimer);
    this.#standbyTimer = setTimeout(() => {
      this.#standbys = this.#standbys.filter((standby) => standby.child.exitCode === null && standby.child.signalCode === null);
      while (!this.#stopped && this.#standbys.length < this.#env.FABRIC_POOL_STANDBY) {
        this.#standbyCount += 1;
        const logFile = join(this.#env.FABRIC_POOL_STATE_DIR, "logs", `standby-${process.pid}-${this.#standbyCount}.log`);
        this.#standbys.push(startBridgeStandby({ logFile, preferBuild: true }));
      }
    }, delayMs);
    this.#standbyTimer.unref();
  }

  /** Peers started and not yet exited. */
  peers(): RunningPeer[] {
    return [...this.#peers.values()];
  }

  /** Starts a peer; resolves true once it is registered on the bus, false if it never came up. */
  async launch(spec: PeerSpec): Promise<boolean> {
    const starting = this.#start(spec);
    const peer: RunningPeer = { spec, started: starting.catch(() => undefined) };
    this.#peers.set(spec.uuid, peer);
    this.#logger.info({ uuid: spec.uuid, user: spec.userId, purpose: spec.purpose }, "starting a peer");
    const startedAt = Date.now();
    let bridge: BridgeProcess;
    try {
      bridge = await starting;
    } catch (error) {
      this.#peers.delete(spec.uuid);
      this.#logger.error({ err: error, uuid: spec.uuid }, "peer did not start");
      return false;
    } finally {
      this.#replenishStandbys();
    }
    peer.bridge = bridge;
    this.#record.add(launchedPeer(spec.uuid, spec.userId, bridge.pid, bridge.blenderPid()));
    this.#logger.info({ uuid: spec.uuid, ms: Date.now() - startedAt, blender_pid: bridge.blenderPid() }, "peer ready");
    void bridge.exited.then(() => {
      this.#peers.delete(spec.uuid);
      rmSync(this.#credentialFile(spec), { force: true }); // minted for this peer only
      this.#record.remove(spec.uuid);
      this.#logger.info({ uuid: spec.uuid }, "peer exited");
      this.onExit(spec);
    });
    return true;
  }

  async #start(spec: PeerSpec): Promise<BridgeProcess> {
    const env = this.#env;
    return startBridgeProcess({
      natsUrls: env.FABRIC_NATS_URL,
      user: spec.userId,
      uuid: spec.uuid,
      groupId: spec.groupId,
      capabilities: env.FABRIC_POOL_CAPABILITIES,
      addonPreferences: JSON.parse(env.FABRIC_POOL_ADDON_PREFS) as Record<string, unknown>,
      env: {
        ...(await this.#credentialFor(spec)),
        FABRIC_IDLE_SECONDS: String(spec.idleSeconds),
        FABRIC_KV_REPLICAS: String(env.FABRIC_KV_REPLICAS),
        FABRIC_LOG_LEVEL: env.FABRIC_LOG_LEVEL,
        ...(spec.projectId ? { FABRIC_PROJECT_ID: spec.projectId } : {}),
      },
      exitWithParent: true,
      logFile: join(env.FABRIC_POOL_STATE_DIR, "logs", `${spec.uuid}.log`),
      preferBuild: true, // a current build starts without transpiling: an agent waits for this peer
      standby: this.#standbys.shift(),
    });
  }

  /**
   * The NATS credential a peer connects with: its own, scoped to its tenant, uuid, group and
   * project, when the pool holds the account seed; else the bridge key it was given.
   */
  async #credentialFor(spec: PeerSpec): Promise<Record<string, string>> {
    const env = this.#env;
    if (env.FABRIC_NATS_ACCOUNT_SEED_FILE) {
      const seed = (await readFile(env.FABRIC_NATS_ACCOUNT_SEED_FILE, "utf8")).trim();
      const creds = await mintUserCreds(seed, {
        name: `peer ${spec.uuid} of ${spec.userId}`,
        permissions: peerPermissions({
          userId: spec.userId,
          clientUuid: spec.uuid,
          groupId: spec.groupId ?? null,
          farmWorker: !spec.projectId,
          projectId: spec.projectId ?? null,
        }),
        expiresInSeconds: PEER_CREDENTIAL_SECONDS,
      });
      const file = this.#credentialFile(spec);
      writeFileSync(file, creds, { mode: 0o600 });
      chmodSync(file, 0o600);
      return { FABRIC_NATS_CREDS: file }; // a creds file wins over any nkey the bridge inherits
    }
    return env.FABRIC_POOL_BRIDGE_NKEY ? { FABRIC_NATS_NKEY: env.FABRIC_POOL_BRIDGE_NKEY } : {};
  }

  /** Where a peer's minted credential is kept while it runs (uuids are safe file names: peer-spec.ts). */
  #credentialFile(spec: PeerSpec): string {
    return join(this.#env.FABRIC_POOL_STATE_DIR, `${spec.uuid}.creds`);
  }

  /**
   * Stops every peer (SIGTERM: each finishes its job, saves its project's scene and leaves),
   * those still starting too, once they are up: a bridge can take work a moment before its
   * supervisor sees it ready, and one left behind would be killed with the pool.
   */
  async stopAll(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#standbyTimer);
    await Promise.allSettled(this.#standbys.splice(0).map((standby) => standby.discard()));
    await Promise.allSettled(this.peers().map(async (peer) => (await peer.started)?.stop(PEER_STOP_GRACE_MS)));
  }
}
