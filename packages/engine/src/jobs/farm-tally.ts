/**
 * Each gateway's in-memory view of farm jobs and their attempts, so following a 10,000-task
 * job costs no KV read per task (reading them took 1.75 s and answered 1.8 MB). It is fed by
 * the reaper's watch of `fabric_jobs`, through which every job write already passes, and
 * answers after `current()` (the watch's sync) with every write acknowledged before the question.
 *
 * It is a view for showing progress (blender_job_status, the dashboard, the CLI). Decisions
 * that must be right (ending a farm job, cancelling its attempts) still read the records.
 * Held: every farm job and attempt the bucket holds (they stay for its 24 h age), about 150
 * bytes per attempt; a farm job that ended more than a day ago is dropped.
 */
import { z } from "zod";
import { FarmSummarySchema, JobStatusSchema, StoredArtifactSchema, attemptBudget, type StoredArtifact, farmTaskIds, isTerminalJobStatus, itemsOfTask, farmTaskIndex, type FarmSummary } from "@blender-fabric/protocol";
import { taskEnded, taskStatus, type FarmAttempt, type FarmTaskState } from "./farm-progress.js";

/** What the tally keeps of an attempt's record. */
const AttemptFieldsSchema = z.object({
  job_id: z.string(),
  bus_id: z.string(),
  status: JobStatusSchema,
  target_uuid: z.string().nullable(),
  error: z.string(),
  parent_job_id: z.string(),
  started_at: z.number().nullable().default(null),
  updated_at: z.number(),
  artifacts: z.array(StoredArtifactSchema).default([]),
});

const FarmFieldsSchema = z.object({
  job_id: z.string(),
  bus_id: z.string(),
  kind: z.literal("farm"),
  status: z.string(),
  updated_at: z.number(),
  result: z.unknown(),
});

type TalliedAttempt = FarmAttempt & { started_at: number | null; updated_at: number; revision: number; artifacts: StoredArtifact[] };

type TalliedFarm = {
  /** Tasks with an attempt, and those whose latest attempt is queued or running: kept as attempts change. */
  attempted: number;
  open: number;
  summary: FarmSummary | undefined;
  status: string;
  updated_at: number;
  revision: number;
  /** Attempts per task id, attempt n at index n - 1. */
  tasks: Map<string, TalliedAttempt[]>;
};

/** A failed or lost attempt, as the summary shows the latest few. */
export type FailedAttempt = { task_id: string; job_id: string; status: string; target_uuid: string | null; error: string };

/** A farm job's progress in a size that does not grow with its tasks. */
export type FarmTallySummary = {
  tasks_total: number;
  tasks_by_status: Record<string, number>;
  items_total: number;
  /** Items of the tasks that completed. */
  items_done: number;
  /** Attempts that failed or were lost, in all. */
  failed_attempts: number;
  /** The latest few of them (first line of each error). */
  recent_failures: FailedAttempt[];
  /** When the first attempt started and the last task completed; epoch seconds. */
  first_started_at: number | null;
  last_completed_at: number | null;
  /** Seconds until the last task completes at the pace so far; null before any completed, or when not running. */
  eta_seconds: number | null;
};

const RECENT_FAILURES = 5;
/** How long a finished farm job's tally is kept after its last write. Seconds */
const KEEP_ENDED_SECONDS = 24 * 60 * 60;

/** `<task>` or `<task>-a<n>`: the task and the attempt's number. */
function taskOfAttempt(attemptId: string): { taskId: string; attempt: number } {
  const match = /^(.*)-a(\d+)$/u.exec(attemptId);
  return match ? { taskId: match[1]!, attempt: Number(match[2]) } : { taskId: attemptId, attempt: 1 };
}

/** An attempt that may still run: queued or running. */
const isOpen = (attempt: { status: string } | undefined) => attempt?.status === "queued" || attempt?.status === "running";

const firstLine = (text: string) => (text.split("\n")[0] ?? "").slice(0, 300);

export class FarmTally {
  /** Farm jobs by `<u>\0<farm job>`. */
  readonly #farms = new Map<string, TalliedFarm>();
  /** Waits until the watch feeding the tally has every acknowledged write (the reaper's mirror sync). */
  #sync: () => Promise<void> = async () => {};

  /** Called by the watch's owner (JobReaper.start). */
  feedsFrom(sync: () => Promise<void>): void {
    this.#sync = sync;
  }

  /** Resolves once every job write acknowledged before the call is in the tally. */
  current(): Promise<void> {
    return this.#sync();
  }

  /** Takes one job record as the jobs bucket's watch delivers it (any kind; others are ignored). */
  observe(value: unknown, revision: number): void {
    const attempt = AttemptFieldsSchema.safeParse(value);
    if (attempt.success) {
      this.#noteAttempt(attempt.data, revision);
      return;
    }
    const farm = FarmFieldsSchema.safeParse(value);
    if (farm.success) this.#noteFarm(farm.data, revision);
  }

  #farm(userId: string, farmJobId: string): TalliedFarm {
    const key = `${userId}\u0000${farmJobId}`;
    let farm = this.#farms.get(key);
    if (!farm) this.#farms.set(key, (farm = { attempted: 0, open: 0, summary: undefined, status: "queued", updated_at: 0, revision: 0, tasks: new Map() }));
    return farm;
  }

  #noteFarm(record: z.infer<typeof FarmFieldsSchema>, revision: number): void {
    const farm = this.#farm(record.bus_id, record.job_id);
    if (farm.revision >= revision) return;
    const summary = FarmSummarySchema.safeParse(record.result);
    Object.assign(farm, { summary: summary.success ? summary.data : farm.summary, status: record.status, updated_at: record.updated_at, revision });
    this.#dropOld(record.updated_at);
  }

  #noteAttempt(record: z.infer<typeof AttemptFieldsSchema>, revision: number): void {
    const farm = this.#farm(record.bus_id, record.parent_job_id);
    const { taskId, attempt } = taskOfAttempt(record.job_id);
    let attempts = farm.tasks.get(taskId);
    if (!attempts) farm.tasks.set(taskId, (attempts = []));
    const known = attempts[attempt - 1];
    if (known && known.revision >= revision) return;
    const wasOpen = isOpen(attempts.at(-1));
    if (attempts.length === 0) farm.attempted += 1;
    attempts[attempt - 1] = {
      job_id: record.job_id,
      status: record.status,
      target_uuid: record.target_uuid,
      error: firstLine(record.error),
      started_at: record.started_at,
      updated_at: record.updated_at,
      revision,
      artifacts: record.artifacts,
    };
    farm.open += Number(isOpen(attempts.at(-1))) - Number(wasOpen);
  }

  /**
   * Whether the farm job may have ended: every task has an attempt and none is queued or
   * running. Cheap (kept as attempts change); `allEnded` then says for sure.
   */
  mayHaveEnded(userId: string, farmJobId: string, summary: Pick<FarmSummary, "tasks_total">): boolean {
    const farm = this.#farms.get(`${userId}\u0000${farmJobId}`);
    return !!farm && farm.attempted >= summary.tasks_total && farm.open === 0;
  }

  /** Forgets farm jobs that ended more than a day before `now` (their records have expired). */
  #dropOld(now: number): void {
    for (const [key, farm] of this.#farms) {
      if (isTerminalJobStatus(farm.status) && now - farm.updated_at > KEEP_ENDED_SECONDS) this.#farms.delete(key);
    }
  }

  /** Whether every task of the farm job has ended, as far as this replica has seen. */
  allEnded(userId: string, farmJobId: string, summary: FarmSummary): boolean {
    const farm = this.#farms.get(`${userId}\u0000${farmJobId}`);
    if (!farm || !this.mayHaveEnded(userId, farmJobId, summary)) return false;
    const budget = attemptBudget(summary);
    return farmTaskIds(farmJobId, summary).every((taskId) => {
      const attempts = (farm.tasks.get(taskId) ?? []).filter((attempt): attempt is TalliedAttempt => attempt !== undefined);
      return attempts.length > 0 && taskEnded(attempts, budget);
    });
  }

  /** How many of the farm job's tasks no peer has taken (no attempt recorded). */
  untaken(userId: string, farmJobId: string, summary: FarmSummary): number {
    const farm = this.#farms.get(`${userId}\u0000${farmJobId}`);
    return farmTaskIds(farmJobId, summary).filter((taskId) => !(farm?.tasks.get(taskId)?.length)).length;
  }

  /** A farm job's tasks in order, `offset` to `offset + limit`, with their attempts, as the tally holds them. */
  tasks(userId: string, farmJobId: string, summary: FarmSummary, offset = 0, limit = summary.tasks_total): FarmTaskState[] {
    const farm = this.#farms.get(`${userId}\u0000${farmJobId}`);
    const ended = farm && isTerminalJobStatus(farm.status) ? farm.status : undefined;
    const budget = attemptBudget(summary);
    const ids = farmTaskIds(farmJobId, summary).slice(offset, offset + limit);
    return ids.map((taskId) => {
      const attempts = (farm?.tasks.get(taskId) ?? []).filter((attempt): attempt is TalliedAttempt => attempt !== undefined);
      const shown = attempts.map(({ job_id, status, target_uuid, error }) => ({ job_id, status, target_uuid, error }));
      // A task never attempted waits, or ended with its farm job without running.
      return { task_id: taskId, status: shown.length === 0 ? (ended ?? "queued") : taskStatus(shown, budget), attempts: shown };
    });
  }

  /**
   * Each task's attempts with the files each noted (JobStore.noteArtifact), oldest first:
   * what a farm job's files are chosen from (job-artifacts.ts).
   */
  attemptFiles(userId: string, farmJobId: string, summary: FarmSummary): { status: string; artifacts: StoredArtifact[] }[][] {
    const farm = this.#farms.get(`${userId}\u0000${farmJobId}`);
    return farmTaskIds(farmJobId, summary).map((taskId) =>
      (farm?.tasks.get(taskId) ?? []).filter((attempt): attempt is TalliedAttempt => attempt !== undefined).map(({ status, artifacts }) => ({ status, artifacts })),
    );
  }

  /** A farm job's progress in constant size. `now`: epoch seconds. */
  summarize(userId: string, farmJobId: string, summary: FarmSummary, farmStatus: string, now: number): FarmTallySummary {
    const farm = this.#farms.get(`${userId}\u0000${farmJobId}`);
    const budget = attemptBudget(summary);
    const byStatus: Record<string, number> = {};
    let itemsDone = 0;
    let failedAttempts = 0;
    let firstStarted: number | null = null;
    let lastCompleted: number | null = null;
    let seen = 0;
    const failures: (FailedAttempt & { at: number })[] = [];
    for (const [taskId, tallied] of farm?.tasks ?? []) {
      const index = farmTaskIndex(farmJobId, taskId);
      if (index === undefined || index >= summary.tasks_total) continue;
      seen += 1;
      const attempts = tallied.filter((attempt): attempt is TalliedAttempt => attempt !== undefined);
      const status = taskStatus(attempts, budget);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      for (const attempt of attempts) {
        if (attempt.started_at !== null && (firstStarted === null || attempt.started_at < firstStarted)) firstStarted = attempt.started_at;
        if (attempt.status === "failed" || attempt.status === "lost") {
          failedAttempts += 1;
          failures.push({ task_id: taskId, job_id: attempt.job_id, status: attempt.status, target_uuid: attempt.target_uuid, error: attempt.error, at: attempt.updated_at });
        }
        if (attempt.status === "completed") {
          itemsDone += itemsOfTask(summary, index);
          if (lastCompleted === null || attempt.updated_at > lastCompleted) lastCompleted = attempt.updated_at;
        }
      }
    }
    // Tasks with no attempt yet wait, or ended with their farm job without running.
    const unseen = summary.tasks_total - seen;
    const never = isTerminalJobStatus(farmStatus) ? farmStatus : "queued";
    if (unseen > 0) byStatus[never] = (byStatus[never] ?? 0) + unseen;
    const completed = byStatus.completed ?? 0;
    const running = farmStatus === "running" && !summary.paused;
    const elapsed = firstStarted === null ? 0 : now - firstStarted;
    const eta = running && completed > 0 && elapsed > 0 ? Math.round(((summary.tasks_total - completed) * elapsed) / completed) : null;
    return {
      tasks_total: summary.tasks_total,
      tasks_by_status: byStatus,
      items_total: summary.items_total,
      items_done: itemsDone,
      failed_attempts: failedAttempts,
      recent_failures: failures
        .sort((a, b) => b.at - a.at)
        .slice(0, RECENT_FAILURES)
        .map(({ at: _at, ...failure }) => failure),
      first_started_at: firstStarted,
      last_completed_at: lastCompleted,
      eta_seconds: eta,
    };
  }
}
