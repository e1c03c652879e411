/**
 * The peer API (DESIGN.md section 9): the only way a Blender peer (a bridge) reaches the
 * fabric's state. A peer holds no JetStream rights at all; it sends requests on
 * `fabric.peer.<u>.<uuid>.<op>`, a subject its credential names exactly, and the trusted tier
 * (a queue group in the gateway replicas) does the KV, stream and Object Store work for it,
 * after checking the tenant and peer (from the subject), the boot (incarnation, against the
 * registry) and the job's fence (the claim). Answers go only to the requester's own inbox
 * prefix `_INBOX_peer.<u>.<uuid>.`: a request whose reply subject points anywhere else is
 * dropped, so a peer cannot make the trusted tier publish to another tenant.
 *
 * Bodies are JSON. Every answer is `{ok: true, …}` or `{ok: false, code, error}`.
 */
import { z } from "zod";
import { encodeToken } from "./tokens.js";
import { ClientRecordSchema } from "./client-info.js";
import { JobRecordSchema } from "./job.js";
import { ProjectIdSchema } from "./project.js";

/** The queue group that serves the peer API; any trusted replica may answer any request. */
export const PEER_API_QUEUE = "fabric-peer-api";

/** Every request of every peer: exactly one operation token after the peer's uuid. */
export const ALL_PEER_API_SUBJECTS = "fabric.peer.*.*.*";

const peerPrefix = (userId: string, peerUuid: string) => `fabric.peer.${encodeToken(userId)}.${encodeToken(peerUuid)}`;

/** Everything a peer may publish: its own API subjects and its own upload chunks. */
export const subjectsOfPeer = (userId: string, peerUuid: string) => `${peerPrefix(userId, peerUuid)}.>`;

/** One operation of one peer. */
export const subjectForPeerOp = (userId: string, peerUuid: string, op: PeerOp) => `${peerPrefix(userId, peerUuid)}.${op}`;

/**
 * The chunks of one upload. Two tokens after the uuid, so the queue group (one token) never
 * sees them: only the replica that began the upload listens here.
 */
export const subjectForPeerUpload = (userId: string, peerUuid: string, uploadId: string) =>
  `${peerPrefix(userId, peerUuid)}.upload.${encodeToken(uploadId)}`;

/**
 * Where the answers to one peer's requests go. Dots separate tenant and uuid, so no two
 * (tenant, peer) pairs share a prefix (tokens never contain a dot).
 */
export const inboxPrefixForPeer = (userId: string, peerUuid: string) => `_INBOX_peer.${encodeToken(userId)}.${encodeToken(peerUuid)}`;

export const PEER_OPS = [
  "register",
  "heartbeat",
  "leave",
  "work_open",
  "work_next",
  "farm_next",
  "work_ack",
  "drop_project_work",
  "claim",
  "progress",
  "finish",
  "job_get",
  "cancel_queued",
  "lease",
  "object_read",
  "upload_begin",
] as const;
export type PeerOp = (typeof PEER_OPS)[number];
export const isPeerOp = (value: string): value is PeerOp => (PEER_OPS as readonly string[]).includes(value);

/** Why a peer API call was refused. */
export const PeerApiErrorCode = {
  /** The body is not what the operation takes. */
  Invalid: "invalid",
  /** This boot is not the registered one (a newer boot registered, or none did). */
  StaleIncarnation: "stale_incarnation",
  /** The job, lease or object is not this peer's to touch. */
  Forbidden: "forbidden",
  NotFound: "not_found",
  /** A tenant quota would be exceeded; `error` names the limit. */
  QuotaExceeded: "quota_exceeded",
  /** JetStream could not be reached in time: try again. */
  Unavailable: "unavailable",
  /** The object exists already and is written once (an artifact). */
  Exists: "exists",
} as const;
export type PeerApiErrorCode = (typeof PeerApiErrorCode)[keyof typeof PeerApiErrorCode];

export const PeerApiFailureSchema = z.object({ ok: z.literal(false), code: z.string(), error: z.string() });

const incarnation = z.string().min(1).max(128);
const jobId = z.string().min(1).max(256);

/** What a peer says about itself when it registers; the uuid is the subject's. */
export const PeerRegistrationSchema = ClientRecordSchema.pick({
  client_type: true,
  label: true,
  capabilities: true,
  group_id: true,
  farm_worker: true,
  project_id: true,
  pid: true,
  hostname: true,
  blend_file: true,
  blender_version: true,
  health: true,
}).partial();

/** Work messages one `work_next` may ask for (a peer holds at most its consumer's max_ack_pending). */
export const MAX_WORK_BATCH = 64;

export const PeerRequestSchemas = {
  register: z.object({ incarnation, registration: PeerRegistrationSchema }),
  heartbeat: z.object({ incarnation, health: z.object({ queue_depth: z.number(), active_jobs: z.number() }) }),
  leave: z.object({ incarnation }),
  work_open: z.object({ incarnation }),
  /**
   * Answered by JetStream itself, straight to the requester's inbox: up to `batch` work
   * messages as they come (each one's reply subject is what `work_ack` and `finish` take),
   * then a status if fewer came in time (408). `renew`: the last pull found the consumer gone;
   * make it again first.
   */
  work_next: z.object({
    incarnation,
    lane: z.enum(["peer", "project"]),
    wait_ms: z.number().int().min(0).max(30_000),
    batch: z.number().int().min(1).max(MAX_WORK_BATCH).default(1),
    renew: z.boolean().default(false),
  }),
  /** The next farm task, with the attempt it makes already decided and claimed. */
  farm_next: z.object({ incarnation, wait_ms: z.number().int().min(0).max(30_000) }),
  work_ack: z.object({
    incarnation,
    acks: z.array(z.object({ ack: z.string().max(512), action: z.enum(["ack", "nak", "working"]), delay_ms: z.number().int().min(0).optional() })).max(1_000),
  }),
  drop_project_work: z.object({ incarnation }),
  claim: z.object({ incarnation, job_id: jobId }),
  progress: z.object({ incarnation, job_id: jobId, fraction: z.number(), message: z.string().max(4_096) }),
  finish: z.object({
    incarnation,
    job_id: jobId,
    /** The work message to let go once the end is recorded (one round trip for both). */
    ack: z.object({ ack: z.string().max(512), action: z.enum(["ack", "nak"]), delay_ms: z.number().int().min(0).optional() }).optional(),
    outcome: z.object({
      status: z.enum(["completed", "failed", "cancelled"]),
      result: z.unknown().optional(),
      error: z.string().optional(),
      handler_ms: z.number().optional(),
    }),
  }),
  job_get: z.object({ job_id: jobId }),
  cancel_queued: z.object({ incarnation, job_id: jobId, reason: z.string().max(1_000) }),
  lease: z.object({
    incarnation,
    project_id: ProjectIdSchema,
    action: z.enum(["get", "create", "update", "delete"]),
    revision: z.number().int().min(0).optional(),
  }),
  object_read: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("blend"), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    z.object({ kind: z.literal("project_scene"), project_id: ProjectIdSchema }),
  ]),
  upload_begin: z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("artifact"),
      incarnation,
      /**
       * The job whose artifact this is: always the held job itself. A farm attempt stores its
       * outputs under its own id, so an attempt that lost its task never touches the files of
       * the attempt that took the task over.
       */
      job_id: jobId,
      /** The job the calling boot holds (its fence). */
      held_job_id: jobId,
      name: z.string().min(1).max(256),
      content_type: z.string().max(256),
      size: z.number().int().min(0),
    }),
    z.object({ kind: z.literal("blend"), incarnation, sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().min(0) }),
    z.object({ kind: z.literal("project_scene"), incarnation, project_id: ProjectIdSchema, size: z.number().int().min(0) }),
  ]),
} satisfies Record<PeerOp, z.ZodType>;
export type PeerRequest<Op extends PeerOp> = z.infer<(typeof PeerRequestSchemas)[Op]>;

export const HeldJobSchema = z.object({ record: JobRecordSchema, revision: z.number() });

/**
 * One message of work handed to a peer; `ack` names the message for `work_ack` and `finish`.
 * `attempt`: a farm task's attempt, decided and claimed (farm_next).
 */
export const PeerDeliverySchema = z.object({
  envelope: z.unknown(),
  ack: z.string(),
  redeliveries: z.number(),
  attempt: z.object({ held: HeldJobSchema, attempt: z.number() }).optional(),
});
export type PeerDelivery = z.infer<typeof PeerDeliverySchema>;


/** Bytes per chunk of an object read or upload (well under NATS's default 1 MiB payload). */
export const PEER_CHUNK_BYTES = 256 * 1024;

/** Header naming what an object read sends first, then chunks, then an empty message. */
export const OBJECT_META_HEADER = "Fabric-Object";
