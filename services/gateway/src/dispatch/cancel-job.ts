/**
 * Cancelling one job (not a farm job), the same for `blender_job_cancel` and for a dispatch
 * whose caller sent `notifications/cancelled`: a queued job is cancelled in KV (so it never
 * starts) and its peer told to drop the work; a running one is flagged on its peer, and stops
 * at its next report_progress (scripts, and execute_code).
 */
import { CancelOutcomeSchema, subjectForClient, type JobRecord } from "@blender-fabric/protocol";
import { createEnvelope, parseJsonSafely, publishEnvelope } from "@blender-fabric/bus";
import type { ToolContext } from "../mcp/tool-context.js";

/** How long a cancel waits for the target bridge to answer. ms */
const CANCEL_TIMEOUT_MS = 5_000;

export type CancelAnswer =
  | { status: "cancelled"; job_id: string }
  | { status: "cancelling"; job_id: string; message: string }
  | { status: "not_cancellable"; job_id: string; job_status: string; message?: string };

export async function cancelJob(context: ToolContext, record: JobRecord): Promise<CancelAnswer> {
  const { jobs, nc, registry } = context.services;
  const userId = context.identity.userId;
  if (record.status === "queued") {
    record = (await jobs.cancelQueued(userId, record.job_id, "cancelled while queued")) ?? record;
    if (record.status === "cancelled") {
      // The peer may hold the work in its queue: let it drop it now (it would skip it anyway).
      if (record.target_uuid) publishEnvelope(nc, cancelEnvelope(userId, record));
      return { status: "cancelled", job_id: record.job_id };
    }
  }
  if (record.status !== "running" || !record.target_uuid) {
    return { status: "not_cancellable", job_id: record.job_id, job_status: record.status };
  }
  const outcome = await askPeerToCancel(context, record);
  if (outcome === "cancel_requested") {
    return { status: "cancelling", job_id: record.job_id, message: "The running code stops at its next report_progress." };
  }
  const peer = registry.cached(userId, record.target_uuid);
  const message =
    outcome === undefined && !(peer && !registry.isStale(peer))
      ? `${record.target_uuid} is not live; the job will be settled lost.`
      : "The peer could not stop it (code stops only at its next report_progress); it ends on its own.";
  const now = await jobs.get(userId, record.job_id);
  return { status: "not_cancellable", job_id: record.job_id, job_status: now?.status ?? record.status, message };
}

/** Asks the job's peer to flag its running code; undefined when the peer does not answer. */
export async function askPeerToCancel(context: ToolContext, record: JobRecord) {
  const userId = context.identity.userId;
  try {
    const reply = await context.services.nc.request(subjectForClient(userId, record.target_uuid!), JSON.stringify(cancelEnvelope(userId, record)), {
      timeout: CANCEL_TIMEOUT_MS,
    });
    const answer = parseJsonSafely(reply) as { outcome?: unknown } | undefined;
    return CancelOutcomeSchema.parse(answer?.outcome);
  } catch {
    return undefined; // the peer is gone, or too busy to answer
  }
}

const cancelEnvelope = (userId: string, record: JobRecord) =>
  createEnvelope({
    userId,
    fromUuid: `server:${userId}`,
    routing: { type: "direct", target_uuid: record.target_uuid! },
    priority: "alert",
    jobId: record.job_id,
    payload: { message_type: "job_cancel", job_id: record.job_id },
  });
