/**
 * The files a job stored, as its owner sees them. A farm job stores nothing under its own id:
 * each attempt at a task stores its outputs under the attempt's id (written once, fenced by
 * the attempt), and the farm job's files are chosen from them:
 * - a completed task shows exactly the files of the attempt that completed it, so an attempt
 *   that lost the task (a paused bridge that woke up) never replaces or adds a frame;
 * - a task still going (or ended without success) shows, per file name, the file of its
 *   latest attempt that has one, so frames already rendered stay listed while a retry runs.
 */
import { FarmSummarySchema, encodeToken } from "@blender-fabric/protocol";
import type { ArtifactRef, ArtifactStore } from "@blender-fabric/bus";
import type { FarmTaskState } from "./farm-progress.js";
import type { FarmTally } from "./farm-tally.js";
import type { JobStore } from "./job-store.js";

/** `<u>/<job>/<file>` → the job part (token-encoded, as in the name). */
const jobPartOf = (name: string) => name.split("/")[1] ?? "";
const filePartOf = (name: string) => name.split("/")[2] ?? "";

/** A farm job's files, from its tasks' attempts (the tally's): one look at the tenant's watched bucket. */
export async function farmArtifacts(artifacts: ArtifactStore, userId: string, tasks: Pick<FarmTaskState, "attempts">[]): Promise<ArtifactRef[]> {
  const chosen = tasks.map((task) => {
    const completed = task.attempts.find((attempt) => attempt.status === "completed");
    return completed ? [completed.job_id] : task.attempts.map((attempt) => attempt.job_id);
  });
  const refs = await artifacts.refsForJobs(userId, chosen.flat());
  const byJob = new Map<string, ArtifactRef[]>();
  for (const ref of refs) {
    const job = jobPartOf(ref.name);
    const listed = byJob.get(job);
    if (listed) listed.push(ref);
    else byJob.set(job, [ref]);
  }
  const files: ArtifactRef[] = [];
  for (const attemptIds of chosen) {
    // Oldest attempt first, so a later attempt's file of the same name wins.
    const byFile = new Map<string, ArtifactRef>();
    for (const attemptId of attemptIds) for (const ref of byJob.get(encodeToken(attemptId)) ?? []) byFile.set(filePartOf(ref.name), ref);
    files.push(...byFile.values());
  }
  return files.sort((a, b) => filePartOf(a.name).localeCompare(filePartOf(b.name)) || a.name.localeCompare(b.name));
}

/** The files of any job of `userId`: a farm job's as above, any other job's under its own id. */
export async function jobArtifacts(stores: { jobs: JobStore; artifacts: ArtifactStore; tally: FarmTally }, userId: string, jobId: string): Promise<ArtifactRef[]> {
  const { jobs, artifacts, tally } = stores;
  const record = await jobs.get(userId, jobId);
  const summary = FarmSummarySchema.safeParse(record?.result);
  if (record?.kind !== "farm" || !summary.success) return artifacts.refsForJob(userId, jobId);
  await tally.current();
  return farmArtifacts(artifacts, userId, tally.tasks(userId, jobId, summary.data));
}
