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
  isClientStale,
  keyForClient,
  keyPrefixForUser,
  toClientInfo,
  type ClientInfo,
  type ClientRecord,
} from "@blender-fabric/protocol";
import { KvMirror } from "./kv-mirror.js";
import { parseJsonSafely } from "./safe-json.js";
import {
  heartbeatClient,
  registerClient,
  unregisterClient,
  type ClientRegistration,
} from "./client-records.js";

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

const decodeRecord = (entry: KvEntry): ClientRecord | undefined => {
  const parsed = ClientRecordSchema.safeParse(parseJsonSafely(entry));
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

  /**
   * Registers, and answers once this process's mirror has the new record: a boot check here
   * right after (the old boot of the same peer asking) must not pass on the mirror's older copy.
   */
  async register(userId: string, registration: ClientRegistration): Promise<ClientRecord> {
    const record = await registerClient(this.#kv, userId, registration);
    await this.#mirror.sync();
    return record;
  }

  heartbeat(userId: string, clientUuid: string, patch: Partial<ClientRecord> = {}) {
    return heartbeatClient(this.#kv, userId, clientUuid, patch);
  }

  unregister(userId: string, clientUuid: string): Promise<boolean> {
    return unregisterClient(this.#kv, userId, clientUuid);
  }

  /** The registered record of one client, read-your-writes consistent. */
  async get(userId: string, clientUuid: string): Promise<ClientRecord | undefined> {
    await this.#mirror.sync();
    return this.#mirror.get(keyForClient(userId, clientUuid))?.value;
  }

  /**
   * The mirror's copy of one client, without waiting for writes in flight: for sweeps that
   * run again in a moment, and for a target the caller named that is already known.
   */
  cached(userId: string, clientUuid: string): ClientRecord | undefined {
    return this.#mirror.get(keyForClient(userId, clientUuid))?.value;
  }

  /** The mirror's copy of every client of one user, without waiting for writes in flight. */
  cachedList(userId: string): ClientRecord[] {
    return [...this.#mirror.entriesWithPrefix(keyPrefixForUser(userId))].map(([, entry]) => entry.value);
  }

  /** One client read from KV itself (a round trip), folded into the mirror. */
  async load(userId: string, clientUuid: string): Promise<ClientRecord | undefined> {
    return (await this.#mirror.load(keyForClient(userId, clientUuid)))?.value;
  }

  /** Every client of one user, read-your-writes consistent. */
  async list(userId: string): Promise<ClientRecord[]> {
    await this.#mirror.sync();
    return [...this.#mirror.entriesWithPrefix(keyPrefixForUser(userId))].map(([, entry]) => entry.value);
  }

  /** The wire shape of a record, with staleness derived now. */
  describe(record: ClientRecord, now: number = Date.now()): ClientInfo {
    return toClientInfo(record, now, this.options.staleAfterSeconds);
  }

  isStale(record: ClientRecord, now: number = Date.now()): boolean {
    return isClientStale(record, now, this.options.staleAfterSeconds);
  }

  /** Removes every client silent for longer than `evictAfterSeconds`. Returns how many. */
  async evictExpired(now: number = Date.now()): Promise<number> {
    await this.#mirror.sync();
    const expired = [...this.#mirror.entriesWithPrefix("")].filter(
      ([, { value }]) => isClientStale(value, now, this.options.evictAfterSeconds),
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

  stop(): void {
    this.#mirror.stop();
  }
}
