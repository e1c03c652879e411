/**
 * A farm job's controls after submission: pause, resume, requeue its failed tasks, change its
 * priority (blender_farm_control, the CLI, the dashboard).
 *
 * A task's message is where a peer finds it, so every control is a change of the farm
 * record followed, where tasks must come back, by publishing them again:
 *   - pause marks the record; a peer that takes one of its tasks drops the message (parks it)
 *     unless the task's attempt is running (farm-attempts.ts), so no attempt starts;
 *   - resume, requeue and a priority change write the record first, then publish every task
 *     that has not ended and is not running, on the job's (new) priority lane, with a message
 *     id made from the record's new revision (a second resume publishes again; a retried one
 *     lands once). A copy still waiting on an old lane is dropped by the peer that takes it;
 *     two copies of one task are harmless: the attempt's record lets one peer run it.
 * Why "not running" is enough: a running attempt's message is held by its peer and comes back
 * if the attempt fails; a task whose attempt failed while paused had its message parked, and
 * because the record is written before the tasks are read, this publishes it again.
 */
import { FarmSummarySchema, MAX_FARM_ATTEMPT_BUDGET, attemptBudget, isTerminalJobStatus, type FarmPriority, type FarmSummary, type JobRecord } from "@blender-fabric/protocol";
import type { ArtifactStore, WorkStream } from "@blender-fabric/bus";
import type { JobStore } from "./job-store.js";
import { readFarmProgress } from "./farm-progress.js";
import { farmTaskEnvelope, readFarmSpec } from "./farm-spec.js";

export type FarmControlStores = { jobs: JobStore; work: WorkStream; artifacts: ArtifactStore };

export type FarmControlRequest =
  | { action: "pause" }
  | { action: "resume" }
  | { action: "requeue_failed" }
  | { action: "set_priority"; priority: FarmPriority };

export type FarmControlAnswer =
  | { status: "ok"; job_id: string; job_status: string; paused: boolean; priority: FarmPriority; tasks_published: number; message: string }
  | { status: "not_controllable"; job_id: string; job_status: string; error: string };

/** What each action does to the record; undefined when it has nothing to do. */
function changeFor(request: FarmControlRequest): (job: JobRecord, summary: FarmSummary) => JobRecord | undefined {
  switch (request.action) {
    case "pause":
      return (job, summary) => (summary.paused || isTerminalJobStatus(job.status) ? undefined : { ...job, progress_message: "paused", result: { ...summary, paused: true } });
    case "resume":
      return (job, summary) => (!summary.paused || isTerminalJobStatus(job.status) ? undefined : { ...job, progress_message: "", result: { ...summary, paused: false } });
    case "set_priority":
      return (job, summary) => (summary.priority === request.priority || isTerminalJobStatus(job.status) ? undefined : { ...job, result: { ...summary, priority: request.priority } });
    case "requeue_failed":
      return (job, summary) => {
        if (attemptBudget({ ...summary, requeues: summary.requeues + 1 }) > MAX_FARM_ATTEMPT_BUDGET) return undefined;
        const requeued = { ...summary, requeues: summary.requeues + 1, failures: {} };
        return job.status === "failed"
          ? { ...job, status: "queued", error: "", progress: 0, progress_message: "requeued", result: requeued }
          : { ...job, result: requeued };
      };
  }
}

/** Why an action did nothing, in words for the caller. */
function whyNot(request: FarmControlRequest, record: JobRecord | undefined, summary: FarmSummary | undefined): string {
  if (!record || !summary) return "not a farm job";
  if (isTerminalJobStatus(record.status) && !(request.action === "requeue_failed" && record.status === "failed")) return `the job has ended (${record.status})`;
  if (request.action === "pause") return "the job is paused already";
  if (request.action === "resume") return "the job is not paused";
  if (request.action === "set_priority") return `the job's priority is ${request.priority} already`;
  return `its tasks have had ${attemptBudget(summary)} attempts each; at most ${MAX_FARM_ATTEMPT_BUDGET} are allowed`;
}

export async function controlFarm(stores: FarmControlStores, userId: string, farmJobId: string, request: FarmControlRequest): Promise<FarmControlAnswer> {
  const { jobs } = stores;
  if (request.action === "requeue_failed") {
    const refusal = await nothingToRequeue(jobs, userId, farmJobId);
    if (refusal) return refusal;
  }
  const written = await jobs.changeFarm(userId, farmJobId, changeFor(request));
  const record = written.record;
  const summary = FarmSummarySchema.safeParse(record?.result).data;
  if (!written.changed || !record || !summary) {
    const current = record ?? (await jobs.get(userId, farmJobId));
    return { status: "not_controllable", job_id: farmJobId, job_status: current?.status ?? "unknown", error: whyNot(request, current, summary) };
  }
  const published = request.action === "pause" || summary.paused ? 0 : await publishWaitingTasks(stores, record, summary, written.revision);
  const messages = {
    pause: "No task starts a new attempt; running attempts finish.",
    resume: "Its waiting tasks were published again.",
    requeue_failed: "Tasks that failed every attempt got more attempts; its blocklist is cleared.",
    set_priority: `Its waiting tasks moved to priority ${summary.priority}.`,
  };
  return {
    status: "ok",
    job_id: farmJobId,
    job_status: record.status,
    paused: summary.paused,
    priority: summary.priority,
    tasks_published: published,
    message: messages[request.action],
  };
}

/**
 * A requeue needs something to requeue: a failed farm job (its tasks failed, or every peer
 * was blocklisted), or a task that failed every attempt it had.
 */
async function nothingToRequeue(jobs: JobStore, userId: string, farmJobId: string): Promise<FarmControlAnswer | undefined> {
  const farm = await jobs.get(userId, farmJobId);
  if (!farm || farm.status === "failed" || isTerminalJobStatus(farm.status)) return undefined; // changeFarm says why not
  const progress = await readFarmProgress(jobs, farm);
  if (progress?.tasks.some((task) => task.status === "failed" || task.status === "lost")) return undefined;
  return { status: "not_controllable", job_id: farmJobId, job_status: farm.status, error: "no task has failed every attempt it had: nothing to requeue" };
}

/** Publishes every task of the job that has not ended and is not running. Returns how many. */
async function publishWaitingTasks(stores: FarmControlStores, farm: JobRecord, summary: FarmSummary, revision: number): Promise<number> {
  const { jobs, work, artifacts } = stores;
  const userId = farm.bus_id;
  const [progress, spec] = await Promise.all([readFarmProgress(jobs, farm), readFarmSpec(artifacts, userId, farm.job_id)]);
  if (!progress || !spec) return 0;
  // `retrying`: its last attempt failed and it has attempts left (with the new budget, too).
  const waiting = progress.tasks.map((task, index) => ({ task, index })).filter(({ task }) => task.status === "queued" || task.status === "retrying");
  await Promise.all(
    waiting.map(({ task, index }) =>
      work.publishFarmTask(userId, summary.group_id, summary.priority, farmTaskEnvelope(userId, farm.job_id, summary, spec, index), `${task.task_id}@${revision}`),
    ),
  );
  return waiting.length;
}
