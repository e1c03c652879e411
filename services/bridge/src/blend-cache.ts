/**
 * The farm scenes this peer has, by SHA-256: a task on a scene opens the cached copy, and
 * only a scene the peer has never seen is downloaded from `fabric_blends`. A file is named
 * by its hash and only ever written whole (PeerFiles.download), so what is here is right.
 */
import { mkdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlendFiles } from "@blender-fabric/engine";

export type CachedBlend = { path: string; source: "cache" | "object_store" };

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Where a peer keeps its cached scenes: FABRIC_BLEND_CACHE, or a folder of its own in the temp dir. */
export const blendCacheFolder = (folder: string, clientUuid: string) => folder || join(tmpdir(), `fabric-blends-${encodeURIComponent(clientUuid)}`);

export class BlendCache {
  readonly #blends: BlendFiles;
  readonly #folder: string;
  /** Downloads in flight, so two tasks on one new scene fetch it once. */
  readonly #fetching = new Map<string, Promise<void>>();

  constructor(blends: BlendFiles, folder: string, clientUuid: string) {
    this.#blends = blends;
    this.#folder = blendCacheFolder(folder, clientUuid);
  }

  /** Where the scene `sha256` of `userId` is (or would be) kept. */
  pathOf(userId: string, sha256: string): string {
    return join(this.#folder, encodeURIComponent(userId), `${sha256}.blend`);
  }

  /** The local path of a scene, downloading it first if this peer does not have it. */
  async ensure(userId: string, sha256: string): Promise<CachedBlend> {
    const path = this.pathOf(userId, sha256);
    if (await exists(path)) return { path, source: "cache" };
    let fetching = this.#fetching.get(path);
    if (!fetching) {
      fetching = (async () => {
        await mkdir(join(this.#folder, encodeURIComponent(userId)), { recursive: true });
        await this.#blends.download(sha256, path);
      })().finally(() => this.#fetching.delete(path));
      this.#fetching.set(path, fetching);
    }
    await fetching;
    return { path, source: "object_store" };
  }
}
