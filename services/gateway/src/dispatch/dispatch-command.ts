/**
 * The dispatch round trip (seed 001): pick the target, record the job in KV, subscribe to
 * the job's subject *before* publishing `command_dispatch` on the target's subject, then
 * wait up to the tool's timeout. A job that outlives the wait keeps running: the answer
 * says `running` or `queued` with the job id, for blender_job_status.
 */
import { randomUUID } from "node:crypto";
import {
  isTerminalJobStatus,
  newJobRecord,
  type ClientRecord,
  type JobRecord,
} from "@blender-fabric/protocol";
import { createEnvelope, publishEnvelope, watchJob } from "@blender-fabric/bus";
import type { ToolContext } from "../mcp/tool-context.js";
import { isRefusal, pickTarget, type TargetRefusal } from "./pick-target.js";

export const newJobId = () => `j-${randomUUID().replaceAll("-", "").slice(0, 12)}`;

export type DispatchRequest = {
  command: string;
  params: Record<string, unknown>;
  selector: string | null;
};

/** Records and publishes the job; resolves with the job id and its target, or a refusal. */
export async function startCommand(
  context: ToolContext,
  request: DispatchRequest,
  beforePublish: (jobId: string) => Promise<void> = async () => {},
): Promise<{ jobId: string; target: ClientRecord } | TargetRefusal> {
  const { registry, jobs, nc } = context.services;
  const userId = context.identity.userId;
  const target = await pickTarget(registry, userId, request.selector);
  if (isRefusal(target)) return target;
  const jobId = newJobId();
  await jobs.create(
    newJobRecord({
      job_id: jobId,
      bus_id: userId,
      originator_uuid: null,
      target_uuid: target.uuid,
      kind: "command",
      command: request.command,
    }),
  );
  await beforePublish(jobId);
  publishEnvelope(
    nc,
    createEnvelope({
      userId,
      fromUuid: `server:${userId}`,
      routing: { type: "direct", target_uuid: target.uuid },
      priority: "info",
      jobId,
      payload: { message_type: "command_dispatch", job_id: jobId, command: request.command, params: request.params },
    }),
  );
  return { jobId, target };
}

/** The seed's answer for a finished job: `result` is the handler's return value as JSON text. */
export function finishedJobResult(record: Pick<JobRecord, "status" | "command" | "target_uuid" | "job_id" | "result" | "error">) {
  return {
    status: record.status,
    command: record.command,
    target_uuid: record.target_uuid,
    job_id: record.job_id,
    result: record.result === null || record.result === undefined ? "" : JSON.stringify(record.result),
    error: record.error,
  };
}

export async function dispatchCommand(context: ToolContext, request: DispatchRequest, timeoutSeconds: number) {
  const { nc, jobs, registry } = context.services;
  const userId = context.identity.userId;
  let watch: ReturnType<typeof watchJob> | undefined;
  const started = await startCommand(context, request, async (jobId) => {
    watch = watchJob(nc, userId, jobId);
    await nc.flush(); // the subscription is live on the server before the work is published
  });
  if ("status" in started) {
    watch?.stop();
    return { ...started, command: request.command };
  }
  const { jobId, target } = started;
  let terminal: Awaited<ReturnType<NonNullable<typeof watch>["terminal"]>>;
  try {
    terminal = await watch!.terminal(timeoutSeconds * 1000);
  } finally {
    watch!.stop();
  }
  if (terminal) {
    return {
      ...finishedJobResult({
        status: terminal.status as JobRecord["status"],
        command: request.command,
        target_uuid: target.uuid,
        job_id: jobId,
        result: terminal.result ?? null,
        error: terminal.error ?? "",
      }),
      handler_ms: terminal.handler_ms,
    };
  }
  const record = await jobs.get(userId, jobId);
  if (record && isTerminalJobStatus(record.status)) return finishedJobResult(record);
  const current = await registry.get(userId, target.uuid);
  const goesOn = record && current && !registry.isStale(current);
  if (goesOn) {
    return {
      status: record.status,
      command: request.command,
      target_uuid: target.uuid,
      job_id: jobId,
      message: `Still ${record.status} after ${timeoutSeconds} s; follow it with blender_job_status(job_id="${jobId}").`,
    };
  }
  // Nobody will ever finish it: say so in the record too, so job_status does not report it forever.
  const error = `${target.uuid} did not answer within ${timeoutSeconds} s and is no longer live.`;
  await jobs.advance(userId, jobId, { status: "lost", error });
  return { status: "timeout", command: request.command, target_uuid: target.uuid, job_id: jobId, error };
}
