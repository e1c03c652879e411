/**
 * Farm work (DESIGN.md section 8): one request split into tasks on the work-queue stream,
 * taken by whichever idle peer of the group pulls next. `blender_farm_map` runs a script per
 * chunk of items; each task is a job of its own, and the farm job is their parent.
 */
import { z } from "zod";
import { IdentifierSchema } from "./identifiers.js";
import { RequestIdSchema } from "./dispatch.js";
import { BlendSha256Schema, BlendSourceSchema } from "./blend.js";

/** Most items one farm job takes. */
export const MAX_FARM_ITEMS = 10_000;

/** Farm job priorities, highest first: a peer takes a task of a higher one before any of a lower one. */
export const FARM_PRIORITIES = ["high", "normal", "low"] as const;
export type FarmPriority = (typeof FARM_PRIORITIES)[number];
export const FarmPrioritySchema = z
  .enum(FARM_PRIORITIES)
  .default("normal")
  .describe("Idle peers of the group take tasks of high-priority farm jobs first, then normal, then low. Interactive work always comes first.");

/** Most attempts of one task. */
export const MAX_FARM_ATTEMPTS = 10;
/** Most attempts a task may have in all, requeues included. */
export const MAX_FARM_ATTEMPT_BUDGET = 50;

/** How long farm tasks wait for a peer before they expire (the stream's max age). Seconds. */
export const FARM_TASK_DEADLINE_SECONDS = 24 * 60 * 60;

/**
 * Where and how a farm job's tasks run, the same for every farm tool: which peers take them
 * (group and/or capabilities), the scene they open, their priority, and how failures are
 * retried and blocklisted.
 */
export const FarmPlacementSchema = z.object({
  group_id: IdentifierSchema.nullable()
    .default(null)
    .describe("The farm: every idle peer of this group takes tasks. Default: every farm worker of yours (spawn-mode bridges)."),
  capabilities: z
    .array(z.string().min(1).max(64))
    .max(64)
    .default([])
    .describe('Only peers that have every one of these take tasks (e.g. ["gpu"]).'),
  blend: BlendSourceSchema.nullable()
    .default(null)
    .describe("The scene each task opens before it runs. Default: whatever scene each peer has open."),
  priority: FarmPrioritySchema,
  owner_timeout_seconds: z
    .number()
    .int()
    .min(5)
    .max(FARM_TASK_DEADLINE_SECONDS)
    .nullable()
    .default(null)
    .describe(
      "Whoever submits the job follows it (blender_job_status at least this often): if nobody has looked at it for this long and none of its tasks has started, it expires, so a job whose submitter is gone does not wait for peers for a day. Default: tasks wait up to 24 h.",
    ),
  max_attempts: z
    .number()
    .int()
    .min(1)
    .max(MAX_FARM_ATTEMPTS)
    .default(3)
    .describe("A task that fails or whose peer dies is tried again, on another peer when there is one, up to this often."),
  max_peer_failures: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(2)
    .describe("A peer whose attempts fail this often in this job takes no more of its tasks (blocklisted for the job)."),
  task_timeout_seconds: z
    .number()
    .positive()
    .max(24 * 60 * 60)
    .default(600)
    .describe("An attempt that reports no progress (for a render: finishes no frame) for this long is stopped and tried again elsewhere. Seconds."),
  bus_id: z.string().nullable().default(null).describe("The bus (user id); only your own."),
  request_id: RequestIdSchema,
});

export const FarmMapInputSchema = FarmPlacementSchema.extend({
  script: z
    .string()
    .min(1)
    .describe(
      "Python run once per task, with `items` (its chunk of the list), `output_dir` (files written there become the " +
        "farm job's artifacts, see blender_list_artifacts), bpy and report_progress(fraction, message).",
    ),
  items: z.array(z.unknown()).min(1).max(MAX_FARM_ITEMS).describe("JSON values, split into chunks of chunk_size."),
  chunk_size: z.number().int().min(1).max(MAX_FARM_ITEMS).default(1).describe("Items per task."),
});

/** What `blender_farm_control` does to a farm job after it was submitted. */
export const FARM_CONTROL_ACTIONS = ["pause", "resume", "requeue_failed", "set_priority"] as const;
export type FarmControlAction = (typeof FARM_CONTROL_ACTIONS)[number];

export const FarmControlInputSchema = z.object({
  job_id: IdentifierSchema.describe("The farm job (from blender_farm_map or blender_render_frames)."),
  action: z
    .enum(FARM_CONTROL_ACTIONS)
    .describe(
      "pause: no task starts a new attempt (running ones finish); resume: tasks start again; requeue_failed: tasks that " +
        "failed every attempt get max_attempts more, the job's blocklist is cleared, and a failed job runs again; " +
        "set_priority: its waiting tasks move to `priority`.",
    ),
  priority: z.enum(FARM_PRIORITIES).nullable().default(null).describe("For set_priority: high, normal or low."),
});

/** A task of a farm job as it travels on `user.<u>.work.group.<gid>`. */
export const FarmTaskSchema = z.object({
  message_type: z.literal("farm_task"),
  /** The task's own job id. */
  job_id: IdentifierSchema,
  farm_job_id: IdentifierSchema,
  script: z.string(),
  items: z.array(z.unknown()),
  /** The task's attempt budget when it was published (requeues raise it: attemptBudget). */
  max_attempts: z.number().int().min(1).max(MAX_FARM_ATTEMPT_BUDGET),
  capabilities: z.array(z.string()).default([]),
  /** Seconds without progress after which an attempt is stopped. */
  task_timeout_seconds: z.number().positive(),
  /** The .blend (in `fabric_blends`) the peer opens before the script runs. */
  blend_sha256: BlendSha256Schema.nullable().default(null),
  /**
   * The priority lane it was published on. A priority change republishes the task on its new
   * lane; a copy left on the old one is dropped when a peer takes it. Absent: any.
   */
  priority: z.enum(FARM_PRIORITIES).optional(),
});
export type FarmTask = z.infer<typeof FarmTaskSchema>;

/** The job id of task `index` of a farm job: also the job id of that task's first attempt. */
export const farmTaskJobId = (farmJobId: string, index: number) => `${farmJobId}-t${String(index + 1).padStart(4, "0")}`;

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

/** What a farm job's record holds in `result` while it runs and after. */
export const FarmSummarySchema = z.preprocess(
  // Records written before issue 18 listed every task id (10,000 ids made a 200 kB record,
  // rewritten on each change); the ids are `farmTaskJobId(job, index)`, so a count is enough.
  (value) =>
    typeof value === "object" && value !== null && "task_ids" in value && !("tasks_total" in value)
      ? { ...value, tasks_total: Array.isArray((value as { task_ids: unknown }).task_ids) ? (value as { task_ids: unknown[] }).task_ids.length : 0 }
      : value,
  z.object({
    /** null: the user's whole farm pool. */
    group_id: z.string().nullable(),
    /** Task `i` (from 0) is job `farmTaskJobId(<farm job>, i)`. */
    tasks_total: z.number().int().min(0),
    items_total: z.number().int(),
    /** Attempts per task; each requeue gives a task that many more (attemptBudget). */
    max_attempts: z.number().int(),
    max_peer_failures: z.number().int(),
    capabilities: z.array(z.string()).default([]),
    /** Failed or lost attempts per peer uuid, counted as they end (the engine's job-store.ts). */
    failures: z.record(z.string(), z.number().int()).default({}),
    /** `render` for blender_render_frames: its items are frame numbers. */
    kind: z.enum(["map", "render"]).default("map"),
    chunk_size: z.number().int().default(1),
    priority: z.enum(FARM_PRIORITIES).default("normal"),
    blend_sha256: BlendSha256Schema.nullable().default(null),
    /** Expire when nobody followed the job this long before any task started (FarmPlacementSchema). Seconds */
    owner_timeout_seconds: z.number().int().nullable().default(null),
    /** When its submitter last looked at it (blender_job_status), epoch seconds; null: since it was made. */
    owner_seen_at: z.number().nullable().default(null),
    /** Paused: no task starts a new attempt; running attempts finish. */
    paused: z.boolean().default(false),
    /** How often its failed tasks were requeued (each time every unfinished task got max_attempts more). */
    requeues: z.number().int().min(0).default(0),
    /** Make an MP4 of the frames when a render completes (blender_render_frames' preview_video). */
    preview_video: z.boolean().default(false),
    /** null (not started), `encoding since <epoch s>`, `stored`, or `failed: <why>`. */
    preview_video_status: z.string().nullable().default(null),
  }),
);
export type FarmSummary = z.infer<typeof FarmSummarySchema>;


/** How many attempts each task of a farm job may make now: max_attempts, and as many again per requeue. */
export const attemptBudget = (summary: Pick<FarmSummary, "max_attempts" | "requeues">) => summary.max_attempts * (1 + summary.requeues);

/** The job ids of a farm job's tasks, in order. */
export const farmTaskIds = (farmJobId: string, summary: Pick<FarmSummary, "tasks_total">) =>
  Array.from({ length: summary.tasks_total }, (_, index) => farmTaskJobId(farmJobId, index));

/** The index (from 0) of a farm task from its job id, or undefined for another id. */
export function farmTaskIndex(farmJobId: string, taskJobId: string): number | undefined {
  const prefix = `${farmJobId}-t`;
  if (!taskJobId.startsWith(prefix)) return undefined;
  const digits = taskJobId.slice(prefix.length);
  return /^\d{4,}$/u.test(digits) ? Number(digits) - 1 : undefined;
}

/** How many items task `index` has: chunk_size, the last one what is left. */
export const itemsOfTask = (summary: Pick<FarmSummary, "items_total" | "chunk_size">, index: number) =>
  Math.max(0, Math.min(summary.chunk_size, summary.items_total - index * summary.chunk_size));

/**
 * The script a peer runs for a task: the farm's script with `items` and `output_dir` (a fresh
 * folder whose files become the farm job's artifacts) bound first, after the task's scene was
 * opened (`blendPath`, a cached copy of its .blend). JSON text is also a valid Python string
 * literal. The preamble is always three lines, so tracebacks count the same way.
 */
export const farmTaskScript = (task: Pick<FarmTask, "script" | "items">, outputDir: string, blendPath: string | null = null) =>
  `items = __import__("json").loads(${JSON.stringify(JSON.stringify(task.items))})\n` +
  `output_dir = ${JSON.stringify(outputDir)}\n` +
  `${blendPath ? `bpy.ops.wm.open_mainfile(filepath=${JSON.stringify(blendPath)})` : "pass"}\n${task.script}`;
