/**
 * How far a farm job has come, read from the records of its tasks' attempts (each attempt is
 * a job). The reaper settles a farm job from this; `blender_job_status` shows it; a bridge
 * reads one task's attempts before it makes another.
 */
import { FarmSummarySchema, attemptBudget, farmTaskIds, isTerminalJobStatus, type FarmPriority, type JobRecord } from "@blender-fabric/protocol";
import { blocklistedPeers, farmAttemptJobId } from "./farm-rules.js";
import type { JobStore } from "./job-store.js";

export type FarmAttempt = Pick<JobRecord, "job_id" | "status" | "target_uuid" | "error">;

/** One task: its attempts, oldest first, and the status of the last. */
export type FarmTaskState = { task_id: string; status: string; attempts: FarmAttempt[] };

export type FarmProgress = {
  group_id: string | null;
  /** Idle peers take tasks of higher-priority farm jobs first. */
  priority: FarmPriority;
  /** No task starts a new attempt while paused. */
  paused: boolean;
  /** Failed or lost attempts per peer. */
  failures: Record<string, number>;
  /** Peers that take no more of this job's tasks. */
  blocklisted: string[];
  items_total: number;
  tasks_total: number;
  tasks_by_status: Record<string, number>;
  tasks: FarmTaskState[];
  /** Every task completed, or its last attempt ended with no attempt left. */
  ended: boolean;
};

/**
 * The attempts recorded so far for one task, oldest first. `at once`: every possible attempt's
 * record is asked for together (one round trip instead of one per attempt, for a peer waiting
 * on its next task); otherwise one after another, stopping at the first missing.
 */
export async function readAttempts(jobs: JobStore, userId: string, taskJobId: string, maxAttempts: number, options: { atOnce?: boolean } = {}): Promise<FarmAttempt[]> {
  const read = (attempt: number) => jobs.get(userId, farmAttemptJobId(taskJobId, attempt));
  const numbers = Array.from({ length: maxAttempts }, (_, index) => index + 1);
  const prefetched = options.atOnce ? await Promise.all(numbers.map(read)) : undefined;
  const attempts: FarmAttempt[] = [];
  for (const attempt of numbers) {
    const record = prefetched ? prefetched[attempt - 1] : await read(attempt);
    if (!record) break;
    attempts.push({ job_id: record.job_id, status: record.status, target_uuid: record.target_uuid, error: record.error });
  }
  return attempts;
}

/** Whether a task with these attempts is over: completed, or failed with no attempt left. */
export const taskEnded = (attempts: FarmAttempt[], maxAttempts: number): boolean => {
  const last = attempts.at(-1);
  if (!last || !isTerminalJobStatus(last.status)) return false;
  return last.status === "completed" || last.status === "expired" || last.status === "cancelled" || attempts.length >= maxAttempts;
};

/** A task's status from its attempts: its last attempt's, `retrying` when a failed one has attempts left. */
export function taskStatus(attempts: FarmAttempt[], budget: number): string {
  const last = attempts.at(-1)?.status ?? "queued";
  return isTerminalJobStatus(last) && last !== "completed" && !taskEnded(attempts, budget) ? "retrying" : last;
}

/** The progress of a farm job; undefined when the record is not a farm job. */
export async function readFarmProgress(jobs: JobStore, farm: JobRecord): Promise<FarmProgress | undefined> {
  const summary = FarmSummarySchema.safeParse(farm.result);
  if (farm.kind !== "farm" || !summary.success) return undefined;
  const taskIds = farmTaskIds(farm.job_id, summary.data);
  const maxAttempts = attemptBudget(summary.data);
  const tasks = await Promise.all(
    taskIds.map(async (taskId): Promise<FarmTaskState> => {
      const attempts = await readAttempts(jobs, farm.bus_id, taskId, maxAttempts);
      // No attempt yet: it waits (its first is recorded by the peer that takes it), or it
      // ends with its farm job (cancelled, expired) without ever running.
      const status = attempts.length === 0 ? (isTerminalJobStatus(farm.status) ? farm.status : "queued") : taskStatus(attempts, maxAttempts);
      return { task_id: taskId, status, attempts };
    }),
  );
  const tasksByStatus: Record<string, number> = {};
  for (const task of tasks) tasksByStatus[task.status] = (tasksByStatus[task.status] ?? 0) + 1;
  return {
    group_id: summary.data.group_id,
    priority: summary.data.priority,
    paused: summary.data.paused,
    failures: summary.data.failures,
    blocklisted: blocklistedPeers(summary.data),
    items_total: summary.data.items_total,
    tasks_total: taskIds.length,
    tasks_by_status: tasksByStatus,
    tasks,
    ended: tasks.every((task) => taskEnded(task.attempts, maxAttempts)),
  };
}

/** How a farm job ends once every task has: completed only if every task completed. */
export function farmOutcome(progress: FarmProgress): { status: "completed" | "failed"; error: string } {
  const unfinished = progress.tasks.filter((task) => task.status !== "completed");
  if (unfinished.length === 0) return { status: "completed", error: "" };
  const examples = unfinished.slice(0, 3).map((task) => {
    const last = task.attempts.at(-1);
    return `${task.task_id} ${task.status} after ${task.attempts.length} attempt(s): ${(last?.error ?? "").split("\n")[0]}`;
  });
  return { status: "failed", error: `${unfinished.length} of ${progress.tasks_total} tasks did not complete (${examples.join("; ")})` };
}
