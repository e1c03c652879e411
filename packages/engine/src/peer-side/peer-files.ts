/**
 * A peer's files, moved through the peer API (object-ops.ts on the trusted side): artifacts
 * of the job its boot holds, .blend files by hash, and its project's scene. Nothing is held
 * whole in memory on the way in; downloads land in a partial file that becomes `path` only
 * once complete (and, for a .blend, once it hashes to its name).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { once } from "node:events";
import { createHash } from "node:crypto";
import { createInbox } from "@nats-io/transport-node";
import { OBJECT_META_HEADER, PEER_CHUNK_BYTES, PeerApiErrorCode, inboxPrefixForPeer, subjectForPeerOp, type PeerApiErrorCode as Code } from "@blender-fabric/protocol";
import { BlendHashMismatch, hashFile, type ArtifactRef } from "@blender-fabric/bus";
import { PeerApiError } from "../peer-api/errors.js";
import type { PeerApiClient } from "./peer-api-client.js";

/** A download whose next chunk does not come within this long has failed. ms */
const DOWNLOAD_IDLE_MS = 30_000;

/** Stores the files of one held job (a dispatch's large results, a farm attempt's outputs). */
export type ArtifactWriter = {
  put(jobId: string, fileName: string, bytes: Uint8Array, contentType: string): Promise<ArtifactRef>;
};

/** The .blend files a peer opens and saves. */
export type BlendFiles = {
  download(sha256: string, path: string): Promise<void>;
  putFile(path: string): Promise<{ sha256: string; size: number }>;
  putProjectScene(projectId: string, path: string): Promise<{ size: number }>;
  downloadProjectScene(projectId: string, path: string): Promise<boolean>;
};

export class PeerFiles implements BlendFiles {
  readonly #api: PeerApiClient;

  constructor(api: PeerApiClient) {
    this.#api = api;
  }

  /** Artifacts stored while this boot holds `heldJobId` (under it, or under its farm job). */
  artifactsOf(heldJobId: string): ArtifactWriter {
    return {
      put: async (jobId, fileName, bytes, contentType) => {
        const { artifact } = await this.#upload({ kind: "artifact", job_id: jobId, held_job_id: heldJobId, name: fileName, content_type: contentType, size: bytes.byteLength }, [bytes]);
        return artifact as ArtifactRef;
      },
    };
  }

  async download(sha256: string, path: string): Promise<void> {
    const actual = await this.#download({ kind: "blend", sha256 }, path);
    if (actual === undefined) throw new Error(`no .blend ${sha256} in the blend store`);
    if (actual !== sha256) throw new BlendHashMismatch(`the stored .blend hashed to ${actual}, not ${sha256}`);
  }

  async putFile(path: string): Promise<{ sha256: string; size: number }> {
    const { sha256, size } = await hashFile(path);
    await this.#upload({ kind: "blend", sha256, size }, createReadStream(path, { highWaterMark: PEER_CHUNK_BYTES }));
    return { sha256, size };
  }

  async putProjectScene(projectId: string, path: string): Promise<{ size: number }> {
    const { size } = await stat(path);
    await this.#upload({ kind: "project_scene", project_id: projectId, size }, createReadStream(path, { highWaterMark: PEER_CHUNK_BYTES }));
    return { size };
  }

  async downloadProjectScene(projectId: string, path: string): Promise<boolean> {
    return (await this.#download({ kind: "project_scene", project_id: projectId }, path)) !== undefined;
  }

  /** Begins an upload, sends the bytes chunk by chunk (each answered), ends it; the server's last answer. */
  async #upload(begin: Record<string, unknown>, source: AsyncIterable<Uint8Array | Buffer> | Uint8Array[]): Promise<Record<string, any>> {
    const { upload_id: uploadId } = await this.#api.call("upload_begin", begin as never);
    for await (const chunk of source) {
      for (let offset = 0; offset < chunk.byteLength; offset += PEER_CHUNK_BYTES) {
        await this.#api.sendChunk(uploadId, chunk.subarray(offset, offset + PEER_CHUNK_BYTES));
      }
    }
    return this.#api.sendChunk(uploadId, new Uint8Array(0));
  }

  /** Streams an object into `path`; its SHA-256, or undefined when there is no such object. */
  async #download(request: Record<string, unknown>, path: string): Promise<string | undefined> {
    const { nc, userId, peerUuid } = this.#api;
    const inbox = createInbox(inboxPrefixForPeer(userId, peerUuid));
    const subscription = nc.subscribe(inbox);
    const partial = `${path}.${process.pid}.partial`;
    const file = createWriteStream(partial);
    const hash = createHash("sha256");
    let timer: NodeJS.Timeout | undefined;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => subscription.unsubscribe(), DOWNLOAD_IDLE_MS);
    };
    try {
      idle();
      nc.publish(subjectForPeerOp(userId, peerUuid, "object_read"), JSON.stringify(request), { reply: inbox });
      let started = false;
      let complete = false;
      for await (const message of subscription) {
        idle();
        const meta = message.headers?.get(OBJECT_META_HEADER);
        if (!started) {
          // The first message says whether the object exists (or why the call was refused).
          const answer = JSON.parse(meta || message.string()) as { ok: boolean; code?: Code; error?: string };
          if (!answer.ok && answer.code === PeerApiErrorCode.NotFound) return undefined;
          if (!answer.ok) throw new PeerApiError(answer.code ?? PeerApiErrorCode.Unavailable, answer.error ?? "refused");
          started = true;
          continue;
        }
        if (meta) {
          const answer = JSON.parse(meta) as { code?: Code; error?: string };
          throw new PeerApiError(answer.code ?? PeerApiErrorCode.Unavailable, answer.error ?? "the read broke off");
        }
        if (message.data.byteLength === 0) {
          complete = true;
          break;
        }
        hash.update(message.data);
        if (!file.write(message.data)) await once(file, "drain");
      }
      if (!complete) throw new PeerApiError(PeerApiErrorCode.Unavailable, `the download stopped (nothing for ${DOWNLOAD_IDLE_MS / 1000} s)`);
      await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
      await rename(partial, path);
      return hash.digest("hex");
    } finally {
      clearTimeout(timer);
      subscription.unsubscribe();
      file.destroy();
      await rm(partial, { force: true });
    }
  }
}
