/**
 * The dispatch round trip (seed 001), top to bottom: find the job id (request_id), subscribe
 * to the job's subject, record the job and queue its work durably, wait up to the tool's
 * timeout for the terminal event. The timeout is also the job's deadline, so when the call
 * returns the work has finished, is running (poll it with blender_job_status), or will never
 * run (`expired`): a caller that retries after a timeout never runs the code twice.
 *
 * A caller that asked for progress gets the job's progress events as it waits, and a caller
 * that cancels the call (`notifications/cancelled`) cancels the job, as blender_job_cancel does.
 */
import type { ClientRecord } from "@blender-fabric/protocol";
import { isTerminalJobStatus, projectOfTarget, type JobEvent, type JobRecord } from "@blender-fabric/protocol";
import { isRefusal, watchJob, whyProjectWaited, type CommandRequest, type JobTicket, type JobWatch, type QueuedJob, type RequestIdConflict, type TargetRefusal } from "@blender-fabric/engine";
import type { ToolContext } from "../mcp/tool-context.js";
import { cancelJob } from "./cancel-job.js";

/** How long the settling after the wait may take, so no call outlives its timeout by much. ms */
const SETTLE_DEADLINE_MS = 3_000;

export type DispatchRequest = Omit<CommandRequest, "deadline"> & {
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
  const job: CommandRequest = { ...request, deadline: waitEnds / 1000 };
  const ticketing = context.services.engine.ticket(context.identity.userId, job);
  const starting = (async (): Promise<WatchedJob | RequestIdConflict> => {
    const ticket = await ticketing;
    return "status" in ticket ? ticket : startWatchedJob(context, ticket, job);
  })();
  // While JetStream elects a leader, queuing may take long; the call still ends on time.
  const started = await beforeDeadline(starting, waitEnds);
  if (!started) {
    void starting.then((late) => ("watch" in late ? late.watch.stop() : undefined), () => {});
    const ticket = await beforeDeadline(ticketing, Date.now() + SETTLE_DEADLINE_MS).catch(() => undefined);
    return answerAfterWait(context, request, ticket && !("status" in ticket) ? ticket.jobId : undefined, null);
  }
  if ("status" in started) return started; // a request_id of other work
  const { watch, queued } = started;
  let cancelOnAbort: (() => void) | undefined;
  try {
    if (isRefusal(queued)) return { ...queued, command: request.command };
    if (isTerminalJobStatus(queued.record.status)) return finishedJobResult(queued.record);
    cancelOnAbort = () => void cancelCalledJob(context, queued.jobId);
    if (context.signal?.aborted) cancelOnAbort();
    else context.signal?.addEventListener("abort", cancelOnAbort, { once: true });
    const terminal = await watch.terminal(Math.max(0, waitEnds - Date.now()));
    if (terminal) return answerFromEvent(request, queued, terminal);
    return await answerAfterWait(context, request, queued.jobId, queued.targetUuid);
  } finally {
    if (cancelOnAbort) context.signal?.removeEventListener("abort", cancelOnAbort);
    watch.stop();
  }
}

type WatchedJob = { watch: JobWatch; queued: QueuedJob | TargetRefusal };

/** Subscribes to the job's subject, then records and queues the job. */
async function startWatchedJob(context: ToolContext, ticket: JobTicket, job: CommandRequest): Promise<WatchedJob> {
  const { nc } = context.services;
  const { progress } = context;
  // Subscribed before the work is queued, so an answer that comes at once is seen. No flush
  // is needed: the server takes this connection's messages in order, so the subscription is
  // in place before the job's record and work exist, let alone its end.
  const watch = watchJob(nc, context.identity.userId, ticket.jobId, (event) => {
    if (progress && event.status === "progress" && event.progress !== undefined) progress(event.progress, event.progress_message ?? "");
  });
  try {
    return { watch, queued: await context.services.engine.queueCommand(context.identity.userId, ticket, job) };
  } catch (error) {
    watch.stop();
    throw error;
  }
}

/** The caller cancelled its call: its job is cancelled (queued: never starts; running: flagged). */
async function cancelCalledJob(context: ToolContext, jobId: string): Promise<void> {
  const record = await context.services.jobs.get(context.identity.userId, jobId).catch(() => undefined);
  if (record && !isTerminalJobStatus(record.status)) await cancelJob(context, record).catch(() => undefined);
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
      // A project's job names the peer that ran it, not the project.
      target_uuid: event.peer_uuid ?? queued.targetUuid,
      job_id: queued.jobId,
      result: event.result ?? null,
      error: event.error ?? "",
    }),
    handler_ms: event.handler_ms,
  };
}

/** Why a named peer did not start work in time, as far as its registration tells. */
function whyNotTaken(peer: ClientRecord | undefined, registry: ToolContext["services"]["registry"]): string {
  if (!peer) return "it is not registered";
  const silentFor = Math.round(Date.now() / 1000 - peer.last_seen);
  if (registry.isStale(peer)) return `it went silent ${silentFor} s ago: its bridge is down, paused or cut off`;
  const health = peer.health;
  if (health && (health.active_jobs > 0 || health.queue_depth > 0)) {
    return `it was busy with other work (${health.active_jobs} running, ${health.queue_depth} queued at its last heartbeat)`;
  }
  return "it was live and idle but did not take it: its bridge may be paused, or cut off from the fabric's work stream";
}

/**
 * The wait is over: work that has not started expires now (the compare-and-set decides
 * against a claim racing it); running work goes on. Bounded, so the call ends on time even
 * when KV does not answer; then the answer says the state is unknown.
 */
async function answerAfterWait(context: ToolContext, request: DispatchRequest, jobId: string | undefined, targetUuid: string | null) {
  const { jobs, registry } = context.services;
  const userId = context.identity.userId;
  const unknown = {
    status: "timeout",
    command: request.command,
    target_uuid: targetUuid,
    job_id: jobId ?? null,
    error:
      `No answer within ${request.timeoutSeconds} s and the job's state could not be read (JetStream unavailable). ` +
      (jobId ? `Its deadline has passed, so it starts no more; follow it with blender_job_status(job_id="${jobId}").` : "It was never queued."),
  };
  if (!jobId) return unknown;
  const peer = targetUuid ? registry.cached(userId, targetUuid) : undefined;
  const project = projectOfTarget(targetUuid);
  // Made from the record the expiry reads anyway: a project's job carries what the pool noted on it.
  const reason = (job: JobRecord) => {
    const why = project !== undefined ? whyProjectWaited(project, job.progress_message) : whyNotTaken(peer, registry);
    return `Not started within ${request.timeoutSeconds} s${targetUuid ? ` on ${targetUuid} (${why})` : ""}; it will never run. Send it again if you still want it.`;
  };
  const record = await jobs.expire(userId, jobId, reason, SETTLE_DEADLINE_MS).catch(() => undefined);
  if (!record) return unknown;
  if (isTerminalJobStatus(record.status)) return finishedJobResult(record);
  return {
    status: record.status,
    command: request.command,
    target_uuid: record.target_uuid,
    job_id: jobId,
    message: `Still ${record.status} after ${request.timeoutSeconds} s; follow it with blender_job_status(job_id="${jobId}").`,
  };
}
