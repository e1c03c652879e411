/**
 * MCP session records in KV `fabric_sessions` (key `<u>.<session>`), so any gateway replica
 * can serve any request. A replica holds only the sessions it has served lately (at most
 * `keep`), kept current by a KV watch; a miss reads KV, which covers a session created a
 * moment ago on another replica. The per-user quotas are counted in the user's session index
 * (`<u>`), written with compare-and-set, so every replica counts the same.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import {
  MAX_IDENTIFIER_LENGTH,
  SessionIndexSchema,
  SessionRecordSchema,
  epochSeconds,
  keyForSession,
  keyForSessionIndex,
  type SessionIndex,
  type SessionRecord,
} from "@blender-fabric/protocol";
import { KvMirror } from "./kv-mirror.js";
import { parseJsonSafely } from "./safe-json.js";
import { retryJetStream, updateWithRetry } from "./kv-update.js";

/** A session's `last_seen` is written at most this often. Seconds. */
const TOUCH_INTERVAL_SECONDS = 60;
/** The window of the per-minute quota. Seconds. */
const START_WINDOW_SECONDS = 60;
/**
 * A session in the index whose record is missing counts this long after it began: another
 * replica may be about to write it. Later it has ended. Seconds.
 */
const UNWRITTEN_GRACE_SECONDS = 10;

const decodeSession = (entry: KvEntry): SessionRecord | undefined => {
  const parsed = SessionRecordSchema.safeParse(parseJsonSafely(entry));
  return parsed.success ? parsed.data : undefined;
};

export type SessionStoreOptions = {
  /** Sessions idle longer than this are gone (the bucket's max age removes them in KV). Seconds. */
  idleLimitSeconds: number;
  /** How many sessions one replica holds in memory. */
  keep: number;
};

/** Per-user limits on MCP sessions, by the names of their settings. */
export type SessionQuotas = {
  FABRIC_MAX_SESSIONS_PER_USER: number;
  FABRIC_SESSIONS_PER_MINUTE: number;
};

export type SessionBegun = { begun: true } | { begun: false; exceeded: keyof SessionQuotas };

export class SessionStore {
  readonly #kv: KV;
  readonly #mirror: KvMirror<SessionRecord>;
  readonly #idleLimitSeconds: number;
  /**
   * Each user's session starts on this replica, one after another: they all write the user's
   * one index key, and 40 at once retried each other past the retry deadline (HTTP 500 to a
   * client starting a session). Between replicas the compare-and-set still decides.
   */
  readonly #starting = new Map<string, Promise<unknown>>();

  private constructor(kv: KV, mirror: KvMirror<SessionRecord>, idleLimitSeconds: number) {
    this.#kv = kv;
    this.#mirror = mirror;
    this.#idleLimitSeconds = idleLimitSeconds;
  }

  static async open(kv: KV, options: SessionStoreOptions): Promise<SessionStore> {
    return new SessionStore(kv, await KvMirror.start(kv, decodeSession, { keep: options.keep }), options.idleLimitSeconds);
  }

  /**
   * Records a new session unless its user is at a quota. The index is written first: a
   * replica that dies before the record leaves an entry that lapses after a few seconds.
   */
  begin(sessionId: string, record: SessionRecord, quotas: SessionQuotas): Promise<SessionBegun> {
    const userId = record.user_id;
    const previous = this.#starting.get(userId) ?? Promise.resolve();
    const beginning = previous.then(
      () => this.#begin(sessionId, record, quotas),
      () => this.#begin(sessionId, record, quotas),
    );
    this.#starting.set(userId, beginning);
    // The last start of a user forgets the chain, so idle users hold nothing here.
    const forget = () => {
      if (this.#starting.get(userId) === beginning) this.#starting.delete(userId);
    };
    beginning.then(forget, forget);
    return beginning;
  }

  async #begin(sessionId: string, record: SessionRecord, quotas: SessionQuotas): Promise<SessionBegun> {
    const userId = record.user_id;
    const indexKey = keyForSessionIndex(userId);
    const decision = await retryJetStream("count the user's sessions", async (): Promise<SessionBegun> => {
      const entry = await this.#kv.get(indexKey);
      const stored = entry?.operation === "PUT" ? SessionIndexSchema.safeParse(parseJsonSafely(entry)) : undefined;
      const index: SessionIndex = stored?.success ? stored.data : { sessions: {}, recent_starts: [] };
      const now = epochSeconds();
      const live = await this.#stillLive(userId, index.sessions, now);
      const recentStarts = index.recent_starts.filter((startedAt) => now - startedAt < START_WINDOW_SECONDS);
      if (Object.keys(live).length >= quotas.FABRIC_MAX_SESSIONS_PER_USER) return { begun: false, exceeded: "FABRIC_MAX_SESSIONS_PER_USER" };
      if (recentStarts.length >= quotas.FABRIC_SESSIONS_PER_MINUTE) return { begun: false, exceeded: "FABRIC_SESSIONS_PER_MINUTE" };
      const next: SessionIndex = { sessions: { ...live, [sessionId]: now }, recent_starts: [...recentStarts, now] };
      // A write by another replica in between fails this one; the retry counts again.
      if (entry) await this.#kv.update(indexKey, JSON.stringify(next), entry.revision);
      else await this.#kv.create(indexKey, JSON.stringify(next));
      return { begun: true };
    });
    if (decision.begun) {
      await retryJetStream("create a session", () => this.#kv.put(keyForSession(userId, sessionId), JSON.stringify(record)));
    }
    return decision;
  }

  /** The sessions of an index that are still live: recorded and not idle, or just begun. */
  async #stillLive(userId: string, sessions: Record<string, number>, now: number): Promise<Record<string, number>> {
    const checked = await Promise.all(
      Object.entries(sessions).map(async ([sessionId, startedAt]) => {
        const key = keyForSession(userId, sessionId);
        const cached = this.#mirror.get(key)?.value;
        const entry = cached ? undefined : await this.#kv.get(key);
        const record = cached ?? (entry?.operation === "PUT" ? decodeSession(entry) : undefined);
        // No entry at all: not written yet, or written so long ago that KV dropped it. A delete marker: ended.
        const live = record ? now - record.last_seen <= this.#idleLimitSeconds : !entry && now - startedAt < UNWRITTEN_GRACE_SECONDS;
        return live ? ([sessionId, startedAt] as const) : undefined;
      }),
    );
    return Object.fromEntries(checked.filter((pair) => pair !== undefined));
  }

  /**
   * The session, or undefined when unknown, another user's, or idle past its limit. `fresh`
   * first waits for every write already made (by any replica) to reach this replica's mirror.
   */
  async get(userId: string, sessionId: string, options: { fresh?: boolean } = {}): Promise<SessionRecord | undefined> {
    if (sessionId.length === 0 || sessionId.length > MAX_IDENTIFIER_LENGTH) return undefined;
    if (options.fresh) await this.#mirror.sync();
    const key = keyForSession(userId, sessionId);
    const record = (this.#mirror.get(key) ?? (await this.#mirror.load(key)))?.value;
    if (!record || record.user_id !== userId || epochSeconds() - record.last_seen > this.#idleLimitSeconds) return undefined;
    return record;
  }

  /** Read-modify-write of one session record; returns the new record, or undefined if gone. */
  async update(
    userId: string,
    sessionId: string,
    change: (record: SessionRecord) => SessionRecord,
  ): Promise<SessionRecord | undefined> {
    return updateWithRetry(this.#kv, keyForSession(userId, sessionId), (current) => {
      const parsed = SessionRecordSchema.safeParse(current);
      return parsed.success ? change(parsed.data) : undefined;
    });
  }

  /** Refreshes `last_seen` when it is older than a minute; cheap to call on every request. */
  async touch(userId: string, sessionId: string, record: SessionRecord): Promise<void> {
    if (epochSeconds() - record.last_seen < TOUCH_INTERVAL_SECONDS) return;
    await this.update(userId, sessionId, (current) => ({ ...current, last_seen: epochSeconds() }));
  }

  /**
   * Forgets sessions idle past their limit. KV drops them by max age without telling any
   * watcher, so this replica would otherwise hold them until newer sessions push them out.
   */
  forgetIdle(now: number = epochSeconds()): number {
    const idle = [...this.#mirror.entriesWithPrefix("")].filter(
      ([, { value }]) => now - value.last_seen > this.#idleLimitSeconds,
    );
    for (const [key] of idle) this.#mirror.forget(key);
    return idle.length;
  }

  /** How many sessions this replica holds in memory. */
  get held(): number {
    return this.#mirror.size;
  }

  /** Ends a session. Its entry in the user's index lapses at the user's next `begin`. */
  async delete(userId: string, sessionId: string): Promise<void> {
    await retryJetStream("delete a session", () => this.#kv.delete(keyForSession(userId, sessionId)));
  }

  /** Calls `listener` whenever this session's record changes (undefined once deleted). */
  onChange(userId: string, sessionId: string, listener: (record: SessionRecord | undefined) => void): () => void {
    const key = keyForSession(userId, sessionId);
    return this.#mirror.onChange((changedKey, record) => {
      if (changedKey === key) listener(record);
    });
  }

  stop(): void {
    this.#mirror.stop();
  }
}
