/**
 * Runs one claimed job in Blender: a command or script through the addon, a scene snapshot
 * into the blend store, and a result too large for a job record into an artifact. Never
 * throws: every failure is an outcome that says what happened.
 */
import { SNAPSHOT_COMMAND, type WorkPayload } from "@blender-fabric/protocol";
import type { HeldJob, JobOutcome, PeerFiles } from "@blender-fabric/engine";
import { AddonConnectionLost } from "./addon-connection.js";
import type { BlenderPeer } from "./blender-peer.js";
import type { BlendCache } from "./blend-cache.js";
import { storeLargeResults } from "./result-artifacts.js";
import { saveSceneSnapshot } from "./scene-snapshot.js";

/** Work a peer runs (a cancel request is not work). */
export type Work = Exclude<WorkPayload, { message_type: "job_cancel" }>;

export type JobRunnerDependencies = { userId: string; peer: BlenderPeer; files: PeerFiles; blendCache: BlendCache };

/** Runs claimed work in Blender and stores a large result. */
export async function runJob(deps: JobRunnerDependencies, work: Work, held: HeldJob): Promise<JobOutcome> {
  const { peer, files, userId } = deps;
  const jobId = held.record.job_id;
  const label = work.message_type === "command_dispatch" ? work.command : "script";
  if (work.message_type === "command_dispatch" && work.command === SNAPSHOT_COMMAND) {
    return saveSceneSnapshot({ peer, blends: files, cache: deps.blendCache, userId, jobId });
  }
  const outcome = await runInBlender(peer, work);
  if (outcome.status !== "completed") return outcome;
  const params = work.message_type === "command_dispatch" ? work.params : {};
  try {
    return { ...outcome, result: await storeLargeResults(files.artifactsOf(jobId), userId, jobId, label, params, outcome.result) };
  } catch (error) {
    return { status: "failed", error: `${label} finished, but its result could not be stored: ${String(error)}` };
  }
}

/** One request to the addon. */
export async function runInBlender(peer: BlenderPeer, work: Work): Promise<JobOutcome> {
  const jobId = work.job_id;
  const label = work.message_type === "command_dispatch" ? work.command : "script";
  try {
    const reply = await peer.request(
      work.message_type === "command_dispatch"
        ? { type: "command", command: work.command, params: work.params, job_id: jobId }
        : { type: "script", script: work.script, job_id: jobId },
    );
    return reply.ok
      ? { status: "completed", result: reply.result, handler_ms: reply.duration_ms }
      : {
          status: "failed",
          error: reply.traceback ? `${reply.error}\n${reply.traceback}` : (reply.error ?? "failed"),
          handler_ms: reply.duration_ms,
        };
  } catch (error) {
    const why = error instanceof AddonConnectionLost ? error.message : String(error);
    return {
      status: "failed",
      error: `Blender went away while running ${label} (job ${jobId}): ${why}. The bridge is restarting it; send the job again.`,
    };
  }
}
