/**
 * Starting a job, the same for the dispatch tools and `blender_submit`: find the job id (a
 * new one, or the one an earlier request with the same `request_id` got), record the job in
 * KV with its deadline, and store its work on the target's durable work subject. A job
 * exists in KV before its work is queued, so the peer's claim always finds it.
 *
 * A `project:<id>` target is not looked up: its work waits on the project's subject for
 * whichever peer serves the project (the pool starts one when none is live), and the record
 * names the project until a peer claims the job and writes its own uuid there.
 */
import { randomUUID } from "node:crypto";
import { newJobRecord, projectOfTarget, requestFingerprint, type JobRecord } from "@blender-fabric/protocol";
import { JobExistsError, createEnvelope, type HeldJob } from "@blender-fabric/bus";
import type { ToolContext } from "../mcp/tool-context.js";
import { isRefusal, pickTarget, type TargetRefusal } from "./pick-target.js";

export const newJobId = () => `j-${randomUUID().replaceAll("-", "").slice(0, 12)}`;

export type JobRequest = {
  /** The tool taking the request, remembered with its request id. */
  tool: string;
  command: string;
  params: Record<string, unknown>;
  selector: string | null;
  requestId: string | null;
  /** Work not started by then never starts. Seconds since the epoch. */
  deadline: number;
};

/** The job a request runs as; `repeat` when an earlier request with its request_id made it. */
export type JobTicket = { jobId: string; repeat: boolean };

export type QueuedJob = { jobId: string; targetUuid: string; record: JobRecord };

/** A request id already used for other work: the caller reused a key by mistake. */
export type RequestIdConflict = { status: "invalid_params"; field: "request_id"; error: string };

export async function ticketFor(
  context: ToolContext,
  request: Pick<JobRequest, "tool" | "requestId" | "command" | "params">,
): Promise<JobTicket | RequestIdConflict> {
  const jobId = newJobId();
  if (!request.requestId) return { jobId, repeat: false };
  // blender_submit and the dispatch tool of the same command with the same params are one request.
  const fingerprint = requestFingerprint({ command: request.command, params: request.params });
  const claim = await context.services.requests.claim(context.identity.userId, request.requestId, {
    job_id: jobId,
    tool: request.tool,
    fingerprint,
  });
  if (claim.record.fingerprint !== fingerprint) {
    return {
      status: "invalid_params",
      field: "request_id",
      error: `request_id: already used by ${claim.record.tool} for other work (job ${claim.record.job_id}); choose a new one`,
    };
  }
  return { jobId: claim.record.job_id, repeat: !claim.first };
}

/**
 * Records the job and queues its work. A repeat finds the job instead; if that job has not
 * started, its work is queued again, because the gateway that took the first request may
 * have died before queuing it (the stream drops the copy if it had not).
 */
export async function queueJob(context: ToolContext, ticket: JobTicket, request: JobRequest): Promise<QueuedJob | TargetRefusal> {
  const { jobs, registry } = context.services;
  const userId = context.identity.userId;
  let entry = ticket.repeat ? await jobs.entry(userId, ticket.jobId) : undefined;
  if (entry && entry.record.status !== "queued") {
    return { jobId: ticket.jobId, targetUuid: entry.record.target_uuid ?? "", record: entry.record };
  }
  if (!entry) {
    const over = refuseOverWorkQuota(context, 1);
    if (over) return over;
    const project = projectOfTarget(request.selector);
    if (project === "") return { status: "unknown_target", target_uuid: request.selector!, error: "target_uuid: name the project, as in project:<id>" };
    const target = project === undefined ? await pickTarget(registry, userId, request.selector) : { uuid: request.selector! };
    if (isRefusal(target)) return target;
    entry = await recordJob(context, ticket.jobId, target.uuid, request);
  }
  const targetUuid = entry.record.target_uuid!;
  await queueWork(context, targetUuid, entry, request);
  return { jobId: ticket.jobId, targetUuid, record: entry.record };
}

/**
 * The work quota: a user's queued and running jobs (farm tasks included) stay under
 * FABRIC_MAX_UNFINISHED_JOBS, so one tenant cannot fill the shared work stream.
 */
export function refuseOverWorkQuota(context: ToolContext, adding: number): { status: "quota_exceeded"; error: string } | undefined {
  const limit = context.env.FABRIC_MAX_UNFINISHED_JOBS;
  const unfinished = context.services.reaper.unfinishedCount(context.identity.userId);
  if (unfinished + adding <= limit) return undefined;
  return { status: "quota_exceeded", error: `FABRIC_MAX_UNFINISHED_JOBS: ${unfinished} of your jobs are queued or running, and at most ${limit} may be; wait for some to end or cancel them` };
}

/** A new queued record, or the one a concurrent repeat of the same request wrote first. */
async function recordJob(context: ToolContext, jobId: string, targetUuid: string, request: JobRequest): Promise<HeldJob> {
  const { jobs } = context.services;
  const userId = context.identity.userId;
  const record = newJobRecord({
    job_id: jobId,
    bus_id: userId,
    originator_uuid: null,
    target_uuid: targetUuid,
    kind: "command",
    command: request.command,
    deadline: request.deadline,
    request_id: request.requestId,
  });
  try {
    return { record, revision: await jobs.create(record) };
  } catch (error) {
    if (!(error instanceof JobExistsError)) throw error;
    const existing = await jobs.entry(userId, jobId);
    if (!existing) throw error;
    return existing;
  }
}

function queueWork(context: ToolContext, targetUuid: string, entry: HeldJob, request: JobRequest): Promise<void> {
  const { work } = context.services;
  const userId = context.identity.userId;
  const envelope = createEnvelope({
    userId,
    fromUuid: `server:${userId}`,
    routing: { type: "direct", target_uuid: targetUuid },
    priority: "info",
    jobId: entry.record.job_id,
    payload: { message_type: "command_dispatch", job_id: entry.record.job_id, command: request.command, params: request.params },
  });
  const dedupeId = `${entry.record.job_id}@${entry.revision}`;
  const project = projectOfTarget(targetUuid);
  return project === undefined ? work.publishToPeer(userId, targetUuid, envelope, dedupeId) : work.publishToProject(userId, project, envelope, dedupeId);
}
