/**
 * The farm's rules (DESIGN.md section 8), used by the engine alone: how attempts are named
 * and recorded, which peers a farm job no longer trusts, and which peers may take a task.
 * The wire shapes they read (FarmSummary, FarmTask) stay in `@blender-fabric/protocol`.
 */
import { FARM_TASK_DEADLINE_SECONDS, epochSeconds, newJobRecord, type FarmSummary } from "@blender-fabric/protocol";

/**
 * Each attempt at a task is a job of its own (job records move forward only, so a failed
 * attempt stays failed): attempt 1 is the task's job id, attempt n is `<task>-a<n>`.
 */
export const farmAttemptJobId = (taskJobId: string, attempt: number) => (attempt === 1 ? taskJobId : `${taskJobId}-a${attempt}`);

/** The peers that failed a farm job too often to take more of its tasks. */
export const blocklistedPeers = (summary: Pick<FarmSummary, "failures" | "max_peer_failures">): string[] =>
  Object.entries(summary.failures)
    .filter(([, count]) => count >= summary.max_peer_failures)
    .map(([peer]) => peer)
    .sort();

/** Whether a peer with `offered` capabilities may take a task that needs `required`. */
export const coversCapabilities = (offered: readonly string[], required: readonly string[]) =>
  required.every((capability) => offered.includes(capability));

/** A new, queued attempt at a farm task (its first attempt is recorded with the farm job). */
export const newFarmAttemptRecord = (userId: string, farmJobId: string, attemptJobId: string) =>
  newJobRecord({
    job_id: attemptJobId,
    bus_id: userId,
    originator_uuid: null,
    target_uuid: null,
    kind: "script",
    command: "farm_map",
    deadline: epochSeconds() + FARM_TASK_DEADLINE_SECONDS,
    parent_job_id: farmJobId,
  });
