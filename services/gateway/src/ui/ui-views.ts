/**
 * What the dashboard shows, built from the same tools an LLM calls (so it shows exactly what
 * the tools would, and only the signed-in user's own data): the overview (peers and jobs) and
 * one job (its status summary, a page of tasks, the state of each frame, its last frame).
 */
import { FarmSummarySchema, frameOfFileName, isTerminalJobStatus } from "@blender-fabric/protocol";
import { artifactFileName, artifactRefOf } from "@blender-fabric/bus";
import { farmArtifacts } from "@blender-fabric/engine";
import type { VerifiedIdentity } from "@blender-fabric/auth";
import type { ToolCatalog } from "../mcp/tool-catalog.js";
import { sessionlessContext } from "../mcp/tool-context.js";
import type { GatewayServices } from "../services.js";
import type { GatewayEnv } from "../env.js";
import { farmFrames } from "./farm-frames.js";

/** The tools the dashboard may call; nothing that registers, sends or dispatches. */
const UI_TOOLS = new Set([
  "blender_list_available_clients",
  "blender_list_jobs",
  "blender_job_status",
  "blender_job_cancel",
  "blender_farm_control",
  "blender_list_artifacts",
]);

/** Jobs the overview lists, newest first. */
const JOBS_SHOWN = 50;
/** Tasks a job's view lists. */
const TASKS_SHOWN = 200;

type Answer = Record<string, unknown> & { status: string };

export class UiViews {
  readonly #catalog: ToolCatalog;
  readonly #services: GatewayServices;
  readonly #env: GatewayEnv;

  constructor(catalog: ToolCatalog, services: GatewayServices, env: GatewayEnv) {
    this.#catalog = catalog;
    this.#services = services;
    this.#env = env;
  }

  /** Calls one of the dashboard's tools as `identity`; resolves with its JSON answer. */
  async call(identity: VerifiedIdentity, tool: string, args: Record<string, unknown>): Promise<Answer> {
    if (!UI_TOOLS.has(tool)) throw new Error(`the dashboard does not call ${tool}`);
    const result = await this.#catalog.call(tool, args, sessionlessContext(this.#services, this.#env, identity, "dashboard", `dashboard:${identity.userId}`));
    return result.structuredContent as Answer;
  }

  /** The user's peers (with the job each runs) and newest jobs. */
  async overview(identity: VerifiedIdentity) {
    const [clients, jobs] = await Promise.all([
      this.call(identity, "blender_list_available_clients", { include_stale: true, page_size: 500 }),
      this.call(identity, "blender_list_jobs", { limit: JOBS_SHOWN }),
    ]);
    const runningOn = new Map<string, string>();
    for (const job of this.#services.reaper.running(identity.userId)) {
      if (job.target_uuid) runningOn.set(job.target_uuid, job.parent_job_id ?? job.job_id);
    }
    type Client = { uuid: string; client_type: string; group_id: string | null; capabilities: string[]; blender_version?: string; stale: boolean; last_seen_seconds_ago: number; health?: unknown };
    const peers = [...(clients.persistent as Client[]), ...(clients.ephemeral as Client[])].map((client) => ({
      uuid: client.uuid,
      client_type: client.client_type,
      group_id: client.group_id,
      capabilities: client.capabilities,
      blender_version: client.blender_version ?? null,
      state: client.stale ? "stale" : runningOn.has(client.uuid) ? "busy" : "idle",
      current_job: runningOn.get(client.uuid) ?? null,
      last_seen_seconds_ago: Math.round(client.last_seen_seconds_ago),
    }));
    // A running farm job's progress is its items done (its record says 0 until it ends).
    type Job = { job_id: string; kind: string; status: string; progress: number };
    const listed = await Promise.all(
      (jobs.jobs as Job[]).map(async (job) => {
        if (job.kind !== "farm" || isTerminalJobStatus(job.status as never)) return job;
        const status = await this.call(identity, "blender_job_status", { job_id: job.job_id, tasks_limit: 0 });
        const farm = status.farm as { items_done: number; items_total: number } | undefined;
        return farm && farm.items_total > 0 ? { ...job, progress: farm.items_done / farm.items_total } : job;
      }),
    );
    return { user: identity.userId, peers, jobs: listed };
  }

  /** One job: its status (a farm job's summary and first tasks), frames and artifacts. */
  async job(identity: VerifiedIdentity, jobId: string) {
    const status = await this.call(identity, "blender_job_status", { job_id: jobId, tasks_limit: TASKS_SHOWN });
    if (status.status === "not_found") return { status };
    const farm = status.farm as { frames_total?: number; last_frame?: unknown } | undefined;
    const frames = farm?.frames_total !== undefined ? await farmFrames(this.#services, identity.userId, jobId) : null;
    // A job that is not a render lists its files; a render's frames are in its strip, and its
    // own files (the preview video) are listed.
    const artifacts = frames ? await this.#ownFiles(identity, jobId) : (await this.call(identity, "blender_list_artifacts", { job_id: jobId })).artifacts;
    return { status, frames, artifacts, ended: isTerminalJobStatus(status.status as never) };
  }

  /** A farm job's own files (not its tasks'): the preview video. */
  async #ownFiles(identity: VerifiedIdentity, jobId: string) {
    const record = await this.#services.jobs.get(identity.userId, jobId);
    return (record?.artifacts ?? []).map((stored) => ({ ...artifactRefOf(stored), file: artifactFileName(stored.name) }));
  }

  /** Where a render's stored frame is served, or undefined when it has none. */
  async frameUrl(identity: VerifiedIdentity, jobId: string, frame: number): Promise<string | undefined> {
    const record = await this.#services.jobs.get(identity.userId, jobId);
    const summary = FarmSummarySchema.safeParse(record?.result);
    if (record?.kind !== "farm" || !summary.success) return undefined;
    const { tally } = this.#services;
    await tally.current();
    return farmArtifacts(tally.attemptFiles(identity.userId, jobId, summary.data)).find((ref) => frameOfFileName(artifactFileName(ref.name)) === frame)?.url;
  }
}
