/**
 * A project's scene outlives its peers (seed 004, scale to zero): a peer of a project opens
 * the scene its project saved last, and saves the scene back before it leaves, to the
 * tenant's blend store (`<u>/projects/<id>/scene.blend`). A peer that crashes keeps nothing
 * since the last save; an idle exit, SIGTERM (Kubernetes, Knative) and the end of the pool
 * that started it all save.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlendStore } from "@blender-fabric/bus";
import type { BlenderPeer } from "./blender-peer.js";

export type ProjectScene = { userId: string; projectId: string; blends: BlendStore };

/** Downloads the project's saved scene into a fresh folder; its path, or "" for a new project. */
export async function fetchProjectScene({ userId, projectId, blends }: ProjectScene): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "fabric-project-"));
  const path = join(folder, "scene.blend");
  if (await blends.downloadProjectScene(userId, projectId, path)) return path;
  await rm(folder, { recursive: true, force: true });
  return "";
}

/** Opens the project's scene in the running Blender (which started with the factory scene). */
export async function openProjectScene(peer: BlenderPeer, path: string): Promise<void> {
  await peer.start();
  const script = `bpy.ops.wm.open_mainfile(filepath=${JSON.stringify(path)})`;
  const reply = await peer.request({ type: "script", script, job_id: `project-open-${Date.now()}` });
  if (!reply.ok) throw new Error(`Blender could not open the project's scene: ${reply.error ?? "failed"}`);
}

/** Saves the peer's current scene (unsaved changes too) as the project's scene. Returns its size. */
export async function saveProjectScene(peer: BlenderPeer, { userId, projectId, blends }: ProjectScene): Promise<number> {
  const folder = await mkdtemp(join(tmpdir(), "fabric-project-save-"));
  const path = join(folder, "scene.blend");
  try {
    // copy=True: Blender's own file name and state stay as they are.
    const script = `bpy.ops.wm.save_as_mainfile(filepath=${JSON.stringify(path)}, copy=True, compress=False)`;
    const reply = await peer.request({ type: "script", script, job_id: `project-save-${Date.now()}` });
    if (!reply.ok) throw new Error(`Blender could not save the scene: ${reply.error ?? "failed"}`);
    return (await blends.putProjectScene(userId, projectId, path)).size;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
