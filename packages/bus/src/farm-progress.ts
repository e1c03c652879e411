/**
 * How far a farm job has come, read from its tasks' own records (each task is a job).
 * The reaper settles a farm job from this; `blender_job_status` shows it.
 */
import { FarmSummarySchema, isTerminalJobStatus, type JobRecord } from "@blender-fabric/protocol";
import type { JobStore } from "./jobs.js";

export type FarmTaskState = Pick<JobRecord, "job_id" | "status" | "target_uuid" | "error">;

export type FarmProgress = {
  group_id: string;
  items_total: number;
  tasks_total: number;
  tasks_by_status: Record<string, number>;
  tasks: FarmTaskState[];
  /** Every task has a record, and every record has ended. */
  ended: boolean;
};

/** The progress of a farm job; undefined when the record is not a farm job. */
export async function readFarmProgress(jobs: JobStore, farm: JobRecord): Promise<FarmProgress | undefined> {
  const summary = FarmSummarySchema.safeParse(farm.result);
  if (farm.kind !== "farm" || !summary.success) return undefined;
  const records = await Promise.all(summary.data.task_ids.map((taskId) => jobs.get(farm.bus_id, taskId)));
  const tasks = records.flatMap((record) =>
    record ? [{ job_id: record.job_id, status: record.status, target_uuid: record.target_uuid, error: record.error }] : [],
  );
  const tasksByStatus: Record<string, number> = {};
  for (const task of tasks) tasksByStatus[task.status] = (tasksByStatus[task.status] ?? 0) + 1;
  return {
    group_id: summary.data.group_id,
    items_total: summary.data.items_total,
    tasks_total: summary.data.task_ids.length,
    tasks_by_status: tasksByStatus,
    tasks,
    ended: tasks.length === summary.data.task_ids.length && tasks.every((task) => isTerminalJobStatus(task.status)),
  };
}

/** How a farm job ends once every task has: completed only if every task completed. */
export function farmOutcome(progress: FarmProgress): { status: "completed" | "failed"; error: string } {
  const unfinished = progress.tasks.filter((task) => task.status !== "completed");
  if (unfinished.length === 0) return { status: "completed", error: "" };
  const examples = unfinished.slice(0, 3).map((task) => `${task.job_id} ${task.status}: ${task.error.split("\n")[0]}`);
  return { status: "failed", error: `${unfinished.length} of ${progress.tasks_total} tasks did not complete (${examples.join("; ")})` };
}
