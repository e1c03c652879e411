/**
 * Record, then queue: the one way work reaches a peer (a dispatch, `blender_submit`, a farm
 * task, a script sent as a bus message). The job's record is created `queued` first, so a
 * peer's claim always finds it; then its work is published with the message id
 * `<job>@<revision>`, so the stream drops a second copy. A request repeated after its first
 * gateway died between the two steps therefore queues the same work again safely, and a job
 * that is no longer queued (started, cancelled, expired) is never queued again.
 */
import type { Envelope, FarmPriority, JobRecord } from "@blender-fabric/protocol";
import type { WorkStream } from "@blender-fabric/bus";
import { JobExistsError, type HeldJob, type JobStore } from "./job-store.js";

/** Where work waits: one peer's lane, a project's, or a farm group's (null: the user's farm pool). */
export type WorkLane = { peer: string } | { project: string } | { farmGroup: string | null; priority: FarmPriority };

/**
 * Creates the record, or finds the one already under its id (a repeat of the request, or a
 * replica racing this one). `replace`: the id of a finished job may be reused (bus messages).
 */
export async function recordJob(jobs: JobStore, record: JobRecord, options: { replace?: boolean } = {}): Promise<HeldJob> {
  try {
    return { record, revision: await jobs.create(record, options) };
  } catch (error) {
    if (!(error instanceof JobExistsError)) throw error;
    const existing = await jobs.entry(record.bus_id, record.job_id);
    if (!existing) throw error;
    return existing;
  }
}

/** Publishes a recorded job's work, unless the job is no longer queued. Returns whether it did. */
export async function queueRecordedWork(work: WorkStream, entry: HeldJob, lane: WorkLane, envelope: Envelope): Promise<boolean> {
  if (entry.record.status !== "queued") return false;
  const userId = entry.record.bus_id;
  const dedupeId = `${entry.record.job_id}@${entry.revision}`;
  if ("peer" in lane) await work.publishToPeer(userId, lane.peer, envelope, dedupeId);
  else if ("project" in lane) await work.publishToProject(userId, lane.project, envelope, dedupeId);
  else await work.publishFarmTask(userId, lane.farmGroup, lane.priority, envelope, dedupeId);
  return true;
}
