/**
 * NATS subject builders (DESIGN.md section 3). Every subject of a user lives under
 * `user.<u>.>` so one permission rule isolates a tenant. Arguments are raw identifiers;
 * each is encoded here, so callers can never build a subject from unencoded input.
 */
import { encodeToken } from "./tokens.js";

const userPrefix = (userId: string) => `user.${encodeToken(userId)}`;

/** Direct messages to one client. */
export const subjectForClient = (userId: string, clientUuid: string) =>
  `${userPrefix(userId)}.client.${encodeToken(clientUuid)}`;

/** Messages to every member of a group. */
export const subjectForGroup = (userId: string, groupId: string) =>
  `${userPrefix(userId)}.group.${encodeToken(groupId)}`;

/** Messages to every client of a type. */
export const subjectForClientType = (userId: string, clientType: string) =>
  `${userPrefix(userId)}.type.${encodeToken(clientType)}`;

/** Messages to every client of the user. */
export const subjectForBroadcast = (userId: string) => `${userPrefix(userId)}.broadcast`;

/** Every bus message subject of every user: what the inbox stream `FABRIC_INBOX` keeps. */
export const INBOX_STREAM_SUBJECTS = ["user.*.client.*", "user.*.group.*", "user.*.type.*", "user.*.broadcast"] as const;

/** Lifecycle updates of one job (running, progress, terminal). */
export const subjectForJob = (userId: string, jobId: string) =>
  `${userPrefix(userId)}.job.${encodeToken(jobId)}`;

/** Every job event of one user (the dashboard's live updates). */
export const subjectForAllJobs = (userId: string) => `${userPrefix(userId)}.job.*`;

/**
 * Gateway-internal control subject of one MCP session: the replica holding the session's
 * notification stream answers here after it has (re)subscribed. Not user traffic, so it
 * lives outside `user.>`; the session id is a server-generated UUID, encoded all the same.
 */
export const subjectForSessionSync = (sessionId: string) =>
  `fabric.session.${encodeToken(sessionId)}.sync`;

/**
 * Gateway-internal: a client cancelled one of its calls (`notifications/cancelled`). The
 * notification may reach any replica; the one running the call hears it here.
 */
export const subjectForCallCancel = (sessionId: string) => `fabric.session.${encodeToken(sessionId)}.cancel`;

/** Every session's call cancellations (each replica subscribes once). */
export const ALL_CALL_CANCEL_SUBJECTS = "fabric.session.*.cancel";

/**
 * The work subjects of every user that can be demand for new peers (projects, groups, farm
 * pools); work for a named peer is not: only that peer can take it.
 */
export const DEMAND_WORK_SUBJECTS = ["user.*.work.project.*", "user.*.work.group.>", "user.*.work.farm.*"] as const;

/** Every subject of the work-queue stream `FABRIC_WORK`, for all users. */
export const WORK_STREAM_SUBJECTS = "user.*.work.>";

/**
 * Durable work for one Blender peer (dispatches, scripts). It waits in the stream while the
 * peer is down, and leaves the stream only when the peer acknowledges it.
 */
export const subjectForPeerWork = (userId: string, clientUuid: string) =>
  `${userPrefix(userId)}.work.peer.${encodeToken(clientUuid)}`;

/**
 * Durable work for whichever peer serves one project (`target_uuid: "project:<id>"`): it
 * waits here while no peer of the project is live, which is the pool's signal to start one.
 */
export const subjectForProjectWork = (userId: string, projectId: string) =>
  `${userPrefix(userId)}.work.project.${encodeToken(projectId)}`;

/**
 * Farm tasks of one group at one priority (`high`, `normal`, `low`): every idle peer of the
 * group pulls the next one, from the highest priority that has one.
 */
export const subjectForGroupWork = (userId: string, groupId: string, priority: string) =>
  `${userPrefix(userId)}.work.group.${encodeToken(groupId)}.${encodeToken(priority)}`;

/**
 * Farm tasks for any farm worker of the user (a farm job with no group_id): every spawn-mode
 * bridge of the user takes them, whatever its group.
 */
export const subjectForUserFarmWork = (userId: string, priority: string) => `${userPrefix(userId)}.work.farm.${encodeToken(priority)}`;

/** Every subject of the user's own farm pool. */
export const subjectForAllUserFarmWork = (userId: string) => `${userPrefix(userId)}.work.farm.*`;

/** Every farm task subject of one group (a peer listens here to learn that tasks arrived). */
export const subjectForAllGroupWork = (userId: string, groupId: string) =>
  `${userPrefix(userId)}.work.group.${encodeToken(groupId)}.*`;
