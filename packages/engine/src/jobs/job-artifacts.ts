/**
 * The files a job stored, as its owner sees them. Each file a peer stores is noted on its
 * job's record as it is stored, while the peer holds the job (JobStore.noteArtifact), so a
 * job's files are read from its record, not by listing the tenant's store. A farm job stores
 * nothing under its own id: each attempt at a task stores its outputs under the attempt's id
 * (written once, fenced by the attempt), and the farm job's files are chosen from them:
 * - a completed task shows exactly the files of the attempt that completed it, so an attempt
 *   that lost the task (a paused bridge that woke up) never replaces or adds a frame;
 * - a task still going (or ended without success) shows, per file name, the file of its
 *   latest attempt that has one, so frames already rendered stay listed while a retry runs.
 */
import { FarmSummarySchema, type StoredArtifact } from "@blender-fabric/protocol";
import { artifactRefOf, type ArtifactRef, type ArtifactStore } from "@blender-fabric/bus";
import type { FarmTally } from "./farm-tally.js";
import type { JobStore } from "./job-store.js";

const filePartOf = (name: string) => name.split("/")[2] ?? "";

/** A farm job's files, from its tasks' attempts (oldest first) and the files each noted. */
export function farmArtifacts(tasks: { status: string; artifacts: StoredArtifact[] }[][]): ArtifactRef[] {
  const files: ArtifactRef[] = [];
  for (const attempts of tasks) {
    const completed = attempts.find((attempt) => attempt.status === "completed");
    // Oldest attempt first, so a later attempt's file of the same name wins.
    const byFile = new Map<string, StoredArtifact>();
    for (const attempt of completed ? [completed] : attempts) for (const stored of attempt.artifacts) byFile.set(filePartOf(stored.name), stored);
    files.push(...[...byFile.values()].map(artifactRefOf));
  }
  return files.sort((a, b) => filePartOf(a.name).localeCompare(filePartOf(b.name)) || a.name.localeCompare(b.name));
}

/**
 * The files of any job of `userId`: a farm job's as above; another job's from its record, or,
 * for one that noted none (files stored before jobs noted them), by listing under its id.
 */
export async function jobArtifacts(stores: { jobs: JobStore; artifacts: ArtifactStore; tally: FarmTally }, userId: string, jobId: string): Promise<ArtifactRef[]> {
  const { jobs, artifacts, tally } = stores;
  const record = await jobs.get(userId, jobId);
  const summary = FarmSummarySchema.safeParse(record?.result);
  if (record?.kind === "farm" && summary.success) {
    await tally.current();
    // Its own files (the preview video) after its tasks'.
    return [...farmArtifacts(tally.attemptFiles(userId, jobId, summary.data)), ...record.artifacts.map(artifactRefOf)];
  }
  if (record && record.artifacts.length > 0) return record.artifacts.map(artifactRefOf).sort((a, b) => a.name.localeCompare(b.name));
  return artifacts.refsForJob(userId, jobId);
}
