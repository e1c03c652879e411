/**
 * What `blender_job_status` adds for a farm job: its tasks (farm-progress.ts) and, for a
 * render, the frames stored so far and the last one rendered. Frames count as done once they
 * are in the Object Store, which a bridge does frame by frame, so the count moves while a
 * chunk renders. With `include_preview` the last frame also comes as an MCP image block.
 */
import type { ImageContent } from "@modelcontextprotocol/sdk/types.js";
import { FarmSummarySchema, decodeToken, frameOfFileName, type JobRecord } from "@blender-fabric/protocol";
import type { ArtifactRef } from "@blender-fabric/bus";
import { farmArtifacts, readFarmProgress, type FarmProgress } from "@blender-fabric/engine";
import type { ToolContext } from "../mcp/tool-context.js";

/** Largest frame sent back as a preview image. Bytes */
const MAX_PREVIEW_BYTES = 4 * 1024 * 1024;
const PREVIEW_TYPES = new Set(["image/png", "image/jpeg"]);

type RenderView = {
  frames_total: number;
  frames_done: number;
  last_frame: { frame: number; file: string; url: string; size: number; stored_at?: string } | null;
};

export type FarmStatus = { farm: FarmProgress & Partial<RenderView>; images: ImageContent[] };

export async function farmStatus(context: ToolContext, record: JobRecord, includePreview: boolean): Promise<FarmStatus | undefined> {
  const progress = await readFarmProgress(context.services.jobs, record);
  if (!progress) return undefined;
  const summary = FarmSummarySchema.parse(record.result);
  if (summary.kind !== "render") return { farm: progress, images: [] };
  const frames = (await farmArtifacts(context.services.artifacts, record.bus_id, progress))
    .map((ref) => ({ ref, file: decodeToken(ref.name.split("/").at(-1)!) }))
    .map((entry) => ({ ...entry, frame: frameOfFileName(entry.file) }))
    .filter((entry): entry is { ref: ArtifactRef; file: string; frame: number } => entry.frame !== undefined);
  const last = frames.reduce<(typeof frames)[number] | undefined>(
    (latest, entry) => (!latest || (entry.ref.stored_at ?? "") > (latest.ref.stored_at ?? "") ? entry : latest),
    undefined,
  );
  const view: RenderView = {
    frames_total: summary.items_total,
    frames_done: new Set(frames.map((entry) => entry.frame)).size,
    last_frame: last
      ? { frame: last.frame, file: last.file, url: last.ref.url, size: last.ref.size, stored_at: last.ref.stored_at }
      : null,
  };
  const images = includePreview && last ? await previewOf(context, last.ref) : [];
  return { farm: { ...progress, ...view }, images };
}

async function previewOf(context: ToolContext, ref: ArtifactRef): Promise<ImageContent[]> {
  if (!PREVIEW_TYPES.has(ref.content_type) || ref.size > MAX_PREVIEW_BYTES) return [];
  const stored = await context.services.artifacts.get(ref.name).catch(() => undefined);
  return stored ? [{ type: "image", data: Buffer.from(stored.bytes).toString("base64"), mimeType: ref.content_type }] : [];
}
