/**
 * The dispatch round trip (seed 001), top to bottom: find the job id (request_id), subscribe
 * to the job's subject, record the job and queue its work durably, wait up to the tool's
 * timeout for the terminal event. The timeout is also the job's deadline, so when the call
 * returns the work has finished, is running (poll it with blender_job_status), or will never
 * run (`expired`): a caller that retries after a timeout never runs the code twice.
 */
import { epochSeconds, isTerminalJobStatus, type JobEvent, type JobRecord } from "@blender-fabric/protocol";
import { watchJob } from "@blender-fabric/bus";
import type { ToolContext } from "../mcp/tool-context.js";
import { isRefusal } from "./pick-target.js";
import { queueJob, ticketFor, type JobRequest, type QueuedJob } from "./queue-job.js";

/** How long the settling after the wait may take, so no call outlives its timeout by much. ms */
const SETTLE_DEADLINE_MS = 3_000;

export type DispatchRequest = Omit<JobRequest, "deadline"> & {
  /** How long to wait, and the job's deadline. Seconds. */
  timeoutSeconds: number;
};

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

export async function dispatchCommand(context: ToolContext, request: DispatchRequest) {
  const waitEnds = Date.now() + request.timeoutSeconds * 1000;
  const starting = startWatchedJob(context, { ...request, deadline: waitEnds / 1000 });
  // While JetStream elects a leader, queuing may take long; the call still ends on time, and
  // a job queued after its deadline is expired by its peer's claim, never run.
  const started = await beforeDeadline(starting, waitEnds);
  if (!started) {
    void starting.then(({ watch }) => watch.stop(), () => {});
    return {
      status: "timeout",
      command: request.command,
      error: `The fabric could not queue the job within ${request.timeoutSeconds} s (JetStream unavailable); it will never run. Send it again.`,
    };
  }
  const { watch, queued } = started;
  try {
    if (isRefusal(queued)) return { ...queued, command: request.command };
    if (isTerminalJobStatus(queued.record.status)) return finishedJobResult(queued.record);
    const terminal = await watch.terminal(Math.max(0, waitEnds - Date.now()));
    if (terminal) return answerFromEvent(request, queued, terminal);
    return await answerAfterWait(context, request, queued);
  } finally {
    watch.stop();
  }
}

/** Finds the job id, subscribes to the job's subject, then records and queues the job. */
async function startWatchedJob(context: ToolContext, request: JobRequest) {
  const { nc } = context.services;
  const ticket = await ticketFor(context, request);
  // Subscribed (and flushed) before the work is queued: an answer that comes at once is seen.
  const watch = watchJob(nc, context.identity.userId, ticket.jobId);
  try {
    await nc.flush();
    return { watch, queued: await queueJob(context, ticket, request) };
  } catch (error) {
    watch.stop();
    throw error;
  }
}

/** The promise's value, or undefined if it has not settled by `deadline` (ms since the epoch). */
async function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function answerFromEvent(request: DispatchRequest, queued: QueuedJob, event: JobEvent) {
  return {
    ...finishedJobResult({
      status: event.status as JobRecord["status"],
      command: request.command,
      target_uuid: queued.targetUuid,
      job_id: queued.jobId,
      result: event.result ?? null,
      error: event.error ?? "",
    }),
    handler_ms: event.handler_ms,
  };
}

/** The wait is over: work that has not started expires now; running work goes on. */
async function answerAfterWait(context: ToolContext, request: DispatchRequest, queued: QueuedJob) {
  const { jobs, registry } = context.services;
  const userId = context.identity.userId;
  const peer = registry.cached(userId, queued.targetUuid);
  const why = peer && !registry.isStale(peer) ? "it was busy with other work" : "it is not live";
  const reason = `Not started within ${request.timeoutSeconds} s on ${queued.targetUuid} (${why}); it will never run. Send it again if you still want it.`;
  const record = (await jobs.expire(userId, queued.jobId, reason, SETTLE_DEADLINE_MS)) ?? queued.record;
  if (isTerminalJobStatus(record.status)) return finishedJobResult(record);
  const deadlineNote =
    record.status === "queued" && record.deadline !== null
      ? ` It starts within ${Math.max(0, Math.round(record.deadline - epochSeconds()))} s or expires.`
      : "";
  return {
    status: record.status,
    command: request.command,
    target_uuid: queued.targetUuid,
    job_id: queued.jobId,
    message: `Still ${record.status} after ${request.timeoutSeconds} s; follow it with blender_job_status(job_id="${queued.jobId}").${deadlineNote}`,
  };
}
