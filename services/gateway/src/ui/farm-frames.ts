/**
 * The state of every frame of a render, for the dashboard's frame strip: frames in the order
 * their tasks were made, as ranges (`[[1, 250]]`, a few more for preview-first), and one
 * letter per frame: d stored, r its task running, q waiting, w waiting for a retry, f failed,
 * c cancelled or expired. 10,000 frames make about 10 kB.
 */
import { FarmSummarySchema, frameOfFileName } from "@blender-fabric/protocol";
import { artifactFileName } from "@blender-fabric/bus";
import { farmArtifacts, readFarmSpec, type FarmSpec } from "@blender-fabric/engine";
import type { GatewayServices } from "../services.js";

export type FarmFrames = { ranges: [number, number][]; states: string };

const LETTER: Record<string, string> = { completed: "d", running: "r", queued: "q", unrecorded: "q", retrying: "w", failed: "f", lost: "f", cancelled: "c", expired: "c" };

/** Specs are written once, so each is read once per replica (the last few jobs looked at). */
const specs = new Map<string, Promise<FarmSpec | undefined>>();
const SPECS_KEPT = 20;

function specOf(services: GatewayServices, userId: string, jobId: string): Promise<FarmSpec | undefined> {
  const key = `${userId}\u0000${jobId}`;
  let spec = specs.get(key);
  if (!spec) {
    spec = readFarmSpec(services.artifacts, userId, jobId);
    specs.set(key, spec);
    if (specs.size > SPECS_KEPT) specs.delete(specs.keys().next().value!);
  }
  return spec;
}

export async function farmFrames(services: GatewayServices, userId: string, jobId: string): Promise<FarmFrames | null> {
  const record = await services.jobs.get(userId, jobId);
  const summary = FarmSummarySchema.safeParse(record?.result);
  if (!record || !summary.success || summary.data.kind !== "render") return null;
  const spec = await specOf(services, userId, jobId);
  if (!spec) return null;
  await services.tally.current();
  const tasks = services.tally.tasks(userId, jobId, summary.data);
  const stored = new Set(
    farmArtifacts(services.tally.attemptFiles(userId, jobId, summary.data)).map((ref) => frameOfFileName(artifactFileName(ref.name))).filter((frame) => frame !== undefined),
  );
  const ranges: [number, number][] = [];
  let states = "";
  tasks.forEach((task, index) => {
    for (const item of spec.chunks[index] ?? []) {
      const frame = Number(item);
      const last = ranges.at(-1);
      if (last && frame === last[1] + 1) last[1] = frame;
      else ranges.push([frame, frame]);
      states += stored.has(frame) ? "d" : (LETTER[task.status] ?? "q");
    }
  });
  return { ranges, states };
}
