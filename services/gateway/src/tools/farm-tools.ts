/**
 * The farm (DESIGN.md section 8). `blender_farm_map` splits its items into chunks and queues
 * one task per chunk on the group's work subject; `blender_render_frames` is the same with
 * frame numbers for items and a render script. Every idle peer of the group pulls the next
 * task, so adding a bridge adds throughput with no configuration anywhere else. Each task is
 * a job of its own; the farm job is their parent, and the reaper settles it once all ended.
 */
import { controlFarm } from "@blender-fabric/engine";
import {
  FarmControlInputSchema,
  FarmMapInputSchema,
  FarmPlacementSchema,
  RenderFramesInputSchema,
  SNAPSHOT_COMMAND,
  BlendSnapshotResultSchema,
  chunk,
  parseFrames,
  previewFirst,
  renderFramesScript,
  FarmSummarySchema,
  type BlendSource,
  type FarmSummary,
  ToolOutputSchemas,
} from "@blender-fabric/protocol";
import type { z } from "zod";
import { defineTool, type ToolDefinition } from "../mcp/tool-catalog.js";
import type { ToolContext } from "../mcp/tool-context.js";
import { dispatchCommand } from "../dispatch/dispatch-command.js";
import { refuseCaller } from "./caller-checks.js";

/** How long a peer may take to save its scene for `blend: {snapshot_of}`. Seconds */
const SNAPSHOT_TIMEOUT_SECONDS = 120;

/** One farm job as both tools start it. */
type FarmRequest = {
  tool: string;
  command: "farm_map" | "render_frames";
  requestId: string | null;
  /** What makes two requests the same request (with request_id). */
  params: Record<string, unknown>;
  kind: FarmSummary["kind"];
  script: string;
  items: unknown[];
  chunkSize: number;
  /** Which peers take the tasks and how failures are retried (group_id null: the user's farm pool). */
  placement: FarmPlacement;
  /** A render: make preview.mp4 once every frame is stored. */
  previewVideo: boolean;
};

type FarmPlacement = Omit<z.output<typeof FarmPlacementSchema>, "bus_id" | "request_id">;

/** A tool's input without the caller's own fields: what makes two requests the same request. */
const requestParams = <Input extends { bus_id: unknown; request_id: unknown }>({ bus_id: _bus, request_id: _request, ...params }: Input) => params;

type Refusal = { status: string; error: string; field?: string };

const farmMap = defineTool({
  name: "blender_farm_map",
  title: "Run a script over items on a farm",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  outputSchema: ToolOutputSchemas.farmJob,
  description:
    "Run a script over many items on a farm: the items are split into chunks of chunk_size, and every idle " +
    "Blender peer of group_id (default: any farm worker of yours) with every one of capabilities takes the next chunk. In the script, `items` is the task's chunk; " +
    "report_progress(fraction, message) reports on it; files written to `output_dir` become the job's artifacts. " +
    "blend opens a scene first (an uploaded .blend by sha256, or {snapshot_of: <peer uuid>}). Answers at once with " +
    "the farm job_id; follow it with blender_job_status. Pass a request_id and reuse it when you retry.",
  inputSchema: FarmMapInputSchema,
  async handler(input, context) {
    const refusal = refuseCaller(context, input.bus_id);
    if (refusal) return refusal;
    const params = requestParams(input);
    return startFarm(context, {
      tool: "blender_farm_map",
      command: "farm_map",
      requestId: input.request_id,
      params,
      kind: "map",
      script: input.script,
      items: input.items,
      chunkSize: input.chunk_size,
      placement: params,
      previewVideo: false,
    });
  },
});

const renderFrames = defineTool({
  name: "blender_render_frames",
  title: "Render frames on a farm",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  outputSchema: ToolOutputSchemas.farmJob,
  description:
    'Render frames ("1-100,120") on a farm: chunks of chunk_size frames go to whichever peer of group_id (default: ' +
    "any farm worker of yours) with every one of capabilities is idle next. blend is the scene: {sha256} of a .blend uploaded with " +
    "PUT /blends/<sha256>, or {snapshot_of: <peer uuid>} to render a live peer's current scene; default: each " +
    "peer's open scene. Each frame is stored as frame-0001.png (or .jpg/.exr) as soon as it is rendered: list them " +
    "with blender_list_artifacts. Answers at once with the farm job_id; blender_job_status shows frames done and, " +
    "with include_preview, the last frame as an image.",
  inputSchema: RenderFramesInputSchema,
  async handler(input, context) {
    const refusal = refuseCaller(context, input.bus_id);
    if (refusal) return refusal;
    const params = requestParams(input);
    return startFarm(context, {
      tool: "blender_render_frames",
      command: "render_frames",
      requestId: input.request_id,
      params,
      kind: "render",
      script: renderFramesScript(input),
      items: input.frame_order === "preview_first" ? previewFirst(parseFrames(input.frames)) : parseFrames(input.frames),
      chunkSize: input.chunk_size,
      placement: params,
      previewVideo: input.preview_video,
    });
  },
});

/**
 * Records the farm job and queues its tasks (the engine's `queueFarm`). A repeat (its first
 * gateway may have died half-way) finds the farm job's summary and queues what is not queued
 * yet; the stream drops the copies of what is.
 */
async function startFarm(context: ToolContext, request: FarmRequest) {
  const { engine } = context.services;
  const userId = context.identity.userId;
  const ticket = await engine.ticket(userId, request);
  if ("status" in ticket) return ticket;
  const recorded = ticket.repeat ? FarmSummarySchema.safeParse(await engine.farmSummary(userId, ticket.jobId)) : undefined;
  let summary: FarmSummary;
  if (recorded?.success) {
    summary = recorded.data;
  } else {
    const over = engine.refuseOverWorkQuota(userId, Math.ceil(request.items.length / request.chunkSize) + 1);
    if (over) return over;
    const { placement } = request;
    const blend = await resolveBlend(context, placement.blend);
    if (typeof blend === "object" && blend !== null) return blend;
    summary = {
      group_id: placement.group_id,
      tasks_total: Math.ceil(request.items.length / request.chunkSize),
      items_total: request.items.length,
      max_attempts: placement.max_attempts,
      max_peer_failures: placement.max_peer_failures,
      capabilities: placement.capabilities,
      failures: {},
      kind: request.kind,
      chunk_size: request.chunkSize,
      priority: placement.priority,
      blend_sha256: blend,
      owner_timeout_seconds: placement.owner_timeout_seconds,
      owner_seen_at: null,
      paused: false,
      requeues: 0,
      preview_video: request.previewVideo,
      preview_video_status: null,
    };
  }
  await engine.queueFarm(userId, ticket.jobId, request.command, summary, {
    script: request.script,
    chunks: chunk(request.items, request.chunkSize),
    taskTimeoutSeconds: request.placement.task_timeout_seconds,
  });
  return {
    status: "queued",
    job_id: ticket.jobId,
    group_id: summary.group_id,
    tasks: summary.tasks_total,
    [request.kind === "render" ? "frames" : "items"]: summary.items_total,
    ...(summary.blend_sha256 ? { blend: { sha256: summary.blend_sha256 } } : {}),
  };
}

/** The SHA-256 of the scene the tasks open (null: none), or why there is none. */
async function resolveBlend(context: ToolContext, blend: BlendSource | null): Promise<string | null | Refusal> {
  if (!blend) return null;
  if ("sha256" in blend) {
    if ((await context.services.blends.sizeOf(context.identity.userId, blend.sha256)) !== undefined) return blend.sha256;
    return {
      status: "invalid_params",
      field: "blend.sha256",
      error: `blend.sha256: you have uploaded no .blend with SHA-256 ${blend.sha256}; PUT it to /blends/${blend.sha256} first`,
    };
  }
  const answer = await dispatchCommand(context, {
    tool: "blender_render_frames",
    command: SNAPSHOT_COMMAND,
    params: {},
    selector: blend.snapshot_of,
    requestId: null,
    timeoutSeconds: SNAPSHOT_TIMEOUT_SECONDS,
  });
  const result = answer.status === "completed" && "result" in answer ? BlendSnapshotResultSchema.safeParse(JSON.parse(String(answer.result))) : undefined;
  if (result?.success) return result.data.sha256;
  const why = "error" in answer && answer.error ? answer.error : `the snapshot ended ${answer.status}`;
  return { status: "snapshot_failed", field: "blend.snapshot_of", error: `blend.snapshot_of: ${blend.snapshot_of} could not save its scene: ${why}` };
}

const farmControl = defineTool({
  name: "blender_farm_control",
  title: "Pause, resume, requeue or reprioritise a farm job",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.farmControl,
  description:
    "Control a farm job after submitting it: pause (no task starts a new attempt; running ones finish), resume, " +
    "requeue_failed (tasks that failed every attempt get max_attempts more, its blocklist is cleared, a failed job runs " +
    "again), or set_priority (its waiting tasks move to priority high, normal or low). Cancel it with blender_job_cancel.",
  inputSchema: FarmControlInputSchema,
  async handler(input, context) {
    const userId = context.identity.userId;
    if (input.action === "set_priority" && input.priority === null) {
      return { status: "invalid_params", field: "priority", error: "priority: set_priority needs high, normal or low" };
    }
    const record = await context.services.jobs.get(userId, input.job_id);
    if (!record) return { status: "not_found", job_id: input.job_id, error: `No job ${input.job_id} on your bus.` };
    if (record.kind !== "farm") return { status: "not_controllable", job_id: input.job_id, job_status: record.status, error: "job_id: not a farm job (from blender_farm_map or blender_render_frames)" };
    const request = input.action === "set_priority" ? { action: input.action, priority: input.priority! } : { action: input.action };
    return controlFarm(context.services, userId, input.job_id, request);
  },
});

export const createFarmTools = (): ToolDefinition[] => [farmMap, renderFrames, farmControl];
