/**
 * Artifacts (renders, screenshots, large results) in the JetStream Object Store
 * `fabric_artifacts`, named `<u>/<job>/<name>`. Bytes never travel as a path on another
 * machine: a bridge puts them here and the gateway serves them over HTTP with auth.
 */
import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { BucketName, decodeToken, encodeToken, type StoredArtifact } from "@blender-fabric/protocol";
import { retryJetStream } from "./kv-update.js";
import { TenantObjectStores } from "./tenant-object-stores.js";

/** How results and events refer to an artifact. */
export type ArtifactRef = {
  /** `<u>/<job>/<name>` with each part token-encoded. */
  name: string;
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  content_type: string;
  /** Path on any gateway replica: GET it with the same bearer token. */
  url: string;
  /** When it was stored (ISO 8601); absent on a reference made before storing. */
  stored_at?: string;
};

/** `<u>/<job>/`: the names of one job's artifacts start with it. */
const artifactPrefix = (userId: string, jobId: string) => `${encodeToken(userId)}/${encodeToken(jobId)}/`;

const artifactName = (userId: string, jobId: string, fileName: string) =>
  `${artifactPrefix(userId, jobId)}${encodeToken(fileName)}`;

const artifactUrl = (name: string) => `/artifacts/${name}`;

/** The file name of an artifact name `<u>/<job>/<file>` (decoded). */
export const artifactFileName = (name: string): string => decodeToken(name.split("/").at(-1)!);

/** The reference of a file a job's record lists (StoredArtifact). */
export const artifactRefOf = (stored: StoredArtifact): ArtifactRef => ({ ...stored, url: artifactUrl(stored.name) });

/** A job stores a file under a name it has stored before. */
export class ArtifactExists extends Error {
  override name = "ArtifactExists";
}

/** How long reading one artifact may take before the reader is told to try again. ms */
const READ_TIMEOUT_MS = 30_000;

/** Each tenant's artifacts are in its own bucket (tenant-object-stores.ts). */
export class ArtifactStore {
  readonly #stores: TenantObjectStores;

  private constructor(stores: TenantObjectStores) {
    this.#stores = stores;
  }

  static async open(nc: NatsConnection, replicas = 1): Promise<ArtifactStore> {
    return new ArtifactStore(new TenantObjectStores(nc, BucketName.Artifacts, replicas));
  }

  /** The bytes of artifacts a tenant stores now (its quota is checked against it). */
  storedBytes(userId: string): Promise<number> {
    return this.#stores.storedBytes(userId);
  }

  /** Whether a job has stored a file of this name (artifacts are written once). */
  async exists(userId: string, jobId: string, fileName: string): Promise<boolean> {
    const info = await (await this.#stores.forUser(userId)).info(artifactName(userId, jobId, fileName));
    return !!info && !info.deleted;
  }

  /**
   * Stores a job's file. Written once: a name that exists is refused with
   * {@link ArtifactExists}, so no reader ever streams an object while it is replaced.
   */
  async put(userId: string, jobId: string, fileName: string, bytes: Uint8Array, contentType: string): Promise<ArtifactRef> {
    const name = artifactName(userId, jobId, fileName);
    const store = await this.#stores.forUser(userId);
    const existing = await store.info(name);
    if (existing && !existing.deleted) throw new ArtifactExists(`job ${jobId} has stored ${fileName} already; artifacts are written once`);
    await retryJetStream("store an artifact", () => store.putBlob({ name, description: contentType }, bytes));
    return {
      name,
      size: bytes.byteLength,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      content_type: contentType,
      url: artifactUrl(name),
    };
  }

  /** `<u>/`: every artifact name of one user starts with it. */
  prefixForUser(userId: string): string {
    return `${encodeToken(userId)}/`;
  }

  /** The bytes and content type of an artifact, or undefined when there is none. */
  async get(name: string): Promise<{ bytes: Uint8Array; contentType: string } | undefined> {
    const owner = name.split("/")[0];
    if (!owner || !name.includes("/")) return undefined;
    const store = await this.#stores.forUser(decodeToken(owner));
    const info = await store.info(name);
    if (!info || info.deleted) return undefined;
    // Bounded: a reader never waits on chunks that are gone (an object removed while read).
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading artifact ${name} took longer than ${READ_TIMEOUT_MS / 1000} s`)), READ_TIMEOUT_MS);
    });
    try {
      const bytes = await Promise.race([store.getBlob(name), gaveUp]);
      return bytes ? { bytes, contentType: info.description ?? "application/octet-stream" } : undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The bytes of one job's file, or undefined when there is none. */
  read(userId: string, jobId: string, fileName: string): Promise<{ bytes: Uint8Array; contentType: string } | undefined> {
    return this.get(artifactName(userId, jobId, fileName));
  }

  /** Every artifact of one job, as references, in name order. */
  refsForJob(userId: string, jobId: string): Promise<ArtifactRef[]> {
    return this.refsForJobs(userId, [jobId]);
  }

  /**
   * Every artifact of these jobs of one user, in name order: one listing of the tenant's
   * bucket. Jobs note the files their peers store (job records), so this is for files stored
   * otherwise or before that.
   */
  async refsForJobs(userId: string, jobIds: string[]): Promise<ArtifactRef[]> {
    const prefixes = new Set(jobIds.map((jobId) => artifactPrefix(userId, jobId)));
    const prefixOf = (name: string) => name.slice(0, name.lastIndexOf("/") + 1);
    return (await (await this.#stores.forUser(userId)).list())
      .filter((info) => !info.deleted && prefixes.has(prefixOf(info.name)))
      .map((info) => ({
        name: info.name,
        size: info.size,
        // The store keeps `SHA-256=<base64url>`; references carry hex like put() does.
        sha256: Buffer.from(info.digest.replace(/^SHA-256=/, ""), "base64url").toString("hex"),
        content_type: info.description ?? "application/octet-stream",
        url: artifactUrl(info.name),
        stored_at: info.mtime,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
