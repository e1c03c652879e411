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
