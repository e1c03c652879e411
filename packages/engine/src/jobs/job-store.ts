/**
 * The one owner of job state: job records in KV `fabric_jobs` (key `<u>.<job_id>`) and every
 * move between statuses. Bridges, gateways, the reaper and `blender_job_update` all change a
 * job only through the transitions below.
 *
 *   queued ──claim──▶ running ──finish──▶ completed | failed | cancelled
 *     │                  └──lose (its peer's boot died)──▶ lost
 *     ├──expire (deadline passed, never started)──▶ expired
 *     └──cancel──▶ cancelled
 *
 * Each transition is a compare-and-set on the record's KV revision and moves forward only,
 * so of two racing transitions exactly one wins: a job that was cancelled, expired or lost
 * can never be claimed afterwards, and a claimed job can no longer expire. A transition that
 * changes the status announces it on `user.<u>.job.<id>` and to the job's originator.
 *
 * Since issue 16 only the trusted tier calls this (bridges reach it through the peer API).
 * Longer than 400 lines (600) on purpose: every transition of a job record, farm controls and
 * noted files included, is kept in this one place, so none is decided twice; the farm's rules
 * themselves (which attempt runs, how a farm job is controlled) live in farm-*.ts.
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import {
  BucketName,
  FarmSummarySchema,
  JobRecordSchema,
  JobStatusSchema,
  canAdvanceJob,
  epochSeconds,
  isClientUuid,
  isTerminalJobStatus,
  keyForJob,
  keyPrefixForUser,
  projectOfTarget,
  type JobRecord,
  type FarmSummary,
  type JobStatus,
  type Priority,
  type StoredArtifact,
} from "@blender-fabric/protocol";
import {
  FinalAnswerError,
  JETSTREAM_API_TIMEOUT_MS,
  createEnvelope,
  listKvKeys,
  parseJsonSafely,
  publishEnvelope,
  retryJetStream,
} from "@blender-fabric/bus";
import { publishJobEvent } from "./job-events.js";
import { RecentJobWrites } from "./recent-job-writes.js";

/** A running job as the peer that claimed it holds it: later writes skip a read. */
export type HeldJob = { record: JobRecord; revision: number };

/** The peer boot that claims a job. */
export type JobHolder = { incarnation: string; peerUuid: string };

/** How a job ended, as its peer reports it. */
export type JobOutcome = {
  status: "completed" | "failed" | "cancelled";
  result?: unknown;
  error?: string;
  /** The addon handler's own time, announced but not stored. ms */
  handler_ms?: number;
};

/** What `blender_job_update` reports for a job (any status word; others update progress). */
export type JobReport = { status: string; result?: unknown; error?: string };

/** A job `claim` would not start, with the record as it now stands (undefined: unknown job). */
export type ClaimRefusal = { refused: JobRecord | undefined };

export class JobExistsError extends FinalAnswerError {
  override name = "JobExistsError";
}


type Change = (record: JobRecord) => JobRecord | undefined;
type Written = { record: JobRecord | undefined; revision: number; changed: boolean };

export class JobStore {
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  /** For listing keys; made without a request (no API check). */
  readonly #jsm: Promise<JetStreamManager>;
  /** What this process wrote last of each unfinished job: its next write skips a read. */
  readonly #written = new RecentJobWrites();
  /** Told when a farm attempt this process ended has ended (the reaper settles its farm job at once). */
  readonly #attemptEnded = new Set<(userId: string, farmJobId: string) => void>();

  constructor(kv: KV, nc: NatsConnection) {
    this.#kv = kv;
    this.#nc = nc;
    this.#jsm = jetstreamManager(nc, { checkAPI: false, timeout: JETSTREAM_API_TIMEOUT_MS });
  }

  /** Calls `listener` whenever this process ends a farm attempt (any end). */
  onFarmAttemptEnded(listener: (userId: string, farmJobId: string) => void): () => void {
    this.#attemptEnded.add(listener);
    return () => this.#attemptEnded.delete(listener);
  }

  // --- reads -------------------------------------------------------------------------

  async get(userId: string, jobId: string): Promise<JobRecord | undefined> {
    return (await this.#read(keyForJob(userId, jobId)))?.record;
  }

  /**
   * The user's jobs, newest first. `attempts: false` leaves farm attempts out without reading
   * them (a 10,000-task job has 10,000 and more): their ids, which the gateway makes, say so.
   */
  async list(userId: string, options: { attempts?: boolean } = {}): Promise<JobRecord[]> {
    const jsm = await this.#jsm;
    const listed = await retryJetStream("list jobs", () => listKvKeys(jsm, BucketName.Jobs, `${keyPrefixForUser(userId)}*`));
    const keys = options.attempts === false ? listed.filter((key) => !FARM_ATTEMPT_KEY.test(key)) : listed;
    const records = await Promise.all(keys.map((key) => this.#read(key)));
    return records.flatMap((read) => (read ? [read.record] : [])).sort((a, b) => b.created_at - a.created_at);
  }

  /** The record and its KV revision (what work published for it is deduplicated by). */
  async entry(userId: string, jobId: string): Promise<HeldJob | undefined> {
    return this.#read(keyForJob(userId, jobId));
  }

  /**
   * The record as this process last wrote it, or as stored. For checks that a write
   * follows: a stale answer only makes that write's compare-and-set read again.
   */
  async known(userId: string, jobId: string): Promise<HeldJob | undefined> {
    const key = keyForJob(userId, jobId);
    return this.#written.get(key) ?? this.#read(key);
  }

  // --- transitions ---------------------------------------------------------------------

  /**
   * Stores a new queued job and returns its revision; an existing record is kept and
   * {@link JobExistsError} thrown. `replace`: a caller reusing a job id of a finished job
   * starts that job over (bus messages with a client-chosen job id); an unfinished one is
   * left as it is, so no live job loses its state.
   */
  async create(record: JobRecord, options: { replace?: boolean } = {}): Promise<number> {
    const key = keyForJob(record.bus_id, record.job_id);
    const stored = JobRecordSchema.parse(record);
    const value = JSON.stringify(stored);
    return retryJetStream("record a job", async () => {
      try {
        // The common case: a new job id, one round trip.
        return this.#remember(key, stored, await this.#kv.create(key, value));
      } catch (error) {
        const current = await this.#read(key);
        if (!current) throw error; // not a conflict: JetStream trouble, retried
        if (options.replace && isTerminalJobStatus(current.record.status)) {
          return this.#remember(key, stored, await this.#kv.update(key, value, current.revision));
        }
        throw new JobExistsError(`job ${record.job_id} exists${options.replace ? " and has not finished" : ""}`, { cause: error });
      }
    });
  }

  /**
   * The fence: moves a queued job to running for one peer boot. Refuses a job that is not
   * queued (cancelled, expired, lost, or already started by anyone), and expires a job whose
   * deadline has passed instead of starting it.
   */
  async claim(userId: string, jobId: string, holder: JobHolder): Promise<HeldJob | ClaimRefusal> {
    const { incarnation, peerUuid } = holder;
    let refusal: JobRecord | undefined;
    let alreadyOurs = false;
    const written = await this.#transition(userId, jobId, (job) => {
      // Our own write whose reply was lost (a retry reads it back): the claim did succeed.
      alreadyOurs = job.status === "running" && job.incarnation === incarnation && job.target_uuid === peerUuid;
      if (job.status !== "queued") {
        refusal = job;
        return undefined;
      }
      const now = epochSeconds();
      if (job.deadline !== null && now > job.deadline) {
        return { ...job, status: "expired", error: notStartedError(job), updated_at: now };
      }
      return { ...job, status: "running", target_uuid: peerUuid, incarnation, started_at: now, updated_at: now };
    });
    if (written.record?.status === "running" && (written.changed || alreadyOurs)) {
      this.#announce(written.record, { status: "running" });
      return { record: written.record, revision: written.revision };
    }
    if (written.changed && written.record) this.#announceEnd(written.record, {});
    return { refused: refusal ?? written.record };
  }

  /**
   * Records a new job already running for one peer boot: a farm task's next attempt, made by
   * the peer that takes it. The create is the fence (of two peers making the same attempt,
   * one creates it); undefined when another did.
   */
  async startNew(record: JobRecord, holder: JobHolder): Promise<HeldJob | undefined> {
    const now = epochSeconds();
    const running: JobRecord = { ...record, status: "running", target_uuid: holder.peerUuid, incarnation: holder.incarnation, started_at: now, updated_at: now };
    try {
      const revision = await this.create(running);
      this.#announce(running, { status: "running" });
      return { record: running, revision };
    } catch (error) {
      if (!(error instanceof JobExistsError)) throw error;
      // Our own create whose reply was lost (a retry found it): it is ours.
      const current = await this.entry(record.bus_id, record.job_id);
      const ours = current?.record.status === "running" && current.record.incarnation === holder.incarnation && current.record.target_uuid === holder.peerUuid;
      return ours ? current : undefined;
    }
  }

  /** Records and announces progress of a job its peer holds. */
  async progress(held: HeldJob, fraction: number, message: string): Promise<void> {
    const clamped = Math.min(1, Math.max(0, fraction));
    const job = held.record;
    this.#announce(job, { status: "progress", progress: clamped, progress_message: message });
    if (isClientUuid(job.originator_uuid)) {
      this.#tellOriginator(job, "info", {
        kind: "progress",
        job_id: job.job_id,
        fraction: clamped,
        percent: Math.round(clamped * 100),
        message,
      });
    }
    await this.#transition(
      job.bus_id,
      job.job_id,
      (current) =>
        current.status === "running" && current.incarnation === job.incarnation
          ? { ...current, progress: clamped, progress_message: message, updated_at: epochSeconds() }
          : undefined,
      held,
    );
  }

  /**
   * Notes a file the job's peer stored for it, while that boot holds the job (running, its
   * incarnation). Returns false when it no longer does: the file is then never listed.
   */
  async noteArtifact(userId: string, jobId: string, incarnation: string, artifact: StoredArtifact): Promise<boolean> {
    const written = await this.#transition(userId, jobId, (job) =>
      job.status === "running" && job.incarnation === incarnation && !job.artifacts.some((noted) => noted.name === artifact.name)
        ? { ...job, artifacts: [...job.artifacts, artifact], updated_at: epochSeconds() }
        : undefined,
    );
    return written.record?.status === "running" && written.record.incarnation === incarnation && written.record.artifacts.some((noted) => noted.name === artifact.name);
  }

  /** Ends a job its peer holds. Refused (returns false) once anyone else has ended it. */
  async finish(held: HeldJob, outcome: JobOutcome): Promise<boolean> {
    const { handler_ms, ...stored } = outcome;
    const incarnation = held.record.incarnation;
    let alreadyOurs = false;
    const written = await this.#transition(
      held.record.bus_id,
      held.record.job_id,
      (current) => {
        // Our own write whose reply was lost: only this boot ends its job with its status.
        alreadyOurs = current.status === stored.status && current.incarnation === incarnation;
        return current.status === "running" && current.incarnation === incarnation
          ? {
              ...current,
              status: stored.status,
              progress: stored.status === "completed" ? 1 : current.progress,
              result: stored.result ?? null,
              error: stored.error ?? "",
              updated_at: epochSeconds(),
            }
          : undefined;
      },
      held,
    );
    const ended = written.changed || alreadyOurs;
    if (written.changed && written.record?.status === "failed") await this.#countFarmFailure(written.record);
    if (ended && written.record) this.#announceEnd(written.record, { handler_ms });
    return ended;
  }

  /**
   * Expires a queued job whose deadline has passed: it will never start. Returns the record
   * as it now stands. `deadlineMs` bounds the retries (ms).
   */
  async expire(userId: string, jobId: string, reason: string | ((job: JobRecord) => string), deadlineMs?: number): Promise<JobRecord | undefined> {
    const due = (job: JobRecord) => job.status === "queued" && job.deadline !== null && epochSeconds() >= job.deadline;
    return this.#settle(userId, jobId, "expired", reason, due, deadlineMs);
  }

  /** Expires a queued job before its deadline (its farm job was given up): it will never start. */
  expireQueued(userId: string, jobId: string, reason: string): Promise<JobRecord | undefined> {
    return this.#settle(userId, jobId, "expired", reason, (job) => job.status === "queued");
  }

  /**
   * A farm job that follows its owner (owner_timeout_seconds) was looked at now: noted at
   * most every quarter of that timeout, so a caller polling each second writes rarely.
   * `seen` is the record the caller has just read: when no note is due, nothing is read again.
   */
  async noteFarmOwner(seen: JobRecord): Promise<void> {
    const due = (job: JobRecord) => {
      const summary = FarmSummarySchema.safeParse(job.result);
      if (job.kind !== "farm" || isTerminalJobStatus(job.status) || !summary.success || summary.data.owner_timeout_seconds === null) return undefined;
      return epochSeconds() - (summary.data.owner_seen_at ?? job.created_at) >= summary.data.owner_timeout_seconds / 4 ? summary.data : undefined;
    };
    if (!due(seen)) return;
    await this.#transition(seen.bus_id, seen.job_id, (job) => {
      const summary = due(job);
      return summary ? { ...job, result: { ...summary, owner_seen_at: epochSeconds() }, updated_at: epochSeconds() } : undefined;
    });
  }

  /** Expires a farm job none of whose tasks has started (its owner stopped following it). */
  async expireUnstartedFarm(userId: string, jobId: string, reason: string): Promise<JobRecord | undefined> {
    const written = await this.#transition(userId, jobId, (job) =>
      job.kind === "farm" && job.status === "queued" ? { ...job, status: "expired", error: reason, progress_message: "", updated_at: epochSeconds() } : undefined,
    );
    if (written.changed && written.record) this.#announceEnd(written.record, {});
    return written.record;
  }

  /** Cancels a queued job: it will never start. Returns the record as it now stands. */
  cancelQueued(userId: string, jobId: string, reason: string): Promise<JobRecord | undefined> {
    return this.#settle(userId, jobId, "cancelled", reason, (job) => job.status === "queued");
  }

  /** Settles a job that a now-dead peer boot was running. Returns the record as it now stands. */
  lose(userId: string, jobId: string, incarnation: string | null, reason: string): Promise<JobRecord | undefined> {
    return this.#settle(userId, jobId, "lost", reason, (job) => job.status === "running" && job.incarnation === incarnation);
  }

  /**
   * A farm job moves with its tasks (job-reaper.ts decides): `running` once a task runs, then
   * `completed` or `failed` once every task has ended; `cancelled` when its caller cancels it
   * (no task makes another attempt then). Returns the record as it now stands.
   */
  async advanceFarm(
    userId: string,
    jobId: string,
    next: { status: "running" } | { status: "completed" | "failed" | "cancelled"; error: string },
  ): Promise<JobRecord | undefined> {
    const written = await this.#transition(userId, jobId, (job) =>
      job.kind === "farm" && canAdvanceJob(job.status, next.status)
        ? {
            ...job,
            ...next,
            progress: next.status === "running" ? job.progress : 1,
            // A "waiting: …" note is over once a task runs or the job has ended.
            progress_message: "",
            started_at: job.started_at ?? epochSeconds(),
            updated_at: epochSeconds(),
          }
        : undefined,
    );
    if (!written.changed || !written.record) return written.record;
    if (next.status === "running") this.#announce(written.record, { status: "running" });
    else this.#announceEnd(written.record, {});
    return written.record;
  }

  /**
   * Changes how a farm job runs after it was submitted (farm-control.ts: pause, resume,
   * priority, requeue). `change` gets the record and its summary and returns the new record,
   * or undefined for no change. Only an unfinished farm job changes, except that a `failed`
   * one may be requeued: failed is the one end a farm job comes back from (cancelled,
   * expired and completed jobs stay ended, so nothing cancelled ever runs again).
   */
  async changeFarm(
    userId: string,
    jobId: string,
    change: (job: JobRecord, summary: FarmSummary) => JobRecord | undefined,
  ): Promise<{ record: JobRecord | undefined; revision: number; changed: boolean }> {
    const written = await this.#transition(userId, jobId, (job) => {
      const summary = FarmSummarySchema.safeParse(job.result);
      if (job.kind !== "farm" || !summary.success || (isTerminalJobStatus(job.status) && job.status !== "failed")) return undefined;
      const next = change(job, summary.data);
      // The only way back from an end: failed to queued.
      if (!next || (isTerminalJobStatus(next.status) && next.status !== job.status) || (job.status === "failed" && next.status !== "queued" && next.status !== "failed")) return undefined;
      return { ...next, updated_at: epochSeconds() };
    });
    if (written.changed && written.record) this.#announce(written.record, { status: written.record.status, progress_message: written.record.progress_message });
    return written;
  }

  /** What a queued job waits for (the pool says why no peer has taken it yet), shown as its progress message. */
  async noteQueued(userId: string, jobId: string, message: string): Promise<void> {
    await this.#transition(userId, jobId, (job) =>
      job.status === "queued" && job.progress_message !== message ? { ...job, progress_message: message, updated_at: epochSeconds() } : undefined,
    );
  }

  /** What an unfinished farm job waits for, shown as its progress message. */
  async noteFarm(userId: string, jobId: string, message: string): Promise<void> {
    await this.#transition(userId, jobId, (job) =>
      job.kind === "farm" && !isTerminalJobStatus(job.status) && job.progress_message !== message
        ? { ...job, progress_message: message, updated_at: epochSeconds() }
        : undefined,
    );
  }

  /**
   * A status reported through `blender_job_update` by a client doing the work itself (the
   * seed's own addon speaks MCP): forward only, duplicate terminal updates ignored. Status
   * words that are not job statuses update nothing, and neither does any report on a job a
   * bridge has claimed: that boot alone ends it. Announcing is the tool's own business.
   */
  async report(userId: string, jobId: string, report: JobReport): Promise<{ record: JobRecord | undefined; changed: boolean }> {
    const status = JobStatusSchema.safeParse(report.status);
    const written = await this.#transition(userId, jobId, (job) =>
      status.success && job.incarnation === null && job.kind !== "farm" && canAdvanceJob(job.status, status.data)
        ? {
            ...job,
            status: status.data,
            progress: status.data === "completed" ? 1 : job.progress,
            result: report.result ?? job.result,
            error: report.error ?? job.error,
            updated_at: epochSeconds(),
          }
        : undefined,
    );
    return { record: written.record, changed: written.changed };
  }

  /** Removes a finished job's record for good (the reaper's retention). */
  async forget(userId: string, jobId: string): Promise<void> {
    const key = keyForJob(userId, jobId);
    const current = await this.#read(key);
    // Never an unfinished one; and one already gone needs no second purge marker.
    if (!current || !isTerminalJobStatus(current.record.status)) return;
    this.#written.forget(key);
    await this.#kv.purge(key);
  }

  // --- internals -----------------------------------------------------------------------

  async #settle(
    userId: string,
    jobId: string,
    status: Extract<JobStatus, "expired" | "cancelled" | "lost">,
    reason: string | ((job: JobRecord) => string),
    allowed: (job: JobRecord) => boolean,
    deadlineMs?: number,
  ): Promise<JobRecord | undefined> {
    const written = await this.#transition(
      userId,
      jobId,
      (job) => (allowed(job) ? { ...job, status, error: typeof reason === "string" ? reason : reason(job), updated_at: epochSeconds() } : undefined),
      undefined,
      deadlineMs,
    );
    if (written.changed && written.record?.status === "lost") await this.#countFarmFailure(written.record);
    if (written.changed && written.record) this.#announceEnd(written.record, {});
    return written.record;
  }

  /** A farm attempt that failed or was lost counts against its peer in its farm job. */
  async #countFarmFailure(attempt: JobRecord): Promise<void> {
    const peer = attempt.target_uuid;
    if (!attempt.parent_job_id || !peer) return;
    await this.#transition(attempt.bus_id, attempt.parent_job_id, (farm) => {
      const summary = FarmSummarySchema.safeParse(farm.result);
      if (farm.kind !== "farm" || !summary.success || isTerminalJobStatus(farm.status)) return undefined;
      const failures = { ...summary.data.failures, [peer]: (summary.data.failures[peer] ?? 0) + 1 };
      return { ...farm, result: { ...summary.data, failures }, updated_at: epochSeconds() };
    });
  }

  async #read(key: string, deadlineMs?: number): Promise<HeldJob | undefined> {
    const entry = await retryJetStream("read a job", () => this.#kv.get(key), deadlineMs);
    if (!entry || entry.operation !== "PUT") return undefined;
    const parsed = JobRecordSchema.safeParse(parseJsonSafely(entry));
    return parsed.success ? { record: parsed.data, revision: entry.revision } : undefined;
  }

  /**
   * Compare-and-set: applies `change` to the current record and writes the result only if
   * nobody wrote in between, else reads again. `held` (the writer's last known revision)
   * saves the first read; it is updated after a successful write.
   */
  async #transition(userId: string, jobId: string, change: Change, held?: HeldJob, deadlineMs?: number): Promise<Written> {
    const key = keyForJob(userId, jobId);
    let known: HeldJob | undefined = held ?? this.#written.get(key);
    const attempt = async (): Promise<Written | typeof STALE_MEMORY> => {
      const remembered = known;
      let current = known ?? (await this.#read(key, deadlineMs));
      let next = current && change(current.record);
      // A remembered record that says "no change" is confirmed against the stored one:
      // a refusal, unlike a write, has no revision check to catch a stale record.
      if (known && !next) {
        current = await this.#read(key, deadlineMs);
        next = current && change(current.record);
      }
      known = undefined; // a failed attempt reads afresh
      if (!current) return { record: undefined, revision: 0, changed: false };
      if (!next) return { record: current.record, revision: current.revision, changed: false };
      let written: number;
      try {
        written = await this.#kv.update(key, JSON.stringify(next), current.revision);
      } catch (error) {
        // Another process wrote past the remembered revision (the pool noting why a job
        // waits): read afresh at once, not after the retry's back-off.
        if (current === remembered && isWrongLastSequence(error)) return STALE_MEMORY;
        throw error;
      }
      const revision = this.#remember(key, next, written);
      if (held) {
        held.record = next;
        held.revision = revision;
      }
      return { record: next, revision, changed: true };
    };
    return retryJetStream(
      `write ${key}`,
      async () => {
        const first = await attempt();
        if (first !== STALE_MEMORY) return first;
        const second = await attempt();
        if (second === STALE_MEMORY) throw new Error(`write ${key}: the record changed meanwhile`); // cannot happen: the second read is fresh
        return second;
      },
      deadlineMs,
    );
  }

  /** Remembers an unfinished job's write (a finished one is written no more); returns the revision. */
  #remember(key: string, record: JobRecord, revision: number): number {
    if (isTerminalJobStatus(record.status)) this.#written.forget(key);
    else this.#written.remember(key, record, revision);
    return revision;
  }

  #announce(job: JobRecord, fields: { status: string; progress?: number; progress_message?: string; handler_ms?: number }) {
    publishJobEvent(this.#nc, job.bus_id, { job_id: job.job_id, ...fields });
  }

  /** The terminal event on the job subject, and `job_update` to a registered originator. */
  #announceEnd(job: JobRecord, extra: { handler_ms?: number }): void {
    if (job.parent_job_id && isTerminalJobStatus(job.status)) for (const listener of this.#attemptEnded) listener(job.bus_id, job.parent_job_id);
    const result = job.result === null || job.result === undefined ? undefined : job.result;
    publishJobEvent(this.#nc, job.bus_id, {
      job_id: job.job_id,
      status: job.status,
      ...(result === undefined ? {} : { result }),
      error: job.error,
      ...(extra.handler_ms === undefined ? {} : { handler_ms: extra.handler_ms }),
      // Only a job some peer claimed names its runner (a queued job's target may be `project:<id>`).
      ...(job.incarnation && job.target_uuid ? { peer_uuid: job.target_uuid } : {}),
    });
    if (!isClientUuid(job.originator_uuid) || !isTerminalJobStatus(job.status)) return;
    this.#tellOriginator(job, "notice", {
      kind: "job_update",
      job_id: job.job_id,
      status: job.status,
      result: result === undefined ? "" : JSON.stringify(result),
      error: job.error,
    });
  }

  /** From the peer that holds the job, or from the server when the job never reached one. */
  #tellOriginator(job: JobRecord, priority: Priority, payload: Record<string, unknown>): void {
    const fromUuid = job.incarnation && job.target_uuid ? job.target_uuid : `server:${job.bus_id}`;
    publishEnvelope(
      this.#nc,
      createEnvelope({
        userId: job.bus_id,
        fromUuid,
        routing: { type: "direct", target_uuid: job.originator_uuid! },
        priority,
        payload,
        jobId: job.job_id,
      }),
    );
  }
}

/** The key of a farm attempt: `<u>.j-<12 hex>-t<n>` or `…-a<n>` (farmTaskJobId, farmAttemptJobId). */
const FARM_ATTEMPT_KEY = /\.j-[0-9a-f]{12}-t\d{4,}(-a\d+)?$/u;

/** An attempt that wrote on a remembered revision another process had written past. */
const STALE_MEMORY = Symbol("stale memory");

/** JetStream's refusal of a compare-and-set whose expected revision is not the last one. */
const isWrongLastSequence = (error: unknown) => /wrong last sequence/iu.test(String((error as Error | undefined)?.message ?? error));

/**
 * Why a project's queued job was not taken: what the pool noted on it (a Blender starting, or
 * every place taken), or, with no note, that no pool looked at it.
 */
export function whyProjectWaited(projectId: string, note: string | null | undefined): string {
  return note || `no peer of project ${projectId} took it, and no pool said why: is a pool running for this fabric?`;
}

/** Why a queued job expired (a project's job: with why it waited). */
export function notStartedError(job: Pick<JobRecord, "created_at" | "deadline" | "target_uuid" | "progress_message">): string {
  const seconds = job.deadline === null ? 0 : Math.round(job.deadline - job.created_at);
  const project = projectOfTarget(job.target_uuid);
  const why = project === undefined ? "" : ` (${whyProjectWaited(project, job.progress_message)})`;
  return `Not started within its deadline of ${seconds} s${job.target_uuid ? ` on ${job.target_uuid}` : ""}${why}; it will never run.`;
}
