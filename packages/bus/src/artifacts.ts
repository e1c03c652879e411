/**
 * Artifacts (renders, screenshots, large results) in the JetStream Object Store
 * `fabric_artifacts`, named `<u>/<job>/<name>`. Bytes never travel as a path on another
 * machine: a bridge puts them here and the gateway serves them over HTTP with auth.
 */
import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { BucketName, decodeToken, encodeToken } from "@blender-fabric/protocol";
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

  async put(userId: string, jobId: string, fileName: string, bytes: Uint8Array, contentType: string): Promise<ArtifactRef> {
    const name = artifactName(userId, jobId, fileName);
    const store = await this.#stores.forUser(userId);
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
    const bytes = await store.getBlob(name);
    return bytes ? { bytes, contentType: info.description ?? "application/octet-stream" } : undefined;
  }

  /** Every artifact of one job. */
  async listForJob(userId: string, jobId: string): Promise<string[]> {
    return (await this.refsForJob(userId, jobId)).map((ref) => ref.name);
  }

  /** Every artifact of one job, as references, in name order. */
  async refsForJob(userId: string, jobId: string): Promise<ArtifactRef[]> {
    const prefix = artifactPrefix(userId, jobId);
    return (await (await this.#stores.forUser(userId)).list())
      .filter((info) => !info.deleted && info.name.startsWith(prefix))
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
