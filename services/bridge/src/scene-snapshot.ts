/**
 * `blend: {snapshot_of}`: the peer saves a copy of its current scene, unsaved changes and
 * all, and the copy goes to `fabric_blends` by hash, so a scene an LLM built interactively
 * renders on the farm. Saving with `copy=True` leaves the peer's own file and state alone.
 * The copy also seeds this peer's cache: it renders its own snapshot without a download.
 */
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { BlendFiles, JobOutcome } from "@blender-fabric/engine";
import type { BlenderPeer } from "./blender-peer.js";
import type { BlendCache } from "./blend-cache.js";
import { bridgeWorkRoot, privateCopyOf } from "./work-root.js";

type SnapshotDependencies = { peer: BlenderPeer; blends: BlendFiles; cache: BlendCache; userId: string; jobId: string };

export async function saveSceneSnapshot({ peer, blends, cache, userId, jobId }: SnapshotDependencies): Promise<JobOutcome> {
  // Blender writes the copy: into the folder it shares with the bridge.
  const folder = await mkdtemp(join(bridgeWorkRoot(), "snapshot-"));
  const path = join(folder, "snapshot.blend");
  let own: Awaited<ReturnType<typeof privateCopyOf>> | undefined;
  try {
    const script = `bpy.ops.wm.save_as_mainfile(filepath=${JSON.stringify(path)}, copy=True, compress=False)`;
    const reply = await peer.request({ type: "script", script, job_id: jobId });
    if (!reply.ok) return { status: "failed", error: `the scene could not be saved: ${reply.error ?? "failed"}`, handler_ms: reply.duration_ms };
    // Stored from where Blender can no longer swap it for a link to a file of the bridge's.
    own = await privateCopyOf(path);
    const { sha256, size } = await blends.putFile(own.path);
    const cached = cache.pathOf(userId, sha256);
    await mkdir(dirname(cached), { recursive: true });
    await rename(own.path, cached);
    return { status: "completed", result: { sha256, size }, handler_ms: reply.duration_ms };
  } catch (error) {
    return { status: "failed", error: `the scene snapshot could not be stored: ${String(error)}` };
  } finally {
    await own?.remove();
    await rm(folder, { recursive: true, force: true });
  }
}
