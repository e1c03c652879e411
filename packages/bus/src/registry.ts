/**
 * The client registry: every peer of every user in KV `fabric_clients`, key `<u>.<uuid>`.
 *
 * Writes go to KV with compare-and-set so two replicas re-registering one client cannot lose
 * each other's fields; reads come from a {@link KvMirror}. Staleness is derived from
 * `last_seen` when read (nats-server 2.9 has no per-key TTL); `evictExpired` removes clients
 * silent for longer than the eviction time.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import {
  ClientRecordSchema,
  decodeToken,
  encodeToken,
  epochSeconds,
  keyForClient,
  toClientInfo,
  type ClientInfo,
  type ClientRecord,
} from "@blender-fabric/protocol";
import { KvMirror } from "./kv-mirror.js";
import { retryJetStream, updateWithRetry } from "./kv-update.js";

export type RegistryOptions = {
  /** Silence after which a client is stale (hidden by default, skipped by auto-pick). Seconds. */
  staleAfterSeconds: number;
  /** Silence after which a client is removed from the registry. Seconds. */
  evictAfterSeconds: number;
};

export const DEFAULT_REGISTRY_OPTIONS: RegistryOptions = {
  staleAfterSeconds: 30,
  evictAfterSeconds: 60 * 60,
};

/** What a registration says about a client; absent optional fields keep their old values. */
export type ClientRegistration = Pick<ClientRecord, "uuid" | "client_type"> &
  Partial<Omit<ClientRecord, "uuid" | "client_type" | "connected_at" | "last_seen">>;

export type RegistryChangeListener = (
  userId: string,
  clientUuid: string,
  record: ClientRecord | undefined,
) => void;

const decodeRecord = (entry: KvEntry): ClientRecord | undefined => {
  const parsed = ClientRecordSchema.safeParse(entry.json());
  return parsed.success ? parsed.data : undefined;
};

export class ClientRegistry {
  readonly #kv: KV;
  readonly #mirror: KvMirror<ClientRecord>;
  readonly options: RegistryOptions;

  private constructor(kv: KV, mirror: KvMirror<ClientRecord>, options: RegistryOptions) {
    this.#kv = kv;
    this.#mirror = mirror;
    this.options = options;
  }

  static async open(kv: KV, options: RegistryOptions = DEFAULT_REGISTRY_OPTIONS) {
    return new ClientRegistry(kv, await KvMirror.start(kv, decodeRecord), options);
  }

  /** Registers a client, or updates it in place; `is_persistent` is sticky once set. */
  async register(userId: string, registration: ClientRegistration): Promise<ClientRecord> {
    const now = epochSeconds();
    return updateWithRetry(this.#kv, keyForClient(userId, registration.uuid), (current) => {
      const previous = current ? ClientRecordSchema.parse(current) : undefined;
      const defined = Object.fromEntries(
        Object.entries(registration).filter(([, value]) => value !== undefined),
      );
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
  async heartbeat(
    userId: string,
    clientUuid: string,
    patch: Partial<ClientRecord> = {},
  ): Promise<ClientRecord | undefined> {
    const key = keyForClient(userId, clientUuid);
    const entry = await this.#kv.get(key);
    if (!entry || entry.operation !== "PUT") return undefined;
    const record = { ...ClientRecordSchema.parse(entry.json()), ...patch, last_seen: epochSeconds() };
    try {
      await this.#kv.update(key, JSON.stringify(record), entry.revision);
    } catch {
      // Someone re-registered or unregistered the client meanwhile; their write wins.
    }
    return record;
  }

  /** Removes a client. Returns false when it was not registered. */
  async unregister(userId: string, clientUuid: string): Promise<boolean> {
    const key = keyForClient(userId, clientUuid);
    return retryJetStream("unregister a client", async () => {
      const entry = await this.#kv.get(key);
      if (!entry || entry.operation !== "PUT") return false;
      await this.#kv.delete(key, { previousSeq: entry.revision });
      return true;
    });
  }

  /** The registered record of one client, read-your-writes consistent. */
  async get(userId: string, clientUuid: string): Promise<ClientRecord | undefined> {
    await this.#mirror.sync();
    return this.#mirror.get(keyForClient(userId, clientUuid))?.value;
  }

  /** Every client of one user, read-your-writes consistent. */
  async list(userId: string): Promise<ClientRecord[]> {
    await this.#mirror.sync();
    const prefix = `${encodeToken(userId)}.`;
    return [...this.#mirror.entriesWithPrefix(prefix)].map(([, entry]) => entry.value);
  }

  /** The wire shape of a record, with staleness derived now. */
  describe(record: ClientRecord, now: number = Date.now()): ClientInfo {
    return toClientInfo(record, now, this.options.staleAfterSeconds);
  }

  isStale(record: ClientRecord, now: number = Date.now()): boolean {
    return now / 1000 - record.last_seen > this.options.staleAfterSeconds;
  }

  /** Removes every client silent for longer than `evictAfterSeconds`. Returns how many. */
  async evictExpired(now: number = Date.now()): Promise<number> {
    await this.#mirror.sync();
    const expired = [...this.#mirror.entriesWithPrefix("")].filter(
      ([, { value }]) => now / 1000 - value.last_seen > this.options.evictAfterSeconds,
    );
    let evicted = 0;
    for (const [key, { revision }] of expired) {
      try {
        // previousSeq: a client that heartbeats right now keeps its registration.
        await this.#kv.delete(key, { previousSeq: revision });
        evicted += 1;
      } catch {
        // It was updated meanwhile, so it is alive.
      }
    }
    return evicted;
  }

  /** Calls `listener` with (user id, client uuid, record or undefined) on every change. */
  onChange(listener: RegistryChangeListener): () => void {
    return this.#mirror.onChange((key, record) => {
      const [userToken, uuidToken] = key.split(".");
      if (userToken && uuidToken) listener(decodeToken(userToken), decodeToken(uuidToken), record);
    });
  }

  stop(): void {
    this.#mirror.stop();
  }
}
