/**
 * MCP session records in KV `fabric_sessions`, so any gateway replica can serve any request.
 * Reads hit an in-memory mirror (invalidated by a KV watch) and fall back to KV on a miss,
 * which covers a session created a moment ago on another replica.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import {
  MAX_IDENTIFIER_LENGTH,
  SessionRecordSchema,
  epochSeconds,
  keyForSession,
  type SessionRecord,
} from "@blender-fabric/protocol";
import { KvMirror } from "./kv-mirror.js";
import { parseJsonSafely } from "./safe-json.js";
import { retryJetStream, updateWithRetry } from "./kv-update.js";

/** A session's `last_seen` is written at most this often. Seconds. */
const TOUCH_INTERVAL_SECONDS = 60;

const decodeSession = (entry: KvEntry): SessionRecord | undefined => {
  const parsed = SessionRecordSchema.safeParse(parseJsonSafely(entry));
  return parsed.success ? parsed.data : undefined;
};

export class SessionStore {
  readonly #kv: KV;
  readonly #mirror: KvMirror<SessionRecord>;
  /** Sessions idle longer than this are gone (the bucket's max age removes them in KV). Seconds. */
  readonly #idleLimitSeconds: number;

  private constructor(kv: KV, mirror: KvMirror<SessionRecord>, idleLimitSeconds: number) {
    this.#kv = kv;
    this.#mirror = mirror;
    this.#idleLimitSeconds = idleLimitSeconds;
  }

  static async open(kv: KV, idleLimitSeconds: number): Promise<SessionStore> {
    return new SessionStore(kv, await KvMirror.start(kv, decodeSession), idleLimitSeconds);
  }

  async create(sessionId: string, record: SessionRecord): Promise<void> {
    await retryJetStream("create a session", () =>
      this.#kv.put(keyForSession(sessionId), JSON.stringify(record)),
    );
  }

  /**
   * The session, or undefined when unknown or idle past its limit. `fresh` first waits for
   * every write already made (by any replica) to reach this replica's mirror.
   */
  async get(sessionId: string, options: { fresh?: boolean } = {}): Promise<SessionRecord | undefined> {
    if (sessionId.length === 0 || sessionId.length > MAX_IDENTIFIER_LENGTH) return undefined;
    if (options.fresh) await this.#mirror.sync();
    const key = keyForSession(sessionId);
    const record = (this.#mirror.get(key) ?? (await this.#mirror.load(key)))?.value;
    if (!record || epochSeconds() - record.last_seen > this.#idleLimitSeconds) return undefined;
    return record;
  }

  /** Read-modify-write of one session record; returns the new record, or undefined if gone. */
  async update(
    sessionId: string,
    change: (record: SessionRecord) => SessionRecord,
  ): Promise<SessionRecord | undefined> {
    return updateWithRetry(this.#kv, keyForSession(sessionId), (current) => {
      const parsed = SessionRecordSchema.safeParse(current);
      return parsed.success ? change(parsed.data) : undefined;
    });
  }

  /** Refreshes `last_seen` when it is older than a minute; cheap to call on every request. */
  async touch(sessionId: string, record: SessionRecord): Promise<void> {
    if (epochSeconds() - record.last_seen < TOUCH_INTERVAL_SECONDS) return;
    await this.update(sessionId, (current) => ({ ...current, last_seen: epochSeconds() }));
  }

  /**
   * Forgets sessions idle past their limit. KV drops them by max age without telling any
   * watcher, so without this every session ever seen would stay in memory.
   */
  forgetIdle(now: number = epochSeconds()): number {
    const idle = [...this.#mirror.entriesWithPrefix("")].filter(
      ([, { value }]) => now - value.last_seen > this.#idleLimitSeconds,
    );
    for (const [key] of idle) this.#mirror.forget(key);
    return idle.length;
  }

  /**
   * How many live sessions a user has, and how many of them began in the last `windowSeconds`
   * (the session quotas). Read from this replica's mirror: a session made on another replica
   * a moment ago may not be counted yet, so a limit may be passed by a few.
   */
  usageOf(userId: string, windowSeconds: number, now: number = epochSeconds()): { live: number; recent: number } {
    let live = 0;
    let recent = 0;
    for (const [, { value }] of this.#mirror.entriesWithPrefix("")) {
      if (value.user_id !== userId || now - value.last_seen > this.#idleLimitSeconds) continue;
      live += 1;
      if (now - value.created_at < windowSeconds) recent += 1;
    }
    return { live, recent };
  }

  async delete(sessionId: string): Promise<void> {
    await retryJetStream("delete a session", () => this.#kv.delete(keyForSession(sessionId)));
  }

  /** Calls `listener` whenever this session's record changes (undefined once deleted). */
  onChange(sessionId: string, listener: (record: SessionRecord | undefined) => void): () => void {
    const key = keyForSession(sessionId);
    return this.#mirror.onChange((changedKey, record) => {
      if (changedKey === key) listener(record);
    });
  }

  stop(): void {
    this.#mirror.stop();
  }
}
