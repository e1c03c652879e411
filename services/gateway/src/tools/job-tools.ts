/**
 * Job tools (DESIGN.md section 5): submit work without waiting, follow it from any replica
 * (job records live in KV), collect its result, list, cancel.
 */
import {
  JobIdInputSchema,
  JobStatusInputSchema,
  ListJobsInputSchema,
  SubmitInputSchema,
  CancelOutcomeSchema,
  DISPATCH_COMMAND_NAMES,
  findDispatchCommand,
  isTerminalJobStatus,
  subjectForClient,
  toInvalidParamsResult,
  type JobRecord,
} from "@blender-fabric/protocol";
import { createEnvelope, parseJsonSafely, watchJob } from "@blender-fabric/bus";
import { defineTool, type ToolDefinition } from "../mcp/tool-catalog.js";
import type { ToolContext } from "../mcp/tool-context.js";
import { finishedJobResult, startCommand } from "../dispatch/dispatch-command.js";
import { refuseCaller } from "./caller-checks.js";

/** How long a cancel waits for the target bridge to answer. ms */
const CANCEL_TIMEOUT_MS = 5_000;

const notFound = (jobId: string) => ({ status: "not_found", job_id: jobId, error: `No job ${jobId} on your bus.` });

/**
 * A job whose peer is gone will never finish: its queue died with the bridge. Reading such a
 * job settles it as `lost`. (Bridges heartbeat from Node, not from Blender's main thread, so a
 * long render does not make its peer stale.)
 */
async function settleOrphan(context: ToolContext, record: JobRecord): Promise<JobRecord> {
  if (isTerminalJobStatus(record.status) || !record.target_uuid) return record;
  const { registry, jobs } = context.services;
  const target = await registry.get(context.identity.userId, record.target_uuid);
  if (target && !registry.isStale(target)) return record;
  const error = `${record.target_uuid} went away before the job finished.`;
  const { record: settled } = await jobs.advance(context.identity.userId, record.job_id, { status: "lost", error });
  return settled ?? record;
}

/** The caller's job, settled if its peer is gone; undefined when there is no such job. */
async function readJob(context: ToolContext, jobId: string): Promise<JobRecord | undefined> {
  const record = await context.services.jobs.get(context.identity.userId, jobId);
  return record && settleOrphan(context, record);
}

/** A job record as the job tools show it; `result` only once finished. */
function describeJob(record: JobRecord) {
  const { bus_id: _bus, result, ...rest } = record;
  return isTerminalJobStatus(record.status) ? { ...rest, result: finishedJobResult(record).result } : rest;
}

const submit = defineTool({
  name: "blender_submit",
  description:
    "Queue a command on a Blender peer without waiting; returns the job_id for blender_job_status. " +
    `command is one of: ${DISPATCH_COMMAND_NAMES.join(", ")}.`,
  inputSchema: SubmitInputSchema,
  async handler(input, context) {
    const refusal = refuseCaller(context, input.bus_id);
    if (refusal) return refusal;
    const command = findDispatchCommand(input.command);
    if (!command) {
      return { status: "invalid_params", field: "command", error: `command: unknown command ${input.command}` };
    }
    const params = command.params.safeParse(input.params);
    if (!params.success) {
      const invalid = toInvalidParamsResult(params.error);
      return { ...invalid, field: `params.${invalid.field}`, error: `params.${invalid.error}` };
    }
    const started = await startCommand(context, { command: command.name, params: params.data, selector: input.target_uuid });
    if ("status" in started) return { ...started, command: command.name };
    return { status: "queued", job_id: started.jobId, command: command.name, target_uuid: started.target.uuid };
  },
});

const jobStatus = defineTool({
  name: "blender_job_status",
  description: "A job's status and progress. wait_seconds (up to 50) long-polls until the job finishes.",
  inputSchema: JobStatusInputSchema,
  async handler(input, context) {
    const { jobs, nc } = context.services;
    const userId = context.identity.userId;
    let record = await readJob(context, input.job_id);
    if (!record) return notFound(input.job_id);
    if (input.wait_seconds > 0 && !isTerminalJobStatus(record.status)) {
      const watch = watchJob(nc, userId, input.job_id);
      try {
        await nc.flush();
        // Read again: the job may have finished between the first read and the subscription.
        record = (await jobs.get(userId, input.job_id)) ?? record;
        if (!isTerminalJobStatus(record.status)) await watch.terminal(input.wait_seconds * 1000);
      } finally {
        watch.stop();
      }
      record = (await jobs.get(userId, input.job_id)) ?? record;
    }
    return describeJob(record);
  },
});

const jobResult = defineTool({
  name: "blender_job_result",
  description: "The result of a finished job, in the dispatch tools' shape.",
  inputSchema: JobIdInputSchema,
  async handler(input, context) {
    const record = await readJob(context, input.job_id);
    if (!record) return notFound(input.job_id);
    if (!isTerminalJobStatus(record.status)) {
      return { status: record.status, job_id: record.job_id, message: "The job has not finished; see blender_job_status." };
    }
    return finishedJobResult(record);
  },
});

const listJobs = defineTool({
  name: "blender_list_jobs",
  description: "Your jobs, newest first, optionally only those with one status.",
  inputSchema: ListJobsInputSchema,
  async handler(input, context) {
    const records = await Promise.all(
      (await context.services.jobs.list(context.identity.userId)).map((record) => settleOrphan(context, record)),
    );
    const matching = records.filter((record) => input.status === null || record.status === input.status);
    return { status: "ok", total: matching.length, jobs: matching.slice(0, input.limit).map(describeJob) };
  },
});

/** Asks the job's peer to drop it (queued) or flag it (running script). */
async function askPeerToCancel(context: ToolContext, record: JobRecord) {
  const userId = context.identity.userId;
  const envelope = createEnvelope({
    userId,
    fromUuid: `server:${userId}`,
    routing: { type: "direct", target_uuid: record.target_uuid! },
    priority: "alert",
    jobId: record.job_id,
    payload: { message_type: "job_cancel", job_id: record.job_id },
  });
  try {
    const reply = await context.services.nc.request(
      subjectForClient(userId, record.target_uuid!),
      JSON.stringify(envelope),
      { timeout: CANCEL_TIMEOUT_MS },
    );
    const answer = parseJsonSafely(reply) as { outcome?: unknown } | undefined;
    return CancelOutcomeSchema.parse(answer?.outcome);
  } catch {
    return undefined; // the peer is gone
  }
}

const jobCancel = defineTool({
  name: "blender_job_cancel",
  description:
    "Cancel a job: a queued job is removed; a running script is asked to stop at its next report_progress.",
  inputSchema: JobIdInputSchema,
  async handler(input, context) {
    const { jobs } = context.services;
    const userId = context.identity.userId;
    const record = await jobs.get(userId, input.job_id);
    if (!record) return notFound(input.job_id);
    if (isTerminalJobStatus(record.status) || !record.target_uuid) {
      return { status: "not_cancellable", job_id: record.job_id, job_status: record.status };
    }
    const outcome = await askPeerToCancel(context, record);
    if (outcome === "removed_from_queue") return { status: "cancelled", job_id: record.job_id };
    if (outcome === "cancel_requested") {
      return { status: "cancelling", job_id: record.job_id, message: "The running script stops at its next report_progress." };
    }
    if (outcome === undefined) {
      const { registry } = context.services;
      const target = await registry.get(userId, record.target_uuid);
      if (target && !registry.isStale(target)) {
        // A live peer that did not answer may still run the job: do not claim otherwise.
        return { status: "not_cancellable", job_id: record.job_id, job_status: record.status, message: `${record.target_uuid} did not answer; try again.` };
      }
      // The peer is gone, and its queue with it: the job will never run.
      await jobs.advance(userId, record.job_id, { status: "cancelled", error: "cancelled; the peer is gone" });
      return { status: "cancelled", job_id: record.job_id, message: `${record.target_uuid} is no longer live.` };
    }
    const now = await jobs.get(userId, record.job_id);
    return { status: "not_cancellable", job_id: record.job_id, job_status: now?.status ?? record.status };
  },
});

export const createJobTools = (): ToolDefinition[] => [submit, jobStatus, jobResult, listJobs, jobCancel];
