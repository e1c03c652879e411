/**
 * .blend files for the farm in the Object Store `fabric_blends`, named `<u>/<sha256>`
 * (protocol/blend.ts). Files go in and out as streams, never whole in memory, and every
 * copy is checked against its hash: a name is a promise about the bytes.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { BucketName, blendObjectName, projectSceneObjectName } from "@blender-fabric/protocol";
import { TenantObjectStores } from "./tenant-object-stores.js";

/** An object being read: its stored size, its bytes, and whether reading them failed. */
export type StoredObjectRead = { size: number; data: Readable; error: Promise<Error | null> };

/** Bytes that did not hash to the name they were given. */
export class BlendHashMismatch extends Error {}

/** Hashes what flows through it; `digest` and `size` are final once the flow ended. */
export class HashingStream extends Transform {
  readonly #hash = createHash("sha256");
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void) {
    this.#hash.update(chunk);
    this.size += chunk.byteLength;
    callback(null, chunk);
  }

  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** The SHA-256 (hex) and size of a file, read as a stream. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hashing = new HashingStream();
  await pipeline(createReadStream(path), hashing, async function* (source) {
    for await (const _chunk of source) {
      // drained: only the hash is wanted
    }
  });
  return { sha256: hashing.digest(), size: hashing.size };
}

/** Each tenant's .blend files are in its own bucket (tenant-object-stores.ts). */
export class BlendStore {
  readonly #stores: TenantObjectStores;

  private constructor(stores: TenantObjectStores) {
    this.#stores = stores;
  }

  static async open(nc: NatsConnection, replicas = 1): Promise<BlendStore> {
    return new BlendStore(new TenantObjectStores(nc, BucketName.Blends, replicas));
  }

  /** The bytes of .blend files and project scenes a tenant stores now (its quota is checked against it). */
  storedBytes(userId: string): Promise<number> {
    return this.#stores.storedBytes(userId);
  }

  /** The stored size of a user's .blend, or undefined when the user has none with this hash. */
  async sizeOf(userId: string, sha256: string): Promise<number | undefined> {
    const info = await (await this.#stores.forUser(userId)).info(blendObjectName(userId, sha256));
    return info && !info.deleted ? info.size : undefined;
  }

  /**
   * Stores a file by its SHA-256, which is computed here; `expectedSha256` (a caller's claim)
   * must match it. A file already stored under that hash is not stored again.
   */
  async putFile(userId: string, path: string, expectedSha256?: string): Promise<{ sha256: string; size: number }> {
    const actual = await hashFile(path);
    if (expectedSha256 && actual.sha256 !== expectedSha256) {
      throw new BlendHashMismatch(`the file's SHA-256 is ${actual.sha256}, not ${expectedSha256}`);
    }
    if ((await this.sizeOf(userId, actual.sha256)) !== undefined) return actual;
    await (await this.#stores.forUser(userId)).put(
      { name: blendObjectName(userId, actual.sha256), description: "application/x-blender" },
      Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
    );
    return actual;
  }

  /**
   * Writes a user's .blend to `path` (through a temporary file beside it, so `path` only
   * ever holds a whole, verified copy). Throws when there is no such .blend.
   */
  async download(userId: string, sha256: string, path: string): Promise<void> {
    const actual = await this.#downloadObject(userId, blendObjectName(userId, sha256), path);
    if (actual === undefined) throw new Error(`no .blend ${sha256} in the blend store`);
    if (actual !== sha256) throw new BlendHashMismatch(`the stored .blend hashed to ${actual}, not ${sha256}`);
  }

  /** Stores a project's scene, replacing the one saved before (the Object Store checks its digest). */
  async putProjectScene(userId: string, projectId: string, path: string): Promise<{ size: number }> {
    const info = await (await this.#stores.forUser(userId)).put(
      { name: projectSceneObjectName(userId, projectId), description: "application/x-blender" },
      Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
    );
    return { size: info.size };
  }

  /** Writes a project's saved scene to `path`; false when the project has none yet. */
  async downloadProjectScene(userId: string, projectId: string, path: string): Promise<boolean> {
    return (await this.#downloadObject(userId, projectSceneObjectName(userId, projectId), path)) !== undefined;
  }

  /** A user's .blend as a stream, or undefined when the user has none with this hash. */
  readBlend(userId: string, sha256: string): Promise<StoredObjectRead | undefined> {
    return this.#read(userId, blendObjectName(userId, sha256));
  }

  /** A project's saved scene as a stream, or undefined when the project has none yet. */
  readProjectScene(userId: string, projectId: string): Promise<StoredObjectRead | undefined> {
    return this.#read(userId, projectSceneObjectName(userId, projectId));
  }

  async #read(userId: string, name: string): Promise<StoredObjectRead | undefined> {
    const result = await (await this.#stores.forUser(userId)).get(name);
    if (!result) return undefined;
    return { size: result.info.size, data: Readable.fromWeb(result.data as import("node:stream/web").ReadableStream), error: result.error };
  }

  /** Streams one object to `path` through a partial file; its SHA-256, or undefined when absent. */
  async #downloadObject(userId: string, name: string, path: string): Promise<string | undefined> {
    const result = await (await this.#stores.forUser(userId)).get(name);
    if (!result) return undefined;
    const partial = `${path}.${process.pid}.partial`;
    const hashing = new HashingStream();
    try {
      await pipeline(Readable.fromWeb(result.data as import("node:stream/web").ReadableStream), hashing, createWriteStream(partial));
      const failure = await result.error;
      if (failure) throw failure;
      await rename(partial, path);
      return hashing.digest();
    } finally {
      await rm(partial, { force: true });
    }
  }
}
