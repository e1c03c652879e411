/**
 * What `blender_job_status` adds for a farm job: a summary whose size does not grow with the
 * job (counts per task status, items done, failures, ETA; for a render the frames stored and
 * the last one), and one page of its tasks with their attempts. Both come from this replica's
 * memory: the farm tally (the engine's farm-tally.ts) and the watched artifact index, brought
 * up to date with every write acknowledged before the call, so a 10,000-task job costs no
 * read per task.
 *
 * Frames count as done once they are in the Object Store, which a bridge does frame by frame,
 * so the count moves while a chunk renders. With `include_preview` the last frame also comes
 * as an MCP image block.
 */
import type { ImageContent } from "@modelcontextprotocol/sdk/types.js";
import { FarmSummarySchema, epochSeconds, frameOfFileName, type JobRecord } from "@blender-fabric/protocol";
import { artifactFileName, type ArtifactRef } from "@blender-fabric/bus";
import { blocklistedPeers, farmArtifacts, type FarmTallySummary } from "@blender-fabric/engine";
import type { ToolContext } from "../mcp/tool-context.js";

/** Largest frame sent back as a preview image. Bytes */
const MAX_PREVIEW_BYTES = 4 * 1024 * 1024;
const PREVIEW_TYPES = new Set(["image/png", "image/jpeg"]);

type LastFrame = { frame: number; file: string; url: string; size: number; stored_at?: string };

type RenderView = { frames_total: number; frames_done: number; last_frame: LastFrame | null };

export type FarmView = FarmTallySummary &
  Partial<RenderView> & {
    group_id: string | null;
    priority: string;
    paused: boolean;
    /** A render's preview video: null (none asked, or not started), `encoding since <t>`, `stored`, `failed: <why>`. */
    preview_video: string | null;
    /** Failed or lost attempts per peer. */
    failures: Record<string, number>;
    blocklisted: string[];
    /** The page of tasks listed: from `tasks_offset`, at most the call's `tasks_limit`. */
    tasks_offset: number;
    tasks: unknown[];
  };

export type FarmStatus = { farm: FarmView; images: ImageContent[]; lastFrameRef?: ArtifactRef };

export type TaskPage = { offset: number; limit: number };

export async function farmStatus(context: ToolContext, record: JobRecord, page: TaskPage, includePreview = false): Promise<FarmStatus | undefined> {
  const parsed = FarmSummarySchema.safeParse(record.result);
  if (record.kind !== "farm" || !parsed.success) return undefined;
  const summary = parsed.data;
  const { tally } = context.services;
  await tally.current();
  const view: FarmView = {
    group_id: summary.group_id,
    priority: summary.priority,
    paused: summary.paused,
    preview_video: summary.preview_video ? (summary.preview_video_status ?? "waiting for the frames") : null,
    failures: summary.failures,
    blocklisted: blocklistedPeers(summary),
    ...tally.summarize(record.bus_id, record.job_id, summary, record.status, epochSeconds()),
    tasks_offset: page.offset,
    tasks: tally.tasks(record.bus_id, record.job_id, summary, page.offset, page.limit),
  };
  if (summary.kind !== "render") return { farm: view, images: [] };
  const frames = farmArtifacts(tally.attemptFiles(record.bus_id, record.job_id, summary))
    .map((ref) => ({ ref, file: artifactFileName(ref.name) }))
    .map((entry) => ({ ...entry, frame: frameOfFileName(entry.file) }))
    .filter((entry): entry is { ref: ArtifactRef; file: string; frame: number } => entry.frame !== undefined);
  const last = frames.reduce<(typeof frames)[number] | undefined>(
    (latest, entry) => (!latest || (entry.ref.stored_at ?? "") > (latest.ref.stored_at ?? "") ? entry : latest),
    undefined,
  );
  const render: RenderView = {
    frames_total: summary.items_total,
    frames_done: new Set(frames.map((entry) => entry.frame)).size,
    last_frame: last ? { frame: last.frame, file: last.file, url: last.ref.url, size: last.ref.size, stored_at: last.ref.stored_at } : null,
  };
  const images = includePreview && last ? await previewOf(context, last.ref) : [];
  return { farm: { ...view, ...render }, images, lastFrameRef: last?.ref };
}

async function previewOf(context: ToolContext, ref: ArtifactRef): Promise<ImageContent[]> {
  if (!PREVIEW_TYPES.has(ref.content_type) || ref.size > MAX_PREVIEW_BYTES) return [];
  const stored = await context.services.artifacts.get(ref.name).catch(() => undefined);
  return stored ? [{ type: "image", data: Buffer.from(stored.bytes).toString("base64"), mimeType: ref.content_type }] : [];
}
