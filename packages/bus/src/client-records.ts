/**
 * Writes to the client registry (KV `fabric_clients`). Plain functions on the bucket: a
 * bridge registers and heartbeats itself with these, without mirroring the whole registry
 * (its NATS credentials only reach its own user's keys).
 */
import type { KV } from "@nats-io/kv";
import {
  ClientRecordSchema,
  epochSeconds,
  keyForClient,
  type ClientRecord,
} from "@blender-fabric/protocol";
import { retryJetStream, updateWithRetry } from "./kv-update.js";
import { parseJsonSafely } from "./safe-json.js";

/** What a registration says about a client; absent optional fields keep their old values. */
export type ClientRegistration = Pick<ClientRecord, "uuid" | "client_type"> &
  Partial<Omit<ClientRecord, "uuid" | "client_type" | "connected_at" | "last_seen">>;

/** Registers a client, or updates it in place; `is_persistent` is sticky once set. */
export function registerClient(kv: KV, userId: string, registration: ClientRegistration): Promise<ClientRecord> {
  const now = epochSeconds();
  return updateWithRetry(kv, keyForClient(userId, registration.uuid), (current) => {
    // A stored value that no longer validates is replaced by this registration.
    const parsedPrevious = ClientRecordSchema.safeParse(current);
    const previous = parsedPrevious.success ? parsedPrevious.data : undefined;
    const defined = Object.fromEntries(Object.entries(registration).filter(([, value]) => value !== undefined));
    return ClientRecordSchema.parse({
      label: registration.uuid,
      capabilities: [],
      group_id: null,
      ...previous,
      ...defined,
      is_persistent: previous?.is_persistent ?? registration.is_persistent ?? false,
      connected_at: previous?.connected_at ?? now,
      last_seen: now,
    });
  });
}

/** Marks a client alive, optionally updating fields such as `health`. No-op if unknown. */
export async function heartbeatClient(
  kv: KV,
  userId: string,
  clientUuid: string,
  patch: Partial<ClientRecord> = {},
): Promise<ClientRecord | undefined> {
  const key = keyForClient(userId, clientUuid);
  const entry = await kv.get(key);
  if (!entry || entry.operation !== "PUT") return undefined;
  const current = ClientRecordSchema.safeParse(parseJsonSafely(entry));
  if (!current.success) return undefined;
  const record = { ...current.data, ...patch, last_seen: epochSeconds() };
  try {
    await kv.update(key, JSON.stringify(record), entry.revision);
  } catch {
    // Someone re-registered or unregistered the client meanwhile; their write wins.
  }
  return record;
}

/** Removes a client. Returns false when it was not registered. */
export function unregisterClient(kv: KV, userId: string, clientUuid: string): Promise<boolean> {
  const key = keyForClient(userId, clientUuid);
  return retryJetStream("unregister a client", async () => {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT") return false;
    await kv.delete(key, { previousSeq: entry.revision });
    return true;
  });
}
