/**
 * The peer pool (seed 004): Blender when work arrives, none when idle. It watches demand on
 * the work stream (work-demand.ts: a project, farm group or farm pool with work waiting) and
 * starts peers for what no live peer serves, up to FABRIC_POOL_MAX_PEERS, and up to
 * FABRIC_POOL_MAX_PEERS_PER_USER for one user (the tenant quota):
 * - a project gets one peer, bound to it (two projects never share a Blender);
 * - a group or the farm pool gets as many as it has tasks outstanding, if the pool's peers
 *   have the capabilities the tasks ask for;
 * - FABRIC_POOL_WARM peers run whatever the demand, so a first call is fast.
 * Peers started for demand exit by themselves after FABRIC_IDLE_SECONDS idle (scale to
 * zero). The pool looks again whenever work is published, a peer exits, and every second.
 *
 * Only live work counts (live-demand.ts): work that expired or was cancelled while it waited
 * is deleted from the stream, never started for. With every place taken and a project's work
 * waiting, the peer idle longest makes room (handover.ts). A project's waiting jobs say why
 * they wait (their progress message: `blender_job_status`, and the answer of a call that
 * timed out).
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { JetStreamManager } from "@nats-io/jetstream";
import { DEMAND_WORK_SUBJECTS, type ClientRecord } from "@blender-fabric/protocol";
import { capabilitiesWanted, demandKey, type ClientRegistry, type WorkDemand } from "@blender-fabric/bus";
import type { JobStore } from "@blender-fabric/engine";
import type { PoolEnv } from "./env.js";
import type { Logger } from "./logger.js";
import type { ProcessLauncher } from "./process-launcher.js";
import type { KnativeWaker } from "./knative-waker.js";
import { specForDemand, warmSpec, type PeerSpec } from "./peer-spec.js";
import { readLiveDemand, type LiveDemand } from "./live-demand.js";
import { QuietPeers } from "./handover.js";

/** How often the pool looks at demand without being woken. ms */
const LOOK_INTERVAL_MS = 1_000;
/** After a peer failed to start, its demand waits this long before another try. ms */
const RETRY_AFTER_FAILURE_MS = 5_000;
/** How long a peer leaving to make room may take to finish and save before it is killed. ms */
const PEER_LEAVE_GRACE_MS = 90_000;

export type PoolDependencies = {
  env: PoolEnv;
  nc: NatsConnection;
  jsm: JetStreamManager;
  registry: ClientRegistry;
  /** Job records: whether waiting work is still live, and why a project's jobs wait. */
  jobs: JobStore;
  logger: Logger;
  /** Starts peers as child processes (FABRIC_POOL_LAUNCHER=process). */
  launcher?: ProcessLauncher;
  /** Wakes projects' Knative Services (FABRIC_POOL_LAUNCHER=knative). */
  waker?: KnativeWaker;
};

export class Pool {
  readonly #deps: PoolDependencies;
  /**
   * Peers this pool started that have exited, by uuid, with when: a record one left behind
   * (it crashed before leaving the bus) is not a live peer, though not stale yet. ms
   */
  readonly #exited = new Map<string, number>();
  readonly #retryAt = new Map<string, number>();
  /** Demands whose tasks ask for capabilities the pool's peers lack (logged once each). */
  readonly #unservable = new Set<string>();
  /** Users whose work waits on their peer quota (logged once per time they reach it). */
  readonly #atQuota = new Set<string>();
  readonly #quiet = new QuietPeers();
  /** The peer leaving to make room for a waiting project, by the project's demand key. */
  readonly #makingRoomFor = new Map<string, string>();
  #subscriptions: Subscription[] = [];
  #timer: NodeJS.Timeout | undefined;
  #looking = false;
  #lookAgain = false;
  #stopped = false;

  constructor(deps: PoolDependencies) {
    this.#deps = deps;
  }

  start(): void {
    const { nc, launcher } = this.#deps;
    // Every publish of work that can be demand wakes the pool (a burst of farm tasks makes one
    // look, not many); a dispatch to a named peer does not.
    this.#subscriptions = DEMAND_WORK_SUBJECTS.map((subject) => nc.subscribe(subject, { callback: () => this.poke() }));
    if (launcher) {
      launcher.onExit = (spec) => {
        this.#exited.set(spec.uuid, Date.now());
        this.poke();
      };
    }
    this.#timer = setInterval(() => this.poke(), LOOK_INTERVAL_MS);
    this.poke();
  }

  /** Looks at demand now, or right after the look under way. */
  poke(): void {
    if (this.#stopped) return;
    if (this.#looking) {
      this.#lookAgain = true;
      return;
    }
    this.#looking = true;
    void (async () => {
      do {
        this.#lookAgain = false;
        await this.#look().catch((error: unknown) => this.#deps.logger.warn({ err: error }, "could not read the demand for peers"));
      } while (this.#lookAgain && !this.#stopped);
      this.#looking = false;
    })();
  }

  async #look(): Promise<void> {
    const { env, jsm, jobs, launcher, waker } = this.#deps;
    const demand = await readLiveDemand(jsm, jobs, env.FABRIC_POOL_MAX_PEERS, (wanted) => this.#servingCount(wanted) < this.#neededFor(wanted));
    // Past the stale time the registry itself no longer counts them.
    for (const [uuid, at] of this.#exited) if (Date.now() - at > env.FABRIC_STALE_AFTER_SECONDS * 2000) this.#exited.delete(uuid);
    if (waker) {
      for (const wanted of demand) if (wanted.kind === "project") waker.wake(wanted.userId, wanted.projectId);
    }
    if (!launcher) return;
    const purposes = new Set(demand.map((wanted) => demandKey(wanted)));
    this.#quiet.observe(launcher.peers(), purposes);
    let free = env.FABRIC_POOL_MAX_PEERS - launcher.peers().length;
    for (let index = 1; index <= env.FABRIC_POOL_WARM && free > 0; index += 1) {
      if (launcher.peers().some((peer) => peer.spec.purpose === `warm:${index}`)) continue;
      this.#launch(warmSpec(env.FABRIC_POOL_WARM_USER, env.FABRIC_POOL_WARM_PREFIX, index));
      free -= 1;
    }
    // Projects first: an agent waits on each of their calls; farm tasks wait in a queue anyway,
    // so they leave one place free for the next project (a big farm job must not starve them).
    const ordered = [...demand].sort((a, b) => Number(b.kind === "project") - Number(a.kind === "project"));
    const keptForProjects = env.FABRIC_POOL_MAX_PEERS > 1 ? 1 : 0;
    for (const purpose of this.#unservable) if (!purposes.has(purpose)) this.#unservable.delete(purpose);
    for (const [purpose, at] of this.#retryAt) if (at <= Date.now()) this.#retryAt.delete(purpose);
    for (const purpose of this.#makingRoomFor.keys()) if (!purposes.has(purpose)) this.#makingRoomFor.delete(purpose);
    const usersAtQuota = new Set<string>();
    for (const wanted of ordered) {
      const purpose = demandKey(wanted);
      const serving = this.#servingCount(wanted);
      const needed = this.#neededFor(wanted);
      if (serving >= needed) continue;
      const userRoom = env.FABRIC_POOL_MAX_PEERS_PER_USER - launcher.peers().filter((peer) => peer.spec.userId === wanted.userId).length;
      if (userRoom <= 0) usersAtQuota.add(wanted.userId);
      const room = Math.min(userRoom, wanted.kind === "project" ? free : free - keptForProjects);
      if (room <= 0) {
        if (wanted.kind === "project") this.#makeRoom(wanted, userRoom <= 0);
        continue;
      }
      if ((this.#retryAt.get(purpose) ?? 0) > Date.now()) continue;
      if (!(await this.#canServe(wanted))) continue;
      for (let count = serving, started = 0; count < needed && started < room; count += 1, started += 1) {
        const spec = specForDemand(wanted, env.FABRIC_IDLE_SECONDS);
        this.#launch(spec);
        if (wanted.kind === "project") this.#noteWaiting(wanted, `a Blender is starting for project ${wanted.projectId} (${spec.uuid})`);
        free -= 1;
      }
    }
    this.#noteQuota(usersAtQuota);
  }

  /**
   * Every place is taken (`ownOnly`: every place the user may have) and a project waits: the
   * peer quiet longest leaves to make room, unless one already does. Either way the project's
   * waiting jobs say so.
   */
  #makeRoom(wanted: LiveDemand & { kind: "project" }, ownOnly: boolean): void {
    const { env, launcher } = this.#deps;
    const peers = launcher!.peers();
    const purpose = demandKey(wanted);
    const limit = ownOnly
      ? `you run ${env.FABRIC_POOL_MAX_PEERS_PER_USER} Blender peers, your limit (FABRIC_POOL_MAX_PEERS_PER_USER)`
      : `all ${env.FABRIC_POOL_MAX_PEERS} places of the pool are taken (FABRIC_POOL_MAX_PEERS)`;
    let leaving = peers.find((peer) => peer.spec.uuid === this.#makingRoomFor.get(purpose));
    if (!leaving) {
      const candidates = peers.filter((peer) => peer.spec.purpose !== purpose && (!ownOnly || peer.spec.userId === wanted.userId));
      leaving = this.#quiet.longestQuiet(candidates);
      if (leaving) {
        this.#quiet.leave(leaving);
        this.#makingRoomFor.set(purpose, leaving.spec.uuid);
        this.#deps.logger.info({ uuid: leaving.spec.uuid, for: purpose }, "handing an idle peer's place to a waiting project");
        void leaving.bridge?.stop(PEER_LEAVE_GRACE_MS);
      }
    }
    const why = leaving
      ? `waiting for a Blender: ${limit}; idle peer ${leaving.spec.uuid} is saving its work and leaving to make room`
      : `waiting for a Blender: ${limit}, all busy with work; it starts when one frees`;
    this.#noteWaiting(wanted, why);
  }

  /** Tells a project's waiting jobs why they wait (their progress message). */
  #noteWaiting(wanted: LiveDemand, message: string): void {
    for (const { jobId, record } of wanted.waiting) {
      if (record.status !== "queued" || record.progress_message === message) continue;
      this.#deps.jobs.noteQueued(wanted.userId, jobId, message).catch((error: unknown) => this.#deps.logger.debug({ err: error, jobId }, "could not note why a job waits"));
    }
  }

  /** Says once, each time a user reaches the peer quota, that their work waits on it. */
  #noteQuota(usersAtQuota: Set<string>): void {
    for (const userId of usersAtQuota) {
      if (this.#atQuota.has(userId)) continue;
      this.#atQuota.add(userId);
      this.#deps.logger.warn({ user: userId, limit: this.#deps.env.FABRIC_POOL_MAX_PEERS_PER_USER }, "quota_exceeded: FABRIC_POOL_MAX_PEERS_PER_USER; the user's other work waits for one of their peers");
    }
    for (const userId of this.#atQuota) if (!usersAtQuota.has(userId)) this.#atQuota.delete(userId);
  }

  #launch(spec: PeerSpec): void {
    void this.#deps.launcher!.launch(spec).then((started) => {
      if (!started) this.#retryAt.set(spec.purpose, Date.now() + RETRY_AFTER_FAILURE_MS);
      this.poke();
    });
  }

  /** How many peers serve this demand: live ones (any pool's) and this pool's starting ones. */
  #servingCount(wanted: WorkDemand): number {
    const purpose = demandKey(wanted);
    const starting = this.#deps.launcher?.peers().filter((peer) => peer.spec.purpose === purpose).map((peer) => peer.spec.uuid) ?? [];
    return new Set([...this.#livePeersFor(wanted).map((client) => client.uuid), ...starting]).size;
  }

  /** How many peers a demand calls for: one per project, one per task of a group, up to the pool's size. */
  #neededFor(wanted: WorkDemand): number {
    return wanted.kind === "project" ? 1 : Math.min(wanted.messages, this.#deps.env.FABRIC_POOL_MAX_PEERS);
  }

  /** Live Blender peers (any, not only this pool's) that already serve this demand. */
  #livePeersFor(wanted: WorkDemand): ClientRecord[] {
    const { registry } = this.#deps;
    return registry.cachedList(wanted.userId).filter((client) => {
      if (client.client_type !== "blender" || registry.isStale(client) || this.#exited.has(client.uuid)) return false;
      if (wanted.kind === "project") return client.project_id === wanted.projectId;
      if (wanted.kind === "group") return client.group_id === wanted.groupId;
      return client.farm_worker === true;
    });
  }

  /** Whether the pool's peers have every capability the demand's tasks ask for. */
  async #canServe(wanted: WorkDemand): Promise<boolean> {
    const { env, jsm, logger } = this.#deps;
    const missing = (await capabilitiesWanted(jsm, wanted)).filter((capability) => !env.FABRIC_POOL_CAPABILITIES.includes(capability));
    const purpose = demandKey(wanted);
    if (missing.length === 0) return true;
    if (!this.#unservable.has(purpose)) {
      this.#unservable.add(purpose);
      logger.warn({ demand: wanted, missing }, "work waits for capabilities this pool's peers do not have (FABRIC_POOL_CAPABILITIES)");
    }
    return false;
  }

  /** Stops looking; the peers it started are stopped by the launcher. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }
}
