/**
 * `blender-fabric cancel|pause|resume|requeue|priority <job>`: a job's controls from a
 * terminal, through the same tools an LLM calls (blender_job_cancel, blender_farm_control).
 */
import { openFabricSession, type GatewayOptions } from "./fabric-session.js";

type Answer = { status: string; error?: string; message?: string; job_status?: string; tasks_published?: number };

export type FarmAction = "pause" | "resume" | "requeue_failed" | "set_priority";

/** Runs one control; resolves with the exit code (0 when it was done). */
export async function controlJob(options: GatewayOptions & { jobId: string; action: FarmAction | "cancel"; priority?: string }): Promise<number> {
  const session = await openFabricSession(options);
  try {
    const answer =
      options.action === "cancel"
        ? await session.call<Answer>("blender_job_cancel", { job_id: options.jobId })
        : await session.call<Answer>("blender_farm_control", { job_id: options.jobId, action: options.action, priority: options.priority ?? null });
    const done = answer.status === "ok" || answer.status === "cancelled" || answer.status === "cancelling";
    const details = [answer.message, answer.tasks_published ? `${answer.tasks_published} task(s) published again` : ""].filter(Boolean).join(" ");
    if (done) process.stdout.write(`job ${options.jobId}: ${answer.status}${details ? `. ${details}` : ""}\n`);
    else process.stderr.write(`blender-fabric: job ${options.jobId}: ${answer.status}${answer.job_status ? ` (${answer.job_status})` : ""}: ${answer.error ?? ""}\n`);
    return done ? 0 : 1;
  } finally {
    await session.close();
  }
}
