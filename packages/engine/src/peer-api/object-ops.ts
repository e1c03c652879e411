/**
 * Files between a peer and the tenant's Object Stores, through the trusted tier (a peer has
 * no Object Store rights). Reads stream to the requester's inbox: a metadata message, the
 * bytes in chunks, then an empty message. An upload is begun with one request; the replica
 * that accepted it then takes the chunks as requests on the upload's own subject (one at a
 * time, each answered, so the peer never outruns it), writes them to a temporary file, and
 * stores the file once the hash and size check out:
 * - an artifact only under the job the calling boot holds (its fence), checked when the
 *   upload begins and again before it is stored, and only once per name: a farm attempt
 *   stores its outputs under its own id, so a stale attempt can neither replace nor add to
 *   the files of the attempt that took its task over, and no reader streams an object while
 *   it is replaced;
 * - a .blend only under the SHA-256 of its bytes;
 * - a project's scene only while the calling boot holds the project's lease.
 */
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headers, type Msg } from "@nats-io/transport-node";
import {
  OBJECT_META_HEADER,
  PEER_CHUNK_BYTES,
  PeerApiErrorCode,
  subjectForPeerUpload,
  type PeerRequest,
} from "@blender-fabric/protocol";
import { ArtifactExists, isStoreFull } from "@blender-fabric/bus";
import { PeerApiError } from "./errors.js";
import { requireBoot, type PeerApiContext } from "./context.js";
import { readLease } from "./lease-ops.js";

/** An upload whose next chunk does not come within this long is abandoned. ms */
const UPLOAD_IDLE_MS = 30_000;

/** Streams a .blend or a project's scene to `reply`; answers `{ok:false}` when there is none. */
export async function readObject(context: PeerApiContext, request: PeerRequest<"object_read">, reply: string): Promise<void> {
  const { nc, blends } = context.stores;
  const read =
    request.kind === "blend" ? await blends.readBlend(context.userId, request.sha256) : await blends.readProjectScene(context.userId, request.project_id);
  const meta = headers();
  meta.set(OBJECT_META_HEADER, JSON.stringify(read ? { ok: true, size: read.size } : { ok: false, code: PeerApiErrorCode.NotFound, error: "no such object" }));
  nc.publish(reply, new Uint8Array(0), { headers: meta });
  if (read) {
    try {
      let pending = Buffer.alloc(0);
      for await (const chunk of read.data) {
        pending = Buffer.concat([pending, chunk as Buffer]);
        while (pending.byteLength >= PEER_CHUNK_BYTES) {
          nc.publish(reply, pending.subarray(0, PEER_CHUNK_BYTES));
          pending = pending.subarray(PEER_CHUNK_BYTES);
        }
      }
      if (pending.byteLength > 0) nc.publish(reply, pending);
      const failure = await read.error;
      if (failure) throw failure;
    } catch (error) {
      // A second metadata message says the bytes so far are not the whole object.
      const broken = headers();
      broken.set(OBJECT_META_HEADER, JSON.stringify({ ok: false, code: PeerApiErrorCode.Unavailable, error: String(error) }));
      nc.publish(reply, new Uint8Array(0), { headers: broken });
    }
  }
  nc.publish(reply, new Uint8Array(0)); // the end
}

/** Checks that an upload may be stored, at its start and again at its end. */
async function checkUpload(context: PeerApiContext, request: PeerRequest<"upload_begin">): Promise<void> {
  await requireBoot(context, request.incarnation);
  if (request.size > context.stores.quotas.maxUploadBytes) {
    throw new PeerApiError(PeerApiErrorCode.QuotaExceeded, `upload of ${request.size} bytes is over the limit maxUploadBytes (${context.stores.quotas.maxUploadBytes})`);
  }
  // Stored bytes: what the tenant's bucket holds now, plus this upload (a check, not a
  // reservation: two uploads racing may pass the limit by one upload).
  const { artifacts, blends, quotas } = context.stores;
  const [stored, limit, name] =
    request.kind === "artifact"
      ? [await artifacts.storedBytes(context.userId), quotas.maxArtifactBytes, "maxArtifactBytes"]
      : [await blends.storedBytes(context.userId), quotas.maxBlendBytes, "maxBlendBytes"];
  if (stored + request.size > limit) {
    throw new PeerApiError(PeerApiErrorCode.QuotaExceeded, `the tenant's store is full: ${name} (${limit} bytes; ${stored} stored); nothing stored was lost, remove old files or raise the limit`);
  }
  if (request.kind === "artifact") {
    // Stored under the held job itself, never another's (a farm attempt's own id included).
    const held = await context.stores.jobs.get(context.userId, request.held_job_id);
    const holds = held?.status === "running" && held.incarnation === request.incarnation && held.target_uuid === context.peerUuid;
    if (!holds || request.job_id !== request.held_job_id) {
      throw new PeerApiError(PeerApiErrorCode.Forbidden, `job ${request.job_id} is not held by this boot of ${context.peerUuid}`);
    }
  }
  if (request.kind === "project_scene") {
    const holder = (await readLease(context, request.project_id))?.value as { holder_uuid?: string; incarnation?: string } | null | undefined;
    if (holder?.holder_uuid !== context.peerUuid || holder.incarnation !== request.incarnation) {
      throw new PeerApiError(PeerApiErrorCode.Forbidden, `project ${request.project_id} is not held by this boot of ${context.peerUuid}`);
    }
  }
}

/** Begins an upload; the chunks then come on the upload's subject, to this replica only. */
export async function beginUpload(context: PeerApiContext, request: PeerRequest<"upload_begin">, isOwnInbox: (reply: string | undefined) => boolean) {
  await checkUpload(context, request);
  // Refused before any byte comes; at the end, the store's own write-once check decides.
  if (request.kind === "artifact" && (await context.stores.artifacts.exists(context.userId, request.job_id, request.name))) {
    throw new PeerApiError(PeerApiErrorCode.Exists, `job ${request.job_id} has stored ${request.name} already; artifacts are written once`);
  }
  const uploadId = randomUUID();
  const folder = await mkdtemp(join(tmpdir(), "fabric-upload-"));
  const path = join(folder, "upload");
  const file: WriteStream = createWriteStream(path);
  const hash = createHash("sha256");
  let size = 0;
  let idle: NodeJS.Timeout | undefined;
  const { nc } = context.stores;
  const subscription = nc.subscribe(subjectForPeerUpload(context.userId, context.peerUuid, uploadId));
  const end = async () => {
    clearTimeout(idle);
    subscription.unsubscribe();
    file.destroy();
    await rm(folder, { recursive: true, force: true });
  };
  const answer = (message: Msg, body: unknown) => {
    if (isOwnInbox(message.reply)) message.respond(JSON.stringify(body));
  };
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => void end(), UPLOAD_IDLE_MS);
  };
  armIdle();
  void (async () => {
    for await (const message of subscription) {
      armIdle();
      if (message.data.byteLength > 0) {
        size += message.data.byteLength;
        if (size > request.size) {
          answer(message, { ok: false, code: PeerApiErrorCode.Invalid, error: `more than the announced ${request.size} bytes` });
          break;
        }
        hash.update(message.data);
        if (!file.write(message.data)) await new Promise<void>((resolve) => file.once("drain", () => resolve()));
        answer(message, { ok: true });
        continue;
      }
      // The empty chunk ends the upload.
      try {
        await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
        answer(message, { ok: true, ...(await storeUpload(context, request, path, hash.digest("hex"), size)) });
      } catch (error) {
        const code = error instanceof PeerApiError ? error.code : PeerApiErrorCode.Unavailable;
        answer(message, { ok: false, code, error: error instanceof Error ? error.message : String(error) });
      }
      break;
    }
    await end();
  })();
  return { upload_id: uploadId };
}

async function storeUpload(context: PeerApiContext, request: PeerRequest<"upload_begin">, path: string, sha256: string, size: number) {
  try {
    return await storeVerifiedUpload(context, request, path, sha256, size);
  } catch (error) {
    if (!isStoreFull(error)) throw error;
    const { quotas } = context.stores;
    const limit = request.kind === "artifact" ? `maxArtifactBytes (${quotas.maxArtifactBytes} bytes of artifacts)` : `maxBlendBytes (${quotas.maxBlendBytes} bytes of scenes)`;
    throw new PeerApiError(PeerApiErrorCode.QuotaExceeded, `the tenant's store is full: ${limit}; nothing stored was lost, remove old files or raise the limit`, { cause: error });
  }
}

async function storeVerifiedUpload(context: PeerApiContext, request: PeerRequest<"upload_begin">, path: string, sha256: string, size: number) {
  if (size !== request.size) throw new PeerApiError(PeerApiErrorCode.Invalid, `got ${size} bytes, announced ${request.size}`);
  await checkUpload(context, request); // the fence may have moved while the bytes came
  const { artifacts, blends } = context.stores;
  switch (request.kind) {
    case "artifact":
      try {
        const artifact = await artifacts.put(context.userId, request.job_id, request.name, await readFile(path), request.content_type);
        // Listed from now on (its job's record), unless the fence moved since the check above.
        const stored = { name: artifact.name, size: artifact.size, sha256: artifact.sha256, content_type: artifact.content_type, stored_at: new Date().toISOString() };
        if (!(await context.stores.jobs.noteArtifact(context.userId, request.held_job_id, request.incarnation, stored))) {
          throw new PeerApiError(PeerApiErrorCode.Forbidden, `job ${request.job_id} is no longer held by this boot of ${context.peerUuid}; ${request.name} will not be listed`);
        }
        return { artifact: { ...artifact, stored_at: stored.stored_at } };
      } catch (error) {
        if (error instanceof ArtifactExists) throw new PeerApiError(PeerApiErrorCode.Exists, error.message);
        throw error;
      }
    case "blend":
      if (sha256 !== request.sha256) throw new PeerApiError(PeerApiErrorCode.Invalid, `the bytes hash to ${sha256}, not ${request.sha256}`);
      return await blends.putFile(context.userId, path, request.sha256);
    case "project_scene":
      return await blends.putProjectScene(context.userId, request.project_id, path);
  }
}
