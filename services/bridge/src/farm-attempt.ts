/**
 * One claimed attempt at a farm task: open its scene (cached by hash), run its script with a
 * fresh output folder, store the folder's files as they appear (through the peer API, fenced
 * by the attempt), and say how it ended. An attempt that reports no progress for the task's
 * timeout is stuck: Blender is restarted and the attempt fails, so the task is tried again.
 */
import { farmTaskScript, type FarmTask } from "@blender-fabric/protocol";
import type { HeldJob, JobOutcome, PeerFiles, PeerJobs } from "@blender-fabric/engine";
import type { BlenderPeer } from "./blender-peer.js";
import type { BlendCache } from "./blend-cache.js";
import type { Logger } from "./logger.js";
import { OutputFolder } from "./output-folder.js";

/** How often a farm attempt's progress watchdog looks. ms */
const WATCHDOG_INTERVAL_MS = 250;

/** What the bridge knows of the attempt while it runs. */
export type RunningAttempt = {
  /** When the job last reported progress (or started). ms since the epoch */
  lastProgressAt?: number;
  /** Set when the attempt was stopped for reporting no progress. */
  timedOut?: boolean;
  /** The attempt's output folder: stored as files appear in it. */
  outputs?: OutputFolder;
};

export type FarmAttemptDependencies = {
  userId: string;
  jobs: PeerJobs;
  files: PeerFiles;
  blendCache: BlendCache;
  peer: BlenderPeer;
  logger: Logger;
  /** Runs a script in Blender; never throws. */
  execute(jobId: string, script: string): Promise<JobOutcome>;
};

export async function runFarmAttempt(deps: FarmAttemptDependencies, running: RunningAttempt, task: FarmTask, held: HeldJob): Promise<JobOutcome> {
  const jobId = held.record.job_id;
  // The peer API checked, after claiming it, that its farm job goes on (work-ops.ts).
  let blend: { path: string; source: string } | undefined;
  try {
    blend = task.blend_sha256 ? await deps.blendCache.ensure(deps.userId, task.blend_sha256) : undefined;
  } catch (error) {
    return { status: "failed", error: `could not fetch the scene ${task.blend_sha256}: ${String(error)}` };
  }
  // Under the attempt's own id: the farm job's files are those of each task's latest attempt,
  // so an attempt that lost its task (paused, cut off) can never replace a finished frame.
  const outputs = await OutputFolder.create(deps.files.artifactsOf(jobId), deps.userId, jobId);
  running.outputs = outputs;
  try {
    const script = farmTaskScript(task, outputs.path, blend?.path ?? null);
    const watchdog = stopWhenSilent(deps, running, jobId, task.task_timeout_seconds);
    let outcome = await deps.execute(jobId, script).finally(() => clearInterval(watchdog));
    outcome = await collectOutputs(outputs, outcome, blend?.source);
    if (running.timedOut && outcome.status === "failed") {
      outcome = { status: "failed", error: `timed out: no progress for ${task.task_timeout_seconds} s, so Blender was restarted` };
    }
    return outcome;
  } finally {
    running.outputs = undefined;
    await outputs.remove();
  }
}

function stopWhenSilent(deps: FarmAttemptDependencies, running: RunningAttempt, jobId: string, timeoutSeconds: number): NodeJS.Timeout {
  running.lastProgressAt = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - running.lastProgressAt! < timeoutSeconds * 1000) return;
    clearInterval(watchdog);
    running.timedOut = true;
    deps.logger.warn({ jobId, timeoutSeconds }, "farm attempt reports no progress; restarting Blender");
    if (!deps.peer.restart()) void deps.peer.requestNow({ type: "cancel", job_id: jobId }).catch(() => {});
  }, WATCHDOG_INTERVAL_MS);
  return watchdog;
}

/**
 * Whatever an attempt wrote to its output folder is stored, even when it failed (a render
 * that died at frame 7 keeps frames 1 to 6). A completed attempt lists its files in its result.
 */
async function collectOutputs(outputs: OutputFolder, outcome: JobOutcome, blendSource: string | undefined): Promise<JobOutcome> {
  try {
    const artifacts = await outputs.sync({ final: true });
    if (outcome.status !== "completed") return outcome;
    const result = outcome.result;
    const base = typeof result === "object" && result !== null && !Array.isArray(result) ? result : { result };
    return { ...outcome, result: { ...base, artifacts, ...(blendSource ? { blend: blendSource } : {}) } };
  } catch (error) {
    if (outcome.status !== "completed") return outcome;
    return { status: "failed", error: `the task finished, but its output files could not be stored: ${String(error)}` };
  }
}
