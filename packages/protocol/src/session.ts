/** MCP session records in `fabric_sessions`: any gateway replica validates any session. */
import { z } from "zod";
import { PrioritySchema } from "./priority.js";

export const SessionRecordSchema = z.object({
  user_id: z.string(),
  /** Client uuids registered through this session; their traffic goes to its stream. */
  client_uuids: z.array(z.string()),
  /** Set by `logging/setLevel`; messages less severe are not forwarded. */
  log_level: PrioritySchema,
  protocol_version: z.string(),
  /** Seconds since the epoch. */
  created_at: z.number(),
  /** Seconds since the epoch. */
  last_seen: z.number(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

/**
 * One user's sessions, for the session quotas (key `<u>` in `fabric_sessions`): which sessions
 * the user began and when, and when it began the ones of the last minute. Written with
 * compare-and-set at every `initialize`, so every replica counts the same; its size is bounded
 * by the quotas themselves.
 */
export const SessionIndexSchema = z.object({
  /** Session id → when it began (seconds since the epoch). Ended or idle ones leave at the next begin. */
  sessions: z.record(z.string(), z.number()),
  /** When each session of the last minute began, ended ones included (seconds since the epoch). */
  recent_starts: z.array(z.number()),
});
export type SessionIndex = z.infer<typeof SessionIndexSchema>;
