/** JetStream bucket names and key builders (DESIGN.md section 3). */
import { createHash } from "node:crypto";
import { encodeToken } from "./tokens.js";
import { subjectForGroupWork, subjectForUserFarmWork } from "./subjects.js";
import { FARM_PRIORITIES } from "./farm.js";

export const BucketName = {
  /** ClientInfo per `<u>.<uuid>`. */
  Clients: "fabric_clients",
  /** MCP session records per `<sid>`. */
  Sessions: "fabric_sessions",
  /** Job records per `<u>.<job_id>`. */
  Jobs: "fabric_jobs",
  /** Object Stores (one per tenant, see objectStoreForUser) of renders, screenshots, large results. */
  Artifacts: "fabric_artifacts",
  /** Object Stores (one per tenant) of uploaded and snapshotted .blend files per `<u>/<sha256>`. */
  Blends: "fabric_blends",
  /** Idempotency keys per `<u>.<request_id>`: which job a caller's request became. */
  Requests: "fabric_requests",
  /** Project leases per `<u>.<project_id>`: which peer holds a project's scene now. */
  Projects: "fabric_projects",
} as const;

/** JetStream stream names. */
export const StreamName = {
  /** Work-queue stream of work for Blender peers, on `user.*.work.>`. */
  Work: "FABRIC_WORK",
  /**
   * Every bus message (client, group, type and broadcast subjects), kept a day: each
   * client's durable inbox is a view of it (DESIGN.md section 13).
   */
  Inbox: "FABRIC_INBOX",
} as const;

/**
 * The durable pull consumer through which one peer takes its work from `FABRIC_WORK`.
 * JetStream names allow only `[A-Za-z0-9_-]` (no `=` of encoded tokens, and no separator
 * that a token cannot contain), so the name is a digest of the pair; the consumer's filter
 * subject and description say whose it is.
 */
export const consumerForPeer = (userId: string, clientUuid: string) => digestName("peer", userId, clientUuid);

/** The durable pull consumer through which the live peer of a project takes the project's work. */
export const consumerForProject = (userId: string, projectId: string) => digestName("project", userId, projectId);

/** The shared durable pull consumer through which a group's peers take its farm tasks of one priority. */
export const consumerForGroup = (userId: string, groupId: string, priority: string) =>
  `${digestName("group", userId, groupId)}_${priority}`;

/** The shared durable pull consumer of the user's farm pool at one priority (farm jobs with no group). */
export const consumerForUserFarm = (userId: string, priority: string) => `${digestName("farm", userId, "pool")}_${priority}`;

/** One shared consumer a peer takes farm tasks through. */
export type FarmLane = { name: string; filter: string; description: string };

/**
 * The farm consumers of a peer, highest priority first: its group's (if any) and, for a farm
 * worker, its user's farm pool. The work stream pulls from these and a peer's NATS
 * permissions name exactly these, so both come from here.
 */
export function farmLanes(userId: string, sources: { groupId: string | null; userPool: boolean }): FarmLane[] {
  return FARM_PRIORITIES.flatMap((priority) => [
    ...(sources.groupId === null
      ? []
      : [{
          name: consumerForGroup(userId, sources.groupId, priority),
          filter: subjectForGroupWork(userId, sources.groupId, priority),
          description: `${priority}-priority farm tasks of group ${sources.groupId} of user ${userId}`,
        }]),
    ...(sources.userPool
      ? [{
          name: consumerForUserFarm(userId, priority),
          filter: subjectForUserFarmWork(userId, priority),
          description: `${priority}-priority farm tasks of user ${userId}'s farm pool`,
        }]
      : []),
  ]);
}

const digestName = (kind: string, userId: string, id: string) =>
  `${kind}_${createHash("sha256").update(`${encodeToken(userId)}.${encodeToken(id)}`).digest("hex").slice(0, 32)}`;

/**
 * The tenant's own Object Store bucket of a kind (`fabric_artifacts`, `fabric_blends`):
 * `<base>_<digest of the user id>`. Bucket names allow only `[A-Za-z0-9_-]`.
 */
export const objectStoreForUser = (base: string, userId: string) =>
  `${base}_${createHash("sha256").update(encodeToken(userId)).digest("hex").slice(0, 24)}`;

/** Key of a client in `fabric_clients`. */
export const keyForClient = (userId: string, clientUuid: string) =>
  `${encodeToken(userId)}.${encodeToken(clientUuid)}`;

/** Prefix of every key of one user in `fabric_clients` and `fabric_jobs` (`<u>.`). */
export const keyPrefixForUser = (userId: string) => `${encodeToken(userId)}.`;

/**
 * Key of a session in `fabric_sessions`: under its user, so a token of another user never
 * finds it, and no replica needs everyone's sessions to count one user's.
 */
export const keyForSession = (userId: string, sessionId: string) =>
  `${encodeToken(userId)}.${encodeToken(sessionId)}`;

/** Key of a user's session index in `fabric_sessions` (session.ts, the session quotas). */
export const keyForSessionIndex = (userId: string) => encodeToken(userId);

/** Key of an idempotency key in `fabric_requests`. */
export const keyForRequest = (userId: string, requestId: string) =>
  `${encodeToken(userId)}.${encodeToken(requestId)}`;

/** Key of a project's lease in `fabric_projects`. */
export const keyForProject = (userId: string, projectId: string) =>
  `${encodeToken(userId)}.${encodeToken(projectId)}`;

/** Key of a job in `fabric_jobs`. */
export const keyForJob = (userId: string, jobId: string) =>
  `${encodeToken(userId)}.${encodeToken(jobId)}`;

