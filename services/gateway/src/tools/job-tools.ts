/**
 * Job tools (DESIGN.md section 5): submit work without waiting, follow it from any replica
 * (job records live in KV), collect its result, list, cancel.
 */
import {
  FarmSummarySchema,
  JobIdInputSchema,
  JobStatusInputSchema,
  ListJobsInputSchema,
  SubmitInputSchema,
  DISPATCH_COMMAND_NAMES,
  findDispatchCommand,
  isTerminalJobStatus,
  toInvalidParamsResult,
  type JobEvent,
  ToolOutputSchemas,
  withParsedResult,
  type JobRecord,
} from "@blender-fabric/protocol";
import { isRefusal, readFarmProgress, watchJob } from "@blender-fabric/engine";
import { defineTool, withImages, type ToolDefinition } from "../mcp/tool-catalog.js";
import type { ToolContext } from "../mcp/tool-context.js";
import { finishedJobResult } from "../dispatch/dispatch-command.js";
import { askPeerToCancel, cancelJob } from "../dispatch/cancel-job.js";
import { refuseCaller } from "./caller-checks.js";
import { farmStatus } from "./farm-status.js";

const notFound = (jobId: string) => ({ status: "not_found", job_id: jobId, error: `No job ${jobId} on your bus.` });

/**
 * A job record as the job tools show it; `result` only once finished. A farm job's result is
 * its summary, which blender_job_status shows as `farm`; listed, it shows its size and state.
 */
function describeJob(record: JobRecord) {
  const { bus_id: _bus, result, ...rest } = record;
  if (record.kind === "farm") {
    const summary = FarmSummarySchema.safeParse(result);
    return summary.success
      ? { ...rest, tasks_total: summary.data.tasks_total, items_total: summary.data.items_total, group_id: summary.data.group_id, priority: summary.data.priority, paused: summary.data.paused }
      : rest;
  }
  return isTerminalJobStatus(record.status) ? { ...rest, result: finishedJobResult(record).result } : rest;
}

const submit = defineTool({
  name: "blender_submit",
  title: "Queue a command",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  outputSchema: ToolOutputSchemas.submit,
  description:
    "Queue a command on a Blender peer without waiting; returns the job_id for blender_job_status. " +
    "Work not started within deadline_seconds never starts (status expired). Pass a request_id and " +
    "reuse it when you retry, so a retry never queues the command twice. " +
    `command is one of: ${DISPATCH_COMMAND_NAMES.join(", ")}.`,
  inputSchema: SubmitInputSchema,
  async handler(input, context) {
    const refusal = refuseCaller(context, input.bus_id);
    if (refusal) return refusal;
    // The input schema admits only the catalog's commands.
    const command = findDispatchCommand(input.command)!;
    const params = command.params.safeParse(input.params);
    if (!params.success) {
      const invalid = toInvalidParamsResult(params.error);
      return { ...invalid, field: `params.${invalid.field}`, error: `params.${invalid.error}` };
    }
    const request = {
      tool: "blender_submit",
      command: command.name,
      params: params.data,
      selector: input.target_uuid,
      requestId: input.request_id,
      deadline: Date.now() / 1000 + input.deadline_seconds,
    };
    const { engine } = context.services;
    const ticket = await engine.ticket(context.identity.userId, request);
    if ("status" in ticket) return ticket;
    const queued = await engine.queueCommand(context.identity.userId, ticket, request);
    if (isRefusal(queued)) return { ...queued, command: command.name };
    return { status: queued.record.status, job_id: queued.jobId, command: command.name, target_uuid: queued.targetUuid };
  },
});

const jobStatus = defineTool({
  name: "blender_job_status",
  title: "Job status",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.jobStatus,
  // The job it reports may have failed; the call itself fails only for an unknown job.
  isError: (answer) => answer.status === "not_found",
  description:
    "A job's status and progress. wait_seconds (up to 50) long-polls until the job finishes. For a farm job: a " +
    "summary (tasks by status, items done, failed attempts and the latest failures, blocklisted peers, ETA; for a render " +
    "frames_done/frames_total and the last rendered frame, which include_preview returns as an image) and a page of its " +
    "tasks with their attempts (tasks_offset, tasks_limit; 0 for the summary alone).",
  inputSchema: JobStatusInputSchema,
  async handler(input, context) {
    const { jobs, nc } = context.services;
    const userId = context.identity.userId;
    let record = await jobs.get(userId, input.job_id);
    if (!record) return notFound(input.job_id);
    // Someone follows this farm job: it need not expire for want of an owner (owner_timeout_seconds).
    await jobs.noteFarmOwner(record).catch(() => {});
    if (input.wait_seconds > 0 && !isTerminalJobStatus(record.status)) {
      let ended: JobEvent | undefined;
      const watch = watchJob(nc, userId, input.job_id);
      try {
        await nc.flush();
        // Read again: the job may have finished between the first read and the subscription.
        record = (await jobs.get(userId, input.job_id)) ?? record;
        if (!isTerminalJobStatus(record.status)) ended = await watch.terminal(input.wait_seconds * 1000);
      } finally {
        watch.stop();
      }
      record = (await readAfterEnd(context, input.job_id, ended !== undefined)) ?? record;
    }
    const page = { offset: input.tasks_offset, limit: input.tasks_limit };
    const farm = record.kind === "farm" ? await farmStatus(context, record, page, input.include_preview) : undefined;
    return farm ? withImages({ ...describeJob(record), farm: farm.farm }, farm.images) : describeJob(record);
  },
});

/** How long a read after a job's terminal event retries for the record to show that end. ms */
const END_VISIBLE_WITHIN_MS = 2_000;

/**
 * The job's record after its wait. When its end was announced, the record is read until it
 * shows an end: a KV read may be answered by a cluster replica that has not applied the
 * write yet (direct get), and a caller told to wait for the end must not get `running`.
 */
async function readAfterEnd(context: ToolContext, jobId: string, endAnnounced: boolean): Promise<JobRecord | undefined> {
  const deadline = Date.now() + END_VISIBLE_WITHIN_MS;
  for (;;) {
    const record = await context.services.jobs.get(context.identity.userId, jobId);
    if (!endAnnounced || !record || isTerminalJobStatus(record.status) || Date.now() > deadline) return record;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const jobResult = defineTool({
  name: "blender_job_result",
  title: "Job result",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.jobResult,
  structured: withParsedResult,
  description: "The result of a finished job, in the dispatch tools' shape.",
  inputSchema: JobIdInputSchema,
  async handler(input, context) {
    const record = await context.services.jobs.get(context.identity.userId, input.job_id);
    if (!record) return notFound(input.job_id);
    if (!isTerminalJobStatus(record.status)) {
      return { status: record.status, job_id: record.job_id, message: "The job has not finished; see blender_job_status." };
    }
    return finishedJobResult(record);
  },
});

const listJobs = defineTool({
  name: "blender_list_jobs",
  title: "List jobs",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.listJobs,
  description: "Your jobs, newest first, optionally only those with one status. A farm job is one row (its attempts only with include_attempts).",
  inputSchema: ListJobsInputSchema,
  async handler(input, context) {
    const records = await context.services.jobs.list(context.identity.userId, { attempts: input.include_attempts });
    const matching = records.filter(
      (record) => (input.status === null || record.status === input.status) && (input.include_attempts || record.parent_job_id === null),
    );
    return { status: "ok", total: matching.length, jobs: matching.slice(0, input.limit).map(describeJob) };
  },
});

const jobCancel = defineTool({
  name: "blender_job_cancel",
  title: "Cancel a job",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.jobCancel,
  description:
    "Cancel a job: a queued job never starts; running code (a script, execute_code) is asked to stop at its next report_progress.",
  inputSchema: JobIdInputSchema,
  async handler(input, context) {
    const record = await context.services.jobs.get(context.identity.userId, input.job_id);
    if (!record) return notFound(input.job_id);
    if (record.kind === "farm") return cancelFarm(context, record);
    return cancelJob(context, record);
  },
});

/**
 * A farm job is cancelled first (so no task makes another attempt), then its queued attempts
 * are cancelled and its running ones asked to stop. Finished tasks keep their results.
 */
async function cancelFarm(context: ToolContext, farm: JobRecord) {
  const { jobs } = context.services;
  const userId = context.identity.userId;
  if (isTerminalJobStatus(farm.status)) return { status: "not_cancellable", job_id: farm.job_id, job_status: farm.status };
  const cancelled = await jobs.advanceFarm(userId, farm.job_id, { status: "cancelled", error: "cancelled by its caller" });
  if (cancelled?.status !== "cancelled") return { status: "not_cancellable", job_id: farm.job_id, job_status: cancelled?.status ?? farm.status };
  const progress = await readFarmProgress(jobs, cancelled);
  const lastAttempts = (progress?.tasks ?? []).map((task) => task.attempts.at(-1));
  const outcomes = await Promise.all(
    lastAttempts.map(async (attempt) => {
      // Never taken by a peer: it never will be now (a peer drops a cancelled job's task).
      if (!attempt) return "removed";
      if (attempt.status === "queued") {
        return (await jobs.cancelQueued(userId, attempt.job_id, "its farm job was cancelled"))?.status === "cancelled" ? "removed" : "ended";
      }
      if (attempt.status !== "running") return "ended";
      const record = await jobs.get(userId, attempt.job_id);
      return record && (await askPeerToCancel(context, record)) === "cancel_requested" ? "stopping" : "running";
    }),
  );
  const count = (outcome: string) => outcomes.filter((value) => value === outcome).length;
  return {
    status: "cancelled",
    job_id: farm.job_id,
    tasks_removed: count("removed"),
    tasks_stopping: count("stopping"),
    message: "No task starts again; running scripts stop at their next report_progress; finished tasks keep their results.",
  };
}

export const createJobTools = (): ToolDefinition[] => [submit, jobStatus, jobResult, listJobs, jobCancel];
