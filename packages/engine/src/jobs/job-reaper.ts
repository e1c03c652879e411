/**
 * Ends the jobs nobody else will end, so every job says how it ended:
 *   - a queued job past its deadline expires (its peer never took it);
 *   - a running job whose peer boot is gone becomes `lost`: the peer restarted (another
 *     incarnation registered) or went silent past the stale limit; so does a job a client
 *     reported running through blender_job_update, once that client is gone.
 *
 * It also decides how long a finished record lives: a finished dispatch or script with no
 * request id is forgotten (purged) a while after it ended (default
 * {@link FINISHED_DISPATCH_RETENTION_SECONDS}),
 * since nobody can ask for it by a retry key; farm records, jobs with a request id and bus
 * messages stay for the bucket's 24 h.
 *
 * Every gateway replica runs one. They race harmlessly: each move is a compare-and-set
 * through {@link JobStore}, so one wins and the others find the job already settled. The
 * reaper keeps only unfinished jobs in memory (a KV watch that drops finished ones), and reads
 * peers from the registry's mirror, so a sweep costs no round trip unless it settles a job.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import { z } from "zod";
import {
  FARM_TASK_DEADLINE_SECONDS,
  FarmSummarySchema,
  JobRecordSchema,
  epochSeconds,
  isTerminalJobStatus,
  keyForJob,
  keyPrefixForUser,
  type ClientRecord,
  type FarmSummary,
  type JobRecord,
} from "@blender-fabric/protocol";
import { blocklistedPeers, coversCapabilities } from "./farm-rules.js";
import { KvMirror, parseJsonSafely, type ClientRegistry } from "@blender-fabric/bus";
import { notStartedError, type JobStore } from "./job-store.js";
import { farmOutcome, readFarmProgress } from "./farm-progress.js";
import { FarmTally } from "./farm-tally.js";
import type { PreviewVideos } from "./preview-video.js";

/** After its tasks' 24 h, how long a farm job waits for a task still arriving before it fails. Seconds */
const UNTAKEN_GRACE_SECONDS = 60;

/** How often the reaper sweeps; a farm job ends at most this long after its last task. ms */
const SWEEP_INTERVAL_MS = 500;

/** How long a finished interactive job (no request id, not farm work) stays readable. Seconds */
export const FINISHED_DISPATCH_RETENTION_SECONDS = 600;

/** A finished record the reaper forgets once its retention has passed. */
type Forgettable = Pick<JobRecord, "job_id" | "bus_id" | "updated_at">;

type Unfinished = Pick<
  JobRecord,
  "job_id" | "bus_id" | "kind" | "status" | "target_uuid" | "deadline" | "incarnation" | "created_at" | "parent_job_id"
> & {
  /**
   * What it counts in its user's work quota: a farm job its tasks (counted there, whether
   * attempted yet or not, until the farm job ends), an attempt nothing, any other job 1.
   */
  weight: number;
  /** A farm job's tasks (0 for any other job). */
  tasks_total: number;
};

const FarmSizeSchema = z.object({ result: z.object({ tasks_total: z.number().int().min(0) }) });

/** Every job write passes through the mirror: only what the reaper decides on is checked. */
const TrackedFieldsSchema = JobRecordSchema.pick({
  job_id: true,
  bus_id: true,
  kind: true,
  status: true,
  target_uuid: true,
  deadline: true,
  incarnation: true,
  created_at: true,
  updated_at: true,
  parent_job_id: true,
  request_id: true,
});

/**
 * Unfinished work is kept (the mirror's value); a finished record that is forgotten soon is
 * handed to `forgettable` (a queue in end order, so a sweep looks only at its head) and kept
 * out of the mirror; everything else is left out.
 */
const decodeTracked = (forgettable: (job: Forgettable) => void, tally: FarmTally) => (entry: KvEntry): Unfinished | undefined => {
  const value = parseJsonSafely(entry);
  tally.observe(value, entry.revision);
  const parsed = TrackedFieldsSchema.safeParse(value);
  if (!parsed.success || parsed.data.kind === "message") return undefined;
  if (isTerminalJobStatus(parsed.data.status)) {
    const { kind, request_id, parent_job_id, job_id, bus_id, updated_at } = parsed.data;
    if ((kind === "command" || kind === "script") && request_id === null && parent_job_id === null) forgettable({ job_id, bus_id, updated_at });
    return undefined;
  }
  const { job_id, bus_id, kind, status, target_uuid, deadline, incarnation, created_at, parent_job_id } = parsed.data;
  const tasksTotal = kind === "farm" ? (FarmSizeSchema.safeParse(value).data?.result.tasks_total ?? 0) : 0;
  const weight = kind === "farm" ? 1 + tasksTotal : parent_job_id === null ? 1 : 0;
  return { job_id, bus_id, kind, status, target_uuid, deadline, incarnation, created_at, parent_job_id, weight, tasks_total: tasksTotal };
};

/**
 * Why the peer boot that runs `job` is gone, or undefined while it may still finish it. Decide
 * only on a record read from KV: a new boot registers before it claims anything, so a record
 * naming another incarnation means the job's boot is dead. (A mirror may lag behind that.)
 */
export function deadPeerReason(
  job: Pick<JobRecord, "target_uuid" | "incarnation">,
  peer: ClientRecord | undefined,
  isStale: (peer: ClientRecord) => boolean,
  staleAfterSeconds: number,
): string | undefined {
  if (!peer) return `peer ${job.target_uuid} is no longer registered; it was running the job`;
  if (job.incarnation !== null && peer.incarnation !== job.incarnation) {
    return `peer ${job.target_uuid} restarted while running the job (its bridge died)`;
  }
  if (isStale(peer)) return `peer ${job.target_uuid} went silent for more than ${staleAfterSeconds} s while running the job`;
  return undefined;
}

export class JobReaper {
  readonly #mirror: KvMirror<Unfinished>;
  /** Finished records to forget, in the order they ended. */
  readonly #forgettable: Forgettable[];

  readonly #jobs: JobStore;
  readonly #registry: ClientRegistry;
  /** Farm jobs' tasks as the watch delivers them (farm-tally.ts). */
  readonly #tally: FarmTally;
  /** Makes renders' preview videos; none: a render asking for one completes without it. */
  #videos: PreviewVideos | undefined;
  readonly #timer: NodeJS.Timeout;
  /** How long a finished interactive job stays readable. Seconds */
  readonly #retentionSeconds: number;
  #sweeping = false;
  #stopListening: (() => void) | undefined;
  /** Farm jobs being looked at out of the sweep (settleFarmSoon). */
  readonly #settling = new Set<string>();

  private constructor(mirror: KvMirror<Unfinished>, forgettable: Forgettable[], jobs: JobStore, registry: ClientRegistry, retentionSeconds: number, tally: FarmTally) {
    this.#mirror = mirror;
    this.#tally = tally;
    this.#forgettable = forgettable;
    this.#retentionSeconds = retentionSeconds;
    this.#jobs = jobs;
    this.#registry = registry;
    this.#timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
  }

  /** `tally`: also fed every farm job and attempt the watch delivers (farm-tally.ts). */
  static async start(
    jobsBucket: KV,
    jobs: JobStore,
    registry: ClientRegistry,
    retentionSeconds = FINISHED_DISPATCH_RETENTION_SECONDS,
    tally = new FarmTally(),
  ): Promise<JobReaper> {
    const forgettable: Forgettable[] = [];
    const mirror = await KvMirror.start(jobsBucket, decodeTracked((job) => forgettable.push(job), tally));
    tally.feedsFrom(() => mirror.sync());
    const reaper = new JobReaper(mirror, forgettable, jobs, registry, retentionSeconds, tally);
    // A farm job ends as soon as its last attempt does here, not at the next sweep.
    reaper.#stopListening = jobs.onFarmAttemptEnded((userId, farmJobId) => reaper.#settleFarmSoon(userId, farmJobId));
    return reaper;
  }


  /** One pass over the unfinished jobs; overlapping calls are skipped. */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      // Also replaces a watch that broke (e.g. its NATS node died), so no job is forgotten.
      await this.#mirror.sync();
      const now = epochSeconds();
      const unfinished = [...this.#mirror.entriesWithPrefix("")].map(([, { value }]) => value);
      const forgotten: Forgettable[] = [];
      while (this.#forgettable.length > 0 && now - this.#forgettable[0]!.updated_at > this.#retentionSeconds) forgotten.push(this.#forgettable.shift()!);
      const settles = [
        ...unfinished.map((job) => this.#settlement(job, now)),
        ...this.#farmSettlements(unfinished),
        ...forgotten.map((job) => this.#jobs.forget(job.bus_id, job.job_id)),
      ];
      // A settlement that fails is tried again on the next sweep.
      await Promise.all(settles.map((settle) => settle?.catch(() => {})));
    } finally {
      this.#sweeping = false;
    }
  }

  /** From now on, renders that ask for a preview video get one before they complete. */
  makeVideosWith(videos: PreviewVideos): void {
    this.#videos = videos;
  }

  /** How many jobs of a user are queued or running, as this replica's mirror sees them (the work quota). */
  unfinishedCount(userId: string): number {
    let count = 0;
    // The mirror indexes keys by user, and holds unfinished jobs only: this counts just those.
    for (const [, { value }] of this.#mirror.entriesWithPrefix(keyPrefixForUser(userId))) count += value.weight;
    return count;
  }

  /** A user's running jobs (farm attempts included) and the peer each runs on, from this replica's mirror. */
  running(userId: string): { job_id: string; parent_job_id: string | null; target_uuid: string | null }[] {
    const running = [];
    for (const [, { value }] of this.#mirror.entriesWithPrefix(keyPrefixForUser(userId))) {
      if (value.status === "running") running.push({ job_id: value.job_id, parent_job_id: value.parent_job_id, target_uuid: value.target_uuid });
    }
    return running;
  }

  #settlement(job: Unfinished, now: number): Promise<unknown> | undefined {
    if (job.status === "queued" && job.deadline !== null && now > job.deadline) {
      // The reason is made from the stored record: it carries what the pool noted on a waiting project job.
      return this.#jobs.expire(job.bus_id, job.job_id, notStartedError);
    }
    if (job.status !== "running" || !job.target_uuid) return undefined;
    // The mirror is a cheap first look; a verdict of death is checked against KV itself.
    if (!this.#deadPeer(job, this.#registry.cached(job.bus_id, job.target_uuid))) return undefined;
    return this.#loseIfDead(job, job.target_uuid);
  }

  /**
   * Looks at one farm job now (an attempt of it just ended in this process), when the tally
   * says it may have ended: so it ends with its last task, not up to a sweep later.
   */
  #settleFarmSoon(userId: string, farmJobId: string): void {
    const key = keyForJob(userId, farmJobId);
    if (this.#settling.has(key)) return;
    this.#settling.add(key);
    void (async () => {
      await this.#tally.current();
      const farm = this.#mirror.get(key)?.value;
      if (farm?.kind !== "farm" || !this.#tally.mayHaveEnded(userId, farmJobId, farm)) return;
      let unfinished = false;
      for (const [, { value }] of this.#mirror.entriesWithPrefix(keyPrefixForUser(userId))) unfinished ||= value.parent_job_id === farmJobId;
      if (!unfinished) await this.#superviseFarm(farm, false);
    })()
      .catch(() => {}) // the next sweep looks again
      .finally(() => this.#settling.delete(key));
  }

  /**
   * A farm job runs once a task runs, and ends once every task has. Meanwhile it says what it
   * waits for, and fails when every live peer of its group is blocklisted for it.
   */
  #farmSettlements(unfinished: Unfinished[]): Promise<unknown>[] {
    const tasksOf = new Map<string, Unfinished[]>();
    for (const job of unfinished) {
      if (!job.parent_job_id) continue;
      const tasks = tasksOf.get(job.parent_job_id);
      if (tasks) tasks.push(job);
      else tasksOf.set(job.parent_job_id, [job]);
    }
    return unfinished
      .filter((job) => job.kind === "farm")
      .flatMap((farm): Promise<unknown>[] => {
        const tasks = tasksOf.get(farm.job_id) ?? [];
        const started = farm.status === "queued" && tasks.some((task) => task.status === "running");
        return [
          ...(started ? [this.#jobs.advanceFarm(farm.bus_id, farm.job_id, { status: "running" })] : []),
          this.#superviseFarm(farm, tasks.length > 0),
        ];
      });
  }

  async #superviseFarm(farm: Unfinished, hasUnfinishedAttempts: boolean): Promise<void> {
    const record = await this.#jobs.get(farm.bus_id, farm.job_id);
    const summary = FarmSummarySchema.safeParse(record?.result);
    if (!record || !summary.success) return;
    // Attempts are recorded by the peers that take the tasks: none unfinished may also mean
    // none taken yet. Only when the tally (this replica's view) sees every task ended is the
    // end decided, on the attempts' own records.
    const mayHaveEnded = !hasUnfinishedAttempts && this.#tally.allEnded(farm.bus_id, farm.job_id, summary.data);
    const progress = mayHaveEnded ? await readFarmProgress(this.#jobs, record) : undefined;
    if (progress?.ended) {
      const outcome = farmOutcome(progress);
      // A render that asked for a preview video completes once it is made (preview-video.ts).
      if (outcome.status === "completed" && this.#videos && !this.#videos.ready(record, summary.data, progress)) return;
      await this.#jobs.advanceFarm(farm.bus_id, farm.job_id, outcome);
      return;
    }
    if (await this.#expireIfUnfollowed(record, summary.data)) return;
    // Tasks no peer took before their messages' age ran out (the work stream keeps them 24 h)
    // will never run: the job fails, saying so.
    const untaken = epochSeconds() - record.created_at > FARM_TASK_DEADLINE_SECONDS + UNTAKEN_GRACE_SECONDS ? this.#tally.untaken(farm.bus_id, farm.job_id, summary.data) : 0;
    if (untaken > 0) {
      const error = `${untaken} of its ${summary.data.tasks_total} tasks were never taken by a peer within ${FARM_TASK_DEADLINE_SECONDS / 3600} h; they will never run`;
      await this.#jobs.advanceFarm(farm.bus_id, farm.job_id, { status: "failed", error });
      return;
    }
    const { group_id: groupId, capabilities } = summary.data;
    // A job with no group is for every farm worker of the user.
    const inPool = (client: ClientRecord) => (groupId === null ? client.farm_worker === true : client.group_id === groupId);
    const able = this.#registry
      .cachedList(farm.bus_id)
      .filter((client) => inPool(client) && !this.#registry.isStale(client))
      .filter((client) => coversCapabilities(client.capabilities, capabilities));
    const where = groupId === null ? "among your farm workers" : `in group ${groupId}`;
    const blocklisted = blocklistedPeers(summary.data);
    if (able.length > 0 && able.every((client) => blocklisted.includes(client.uuid))) {
      const error = `no eligible peer left ${where}: ${blocklisted.join(", ")} failed ${summary.data.max_peer_failures} or more of its tasks and are blocklisted for it`;
      await this.#jobs.advanceFarm(farm.bus_id, farm.job_id, { status: "failed", error });
      return;
    }
    const needs = capabilities.length > 0 ? ` with capabilities [${capabilities.join(", ")}]` : "";
    await this.#jobs.noteFarm(farm.bus_id, farm.job_id, able.length === 0 ? `waiting: no live peer${needs} ${where}` : "");
  }

  /**
   * A farm job that follows its owner (owner_timeout_seconds), none of whose tasks has
   * started, expires once nobody has looked at it for that long: its submitter (a CLI killed
   * before any peer took a task) is gone. The farm job ends first, so an attempt claimed
   * meanwhile finds it ended and does not run; then its queued attempts expire.
   */
  async #expireIfUnfollowed(farm: JobRecord, summary: FarmSummary): Promise<boolean> {
    const timeout = summary.owner_timeout_seconds;
    if (timeout === null || farm.status !== "queued") return false;
    const silent = epochSeconds() - (summary.owner_seen_at ?? farm.created_at);
    if (silent <= timeout) return false;
    const progress = await readFarmProgress(this.#jobs, farm);
    if (!progress || progress.tasks.some((task) => task.attempts.some((attempt) => attempt.status !== "queued"))) return false;
    const reason = `nobody followed it for ${timeout} s (owner_timeout_seconds) and none of its tasks had started: its submitter is gone`;
    const expired = await this.#jobs.expireUnstartedFarm(farm.bus_id, farm.job_id, reason);
    if (expired?.status !== "expired") return false;
    await Promise.all(progress.tasks.flatMap((task) => task.attempts.map((attempt) => this.#jobs.expireQueued(farm.bus_id, attempt.job_id, `its farm job expired: ${reason}`))));
    return true;
  }

  async #loseIfDead(job: Unfinished, targetUuid: string): Promise<void> {
    const reason = this.#deadPeer(job, await this.#registry.load(job.bus_id, targetUuid));
    if (reason) await this.#jobs.lose(job.bus_id, job.job_id, job.incarnation, reason);
  }

  /** Why the peer running `job` is gone, judged on `peer`. */
  #deadPeer(job: Unfinished, peer: ClientRecord | undefined): string | undefined {
    const registry = this.#registry;
    return deadPeerReason(job, peer, (client) => registry.isStale(client), registry.options.staleAfterSeconds);
  }

  stop(): void {
    this.#stopListening?.();
    clearInterval(this.#timer);
    this.#mirror.stop();
  }
}
