/**
 * The folder a farm attempt writes its outputs to. Its files become the attempt's artifacts
 * (`<u>/<attempt>/<file name>`; the farm job lists those of each task's latest attempt) as
 * they appear, not only at the end: each frame of a render is in the Object Store soon after
 * it is rendered, and what a dying Blender had finished is kept. Names starting with "." are
 * files still being written (the render script saves to `.frame-0001.png` and renames), and
 * are left until they have their final name. Artifacts are written once: a file that changes
 * after it was stored fails the attempt at its end, naming the file.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import type { ArtifactRef } from "@blender-fabric/bus";
import type { ArtifactWriter } from "@blender-fabric/engine";
import { bridgeWorkRoot, readBlenderFile } from "./work-root.js";

const CONTENT_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".exr": "image/x-exr",
  ".json": "application/json",
  ".txt": "text/plain",
};

export const contentTypeOf = (path: string) => CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";

export class OutputFolder {
  readonly path: string;
  readonly #artifacts: ArtifactWriter;
  readonly #userId: string;
  readonly #jobId: string;
  /** What was stored, by file name, with the size and mtime it had then. */
  readonly #stored = new Map<string, { signature: string; ref: ArtifactRef }>();
  #syncing: Promise<unknown> = Promise.resolve();

  private constructor(path: string, artifacts: ArtifactWriter, userId: string, jobId: string) {
    this.path = path;
    this.#artifacts = artifacts;
    this.#userId = userId;
    this.#jobId = jobId;
  }

  /** A fresh folder whose files are stored under the job `jobId`; Blender writes into it. */
  static async create(artifacts: ArtifactWriter, userId: string, jobId: string): Promise<OutputFolder> {
    return new OutputFolder(await mkdtemp(join(bridgeWorkRoot(), "task-")), artifacts, userId, jobId);
  }

  /**
   * Stores every finished file not stored yet; one sync at a time. `final` (the attempt has
   * ended): a stored file that changed since fails it, since what was stored is what counts.
   */
  sync(options: { final?: boolean } = {}): Promise<ArtifactRef[]> {
    const next = this.#syncing.then(() => this.#syncOnce(options.final ?? false));
    this.#syncing = next.catch(() => {});
    return next;
  }

  async #syncOnce(final: boolean): Promise<ArtifactRef[]> {
    const entries = await readdir(this.path, { withFileTypes: true });
    const names = entries.filter((entry) => entry.isFile() && !entry.name.startsWith(".")).map((entry) => entry.name).sort();
    for (const name of names) {
      const file = join(this.path, name);
      const info = await stat(file);
      const signature = `${info.size}:${info.mtimeMs}`;
      const stored = this.#stored.get(name);
      if (stored) {
        if (final && stored.signature !== signature) {
          throw new Error(`${name} changed after it was stored; outputs are stored once, so write a file under a name starting with "." and rename it when done`);
        }
        continue;
      }
      const ref = await this.#artifacts.put(this.#jobId, name, await readBlenderFile(file), contentTypeOf(name));
      this.#stored.set(name, { signature, ref });
    }
    return [...this.#stored.values()].map((entry) => entry.ref);
  }

  remove(): Promise<void> {
    return rm(this.path, { recursive: true, force: true });
  }
}
