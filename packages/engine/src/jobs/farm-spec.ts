/**
 * What a farm job's tasks run: its script, each task's items and its timeout. It travels in
 * each task's message, and is also kept with the job (`.task-spec.json` among the farm job's
 * own files, written once at submission), so a task can be published again after its message
 * was dropped: on resume, requeue and a priority change (farm-control.ts).
 */
import { z } from "zod";
import { attemptBudget, farmTaskJobId, type Envelope, type FarmSummary, type FarmTask } from "@blender-fabric/protocol";
import { ArtifactExists, createEnvelope, type ArtifactStore } from "@blender-fabric/bus";

export const FarmSpecSchema = z.object({
  script: z.string(),
  /** Task `i`'s items. */
  chunks: z.array(z.array(z.unknown())),
  task_timeout_seconds: z.number().positive(),
});
export type FarmSpec = z.infer<typeof FarmSpecSchema>;

/** The farm job's own file holding its spec (a dot name: no task writes it). */
export const FARM_SPEC_FILE = ".task-spec.json";

/** Keeps a farm job's spec; a repeat of the submission finds it kept. */
export async function keepFarmSpec(artifacts: ArtifactStore, userId: string, farmJobId: string, spec: FarmSpec): Promise<void> {
  await artifacts.put(userId, farmJobId, FARM_SPEC_FILE, new TextEncoder().encode(JSON.stringify(spec)), "application/json").catch((error: unknown) => {
    if (!(error instanceof ArtifactExists)) throw error;
  });
}

/** A farm job's spec, or undefined when none was kept (a job submitted before issue 18). */
export async function readFarmSpec(artifacts: ArtifactStore, userId: string, farmJobId: string): Promise<FarmSpec | undefined> {
  const stored = await artifacts.read(userId, farmJobId, FARM_SPEC_FILE);
  if (!stored) return undefined;
  const parsed = FarmSpecSchema.safeParse(JSON.parse(new TextDecoder().decode(stored.bytes)));
  return parsed.success ? parsed.data : undefined;
}

/** The message of task `index`, as the job's summary says now (its budget and priority). */
export function farmTaskEnvelope(userId: string, farmJobId: string, summary: FarmSummary, spec: FarmSpec, index: number): Envelope {
  const taskId = farmTaskJobId(farmJobId, index);
  const task: FarmTask = {
    message_type: "farm_task",
    job_id: taskId,
    farm_job_id: farmJobId,
    script: spec.script,
    items: spec.chunks[index] ?? [],
    max_attempts: attemptBudget(summary),
    capabilities: summary.capabilities,
    task_timeout_seconds: spec.task_timeout_seconds,
    blend_sha256: summary.blend_sha256,
    priority: summary.priority,
  };
  return createEnvelope({
    userId,
    fromUuid: `server:${userId}`,
    routing: summary.group_id === null ? { type: "broadcast" } : { type: "group", group_id: summary.group_id },
    // Below every interactive priority: a farm peer runs a dispatch before its next task.
    priority: "debug",
    jobId: taskId,
    payload: task,
  });
}
