/**
 * ClientInfo: a registered peer (an LLM session or a Blender bridge) as stored in
 * `fabric_clients` and as shown by `blender_list_available_clients`.
 */
import { z } from "zod";

export const ClientHealthSchema = z.object({
  queue_depth: z.number().int().nonnegative(),
  active_jobs: z.number().int().nonnegative(),
});

/** What the registry stores. `last_seen_seconds_ago` and `stale` are derived when read. */
export const ClientRecordSchema = z.object({
  uuid: z.string(),
  client_type: z.string(),
  label: z.string(),
  is_persistent: z.boolean(),
  capabilities: z.array(z.string()),
  group_id: z.string().nullable(),
  /** Seconds since the epoch. */
  connected_at: z.number(),
  /** Seconds since the epoch of the last registration or heartbeat. */
  last_seen: z.number(),
  pid: z.number().int().optional(),
  hostname: z.string().optional(),
  blend_file: z.string().optional(),
  blender_version: z.string().optional(),
  role: z.string().optional(),
  parent_uuid: z.string().optional(),
  health: ClientHealthSchema.optional(),
  /** Takes farm tasks that name no group (a spawn-mode bridge; never an artist's GUI Blender). */
  farm_worker: z.boolean().optional(),
  /** The project this peer serves (`project:<id>` targets); such a peer serves no other work of its own accord. */
  project_id: z.string().optional(),
  /** A bridge's boot id: a new one after every restart, so its old boot's jobs can be settled. */
  incarnation: z.string().optional(),
  /** MCP session that registered the client, if any; never shown on the wire. */
  session_id: z.string().optional(),
});
export type ClientRecord = z.infer<typeof ClientRecordSchema>;

/** The wire shape (seed 003 `ClientInfo.to_dict()`, without the live session). */
export type ClientInfo = Omit<ClientRecord, "session_id"> & {
  last_seen_seconds_ago: number;
  stale: boolean;
};

/** Seconds since a client was last seen, at time `now` (ms). */
export const secondsSinceSeen = (record: Pick<ClientRecord, "last_seen">, now: number) =>
  Math.max(0, now / 1000 - record.last_seen);

/** Whether a client has been silent longer than `staleAfter` seconds at time `now` (ms). */
export const isClientStale = (record: Pick<ClientRecord, "last_seen">, now: number, staleAfter: number) =>
  secondsSinceSeen(record, now) > staleAfter;

/** Derives the wire shape of a record at time `now` (ms). `staleAfter` is in seconds. */
export function toClientInfo(record: ClientRecord, now: number, staleAfter: number): ClientInfo {
  const { session_id: _sessionId, ...wire } = record;
  return {
    ...wire,
    last_seen_seconds_ago: Math.round(secondsSinceSeen(record, now) * 1000) / 1000,
    stale: isClientStale(record, now, staleAfter),
  };
}
