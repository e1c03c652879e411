/** JetStream bucket names and key builders (DESIGN.md section 3). */
import { encodeToken } from "./tokens.js";

export const BucketName = {
  /** ClientInfo per `<u>.<uuid>`. */
  Clients: "fabric_clients",
  /** MCP session records per `<sid>`. */
  Sessions: "fabric_sessions",
  /** Job records per `<u>.<job_id>`. */
  Jobs: "fabric_jobs",
  /** Object Store of renders, screenshots and uploaded files. */
  Artifacts: "fabric_artifacts",
} as const;

/** Key of a client in `fabric_clients`. */
export const keyForClient = (userId: string, clientUuid: string) =>
  `${encodeToken(userId)}.${encodeToken(clientUuid)}`;

/** Prefix of every key of one user in `fabric_clients` and `fabric_jobs` (`<u>.`). */
export const keyPrefixForUser = (userId: string) => `${encodeToken(userId)}.`;

/** Key of a session in `fabric_sessions`. */
export const keyForSession = (sessionId: string) => encodeToken(sessionId);

/** Key of a job in `fabric_jobs`. */
export const keyForJob = (userId: string, jobId: string) =>
  `${encodeToken(userId)}.${encodeToken(jobId)}`;
