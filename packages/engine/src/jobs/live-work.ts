/**
 * Which of a lane's messages on FABRIC_WORK are still work. A message stays in the work-queue
 * stream until a peer acknowledges it, so a lane's message count also counts work that will
 * never run: a dispatch that expired or was cancelled while it waited, a task of a farm job
 * that was cancelled. Starting a Blender for those only holds a place for its idle time.
 *
 * This walks a lane's messages oldest first, reads each one's job (a farm task: its farm
 * job), and deletes the messages whose job has ended: they can never run (a peer that got
 * one would drop it at its claim), and KEDA, which counts the consumers' pending messages,
 * stops counting them too. Work whose job is queued or running is live; a running job's
 * message is its peer's until the end is recorded. A task of a paused farm job, or one left
 * on its old priority lane, is not demand; it is left for a peer to drop (only a peer knows
 * whether it holds the message for a running attempt, which must come back if it fails).
 */
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { EnvelopeSchema, FarmSummarySchema, FarmTaskSchema, StreamName, WorkPayloadSchema, isTerminalJobStatus, type JobRecord } from "@blender-fabric/protocol";
import type { JobStore } from "./job-store.js";

/** A live message: its job, and the job's record (a farm task: its farm job's). */
export type LiveWork = { jobId: string; record: JobRecord };

/** A message's job; `parked`: a farm task a peer would drop (its job paused, or moved to another priority). */
type MessageJob = LiveWork & { parked?: boolean };

export type LaneWalk = {
  /** Live messages found, oldest first, at most `enough`. */
  live: LiveWork[];
  /** Messages deleted because their job has ended. */
  deleted: number;
  /** False when the walk stopped at `maxLooks` before the lane's end. */
  complete: boolean;
};

export type LaneWalkOptions = {
  /** Stop once this many live messages are found. */
  enough: number;
  /** Read at most this many messages (a long backlog is pruned over several walks). */
  maxLooks: number;
};

/**
 * Walks `subject` (a lane of one user; wildcards allowed, as for a group's priorities). A
 * message the fabric did not write, or whose job record is gone, counts as ended.
 */
export async function walkLane(jsm: JetStreamManager, jobs: JobStore, userId: string, subject: string, options: LaneWalkOptions): Promise<LaneWalk> {
  const live: LiveWork[] = [];
  let deleted = 0;
  /** Farm jobs read during this walk: many tasks share one. */
  const farms = new Map<string, Promise<JobRecord | undefined>>();
  const readFarm = (farmJobId: string) => {
    let reading = farms.get(farmJobId);
    if (!reading) farms.set(farmJobId, (reading = jobs.get(userId, farmJobId)));
    return reading;
  };
  let next = 1;
  for (let looks = 0; looks < options.maxLooks; looks += 1) {
    if (live.length >= options.enough) return { live, deleted, complete: false };
    // nats-server's MSG.GET takes `next_by_subj` with `seq` (the first match at or after it);
    // the client's type lists only `seq` and `last_by_subj`, and sends the query as it is.
    const message = await jsm.streams.getMessage(StreamName.Work, { seq: next, next_by_subj: subject } as never);
    if (!message) return { live, deleted, complete: true };
    next = message.seq + 1;
    const job = await jobOf(message, userId, jobs, readFarm);
    if (job?.parked) continue; // not demand; a peer drops it unless its task runs (farm-attempts.ts)
    if (job && !isTerminalJobStatus(job.record.status)) {
      live.push(job);
      continue;
    }
    if (await jsm.streams.deleteMessage(StreamName.Work, message.seq, false).catch(() => false)) deleted += 1;
  }
  return { live, deleted, complete: false };
}

async function jobOf(
  message: StoredMsg,
  userId: string,
  jobs: JobStore,
  readFarm: (farmJobId: string) => Promise<JobRecord | undefined>,
): Promise<MessageJob | undefined> {
  let body: unknown;
  try {
    body = message.json();
  } catch {
    return undefined;
  }
  const envelope = EnvelopeSchema.safeParse(body);
  if (!envelope.success) return undefined;
  const task = FarmTaskSchema.safeParse(envelope.data.payload);
  if (task.success) {
    const farm = await readFarm(task.data.farm_job_id);
    if (!farm) return undefined;
    const summary = FarmSummarySchema.safeParse(farm.result);
    const parked = summary.success && (summary.data.paused || (task.data.priority !== undefined && task.data.priority !== summary.data.priority));
    return { jobId: task.data.job_id, record: farm, parked };
  }
  const work = WorkPayloadSchema.safeParse(envelope.data.payload);
  if (!work.success) return undefined;
  const record = await jobs.get(userId, work.data.job_id);
  return record ? { jobId: work.data.job_id, record } : undefined;
}
