/**
 * An in-memory copy of a KV bucket, kept current by a KV watch.
 *
 * Reading KV costs a round trip (~250 µs); the gateway reads the registry and sessions on
 * every request, so it reads this mirror instead.
 *
 * `sync()` gives read-your-writes across replicas and writers: a put or delete that returned
 * to any client (a gateway replica, a bridge, the pool), on any server of a cluster, before
 * `sync()` was called is in the mirror when it resolves. It asks the stream for its last
 * sequence and waits until the watch, which applies the stream in order, has reached it. The
 * answer comes from the stream leader, which stores a message before it acks it (R1: the only
 * copy; R3: once the Raft quorum has committed it), so any request sent after the ack counts
 * the write. Not covered: a leader elected meanwhile may answer before it has applied what
 * its predecessor acked (2.9 does not wait for that). It gives up, serving what it has, while
 * JetStream is unavailable (5 s) or the watch cannot catch up (2 s, replacing the watch).
 *
 * What it does not do, and why (nats-server 2.9.10):
 * - No read is answered from a follower: a direct get (allow_direct) may be served by any
 *   replica, and a follower applies a write once the leader tells it the write is committed,
 *   in a heartbeat that races the ack to the writer (raft.go trackResponse). Measured on a
 *   3-node cluster: 4-15 % of direct gets sent right after an acked put missed it.
 * - No per-user watermark: `last_by_subj` with a wildcard works, but the server scans the
 *   subjects it holds (1.5-8 ms at 100,000 keys, against 0.2 ms for the stream's state).
 * - No announcement on core NATS: writers outside the gateway write the bucket directly, and
 *   in a cluster a flush to one server says nothing of messages still on a route from another.
 * What it does instead is share the round trip: at most one request is in flight per mirror,
 * and it answers every `sync()` that began before it was sent. A replica under load thus
 * asks the leader once per round trip, not once per read.
 *
 * With `keep` (the sessions), it holds only the keys this process has read, up to that many
 * (the least recently read leave first), and watches from the moment it starts instead of
 * loading the bucket: a replica's memory grows with what it serves, not with every tenant's
 * records. The watch still keeps every held key current, and a read that races a write of the
 * same key keeps whichever is newer.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import { retryJetStream } from "./kv-update.js";

export type MirrorEntry<T> = { value: T; revision: number };

/** Turns a raw KV value into T, or undefined to ignore a value that does not validate. */
export type MirrorDecoder<T> = (entry: KvEntry) => T | undefined;

export type MirrorChangeListener<T> = (key: string, value: T | undefined) => void;

export type MirrorOptions = {
  /** Hold only keys read through `load()`, at most this many. Default: the whole bucket. */
  keep?: number;
};

/** How long `sync()` trusts the running watch to catch up before replacing it. ms */
const WATCH_GRACE_MS = 750;
/** How long a booting service keeps trying to start its first watch. ms */
const START_DEADLINE_MS = 120_000;
/** Pause between attempts to create a replacement watch. ms */
const WATCH_RETRY_MS = 250;
/** How long `sync()` retries reading the stream's state while a cluster elects a leader. ms */
const SYNC_STATUS_DEADLINE_MS = 5_000;
/** How long `sync()` waits for the watch in all before serving what it has. ms */
const SYNC_TIMEOUT_MS = 2_000;

const firstToken = (key: string) => key.split(".", 1)[0]!;

export class KvMirror<T> {
  readonly #kv: KV;
  readonly #decode: MirrorDecoder<T>;
  readonly #entries = new Map<string, MirrorEntry<T>>();
  /**
   * Keys by their first token (`<u>` of `<u>.<id>`): one user's entries are read without
   * walking every user's (a registry of 10,000 peers).
   */
  readonly #keysByFirstToken = new Map<string, Set<string>>();
  readonly #listeners = new Set<MirrorChangeListener<T>>();
  /**
   * The last stream sequence the watch delivered; it delivers in order, so every write up to
   * it is applied. Entries folded in by `load()` do not move it: the writes before theirs may
   * still be on their way.
   */
  #watchedRevision = 0;
  #revisionWaiters: { revision: number; resolve: () => void }[] = [];
  /** The stream-state request in flight, and the one that follows it for `sync()`s meanwhile. */
  #stateRequest: Promise<number | undefined> | undefined;
  #nextStateRequest: Promise<number | undefined> | undefined;
  #stopWatch: (() => void) | undefined;
  #restarting: Promise<void> | undefined;
  #stopped = false;
  /** `MirrorOptions.keep`; undefined holds every key. */
  readonly #keep: number | undefined;
  /** Reads of KV in flight, shared by every caller of `load()` for the same key. */
  readonly #loads = new Map<string, Promise<MirrorEntry<T> | undefined>>();
  /** For each key being loaded, the newest write the watch delivered meanwhile. */
  readonly #seenWhileLoading = new Map<string, KvEntry | undefined>();

  private constructor(kv: KV, decode: MirrorDecoder<T>, options: MirrorOptions) {
    this.#kv = kv;
    this.#decode = decode;
    this.#keep = options.keep;
  }

  /**
   * Starts watching `kv` and resolves once the current contents are loaded (with `keep`: once
   * the watch runs). Retries while JetStream cannot create the watch's consumer (a cluster
   * still electing leaders).
   */
  static async start<T>(kv: KV, decode: MirrorDecoder<T>, options: MirrorOptions = {}): Promise<KvMirror<T>> {
    const mirror = new KvMirror(kv, decode, options);
    if (options.keep !== undefined) {
      // Nothing is loaded: the watch begins after the stream's last message.
      const { state } = (await retryJetStream("read the stream state", () => kv.status(), START_DEADLINE_MS)).streamInfo;
      mirror.#watchedRevision = state.last_seq;
    }
    await retryJetStream("watch a bucket", () => mirror.#watch(), START_DEADLINE_MS);
    await mirror.sync();
    return mirror;
  }

  /** Watches from the start, or from just after the last revision the watch delivered. */
  async #watch(): Promise<void> {
    const watcher = await this.#kv.watch(
      this.#watchedRevision > 0 ? { resumeFromRevision: this.#watchedRevision + 1 } : {},
    );
    this.#stopWatch = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) {
        this.#apply(entry);
        this.#advanceWatchedRevision(entry.revision);
      }
    })().catch(() => {
      // The watch broke; the next sync() sees it fall behind and replaces it.
    });
  }

  /**
   * A watch is an R1 ordered consumer: when its cluster node dies, nats.js notices only
   * after missed heartbeats (10 s and more). A watch that falls behind is replaced at once;
   * while the cluster elects leaders, creating the new one is retried until it works.
   */
  #restartWatch(): Promise<void> {
    this.#restarting ??= (async () => {
      this.#stopWatch?.();
      this.#stopWatch = undefined;
      while (!this.#stopped) {
        try {
          await this.#watch();
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, WATCH_RETRY_MS));
        }
      }
    })().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  /** `read`: the entry comes from a read of KV (`load()`), not from the watch. */
  #apply(entry: KvEntry, read = false): void {
    const current = this.#entries.get(entry.key);
    if (current && current.revision >= entry.revision) return;
    if (!read && this.#seenWhileLoading.has(entry.key)) {
      const seen = this.#seenWhileLoading.get(entry.key);
      if (!seen || seen.revision < entry.revision) this.#seenWhileLoading.set(entry.key, entry);
    }
    const held = this.#keep === undefined || read || current !== undefined;
    if (!held && this.#listeners.size === 0) return;
    const value = entry.operation === "PUT" ? this.#decodeSafely(entry) : undefined;
    if (value === undefined) this.#drop(entry.key);
    else if (held) this.#store(entry.key, { value, revision: entry.revision });
    for (const listener of this.#listeners) listener(entry.key, value);
  }

  #store(key: string, entry: MirrorEntry<T>): void {
    if (this.#keep !== undefined) this.#entries.delete(key); // re-inserted last: the most recently used
    this.#entries.set(key, entry);
    const token = firstToken(key);
    let keys = this.#keysByFirstToken.get(token);
    if (!keys) this.#keysByFirstToken.set(token, (keys = new Set()));
    keys.add(key);
    if (this.#keep === undefined) return;
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#keep) break;
      this.#drop(oldest);
    }
  }

  #drop(key: string): void {
    this.#entries.delete(key);
    const token = firstToken(key);
    const keys = this.#keysByFirstToken.get(token);
    keys?.delete(key);
    if (keys?.size === 0) this.#keysByFirstToken.delete(token);
  }

  /** A value a decoder cannot read is treated like a deleted key, never as a crash. */
  #decodeSafely(entry: KvEntry): T | undefined {
    try {
      return this.#decode(entry);
    } catch {
      return undefined;
    }
  }

  #advanceWatchedRevision(revision: number): void {
    if (revision <= this.#watchedRevision) return;
    this.#watchedRevision = revision;
    this.#revisionWaiters = this.#revisionWaiters.filter((waiter) => {
      if (waiter.revision > revision) return true;
      waiter.resolve();
      return false;
    });
  }

  /**
   * Waits until every write acked before this call (by any writer) is in the mirror.
   * Gives up after the deadlines above (e.g. while NATS reconnects) and serves what it has.
   */
  async sync(): Promise<void> {
    const lastSequence = await this.#streamLastSequence();
    if (lastSequence === undefined) return;
    if (await this.#waitForRevision(lastSequence, WATCH_GRACE_MS)) return;
    void this.#restartWatch();
    await this.#waitForRevision(lastSequence, SYNC_TIMEOUT_MS - WATCH_GRACE_MS);
  }

  /**
   * The stream's last sequence, from a request sent after this call. A request already in
   * flight may have been answered before a write this caller must see, so the caller waits
   * for the next one, which every caller arriving meanwhile shares.
   */
  #streamLastSequence(): Promise<number | undefined> {
    if (!this.#stateRequest) return this.#requestStreamState();
    this.#nextStateRequest ??= this.#stateRequest.then(() => {
      this.#nextStateRequest = undefined;
      // One sent since the last one was answered also postdates every caller waiting here.
      return this.#stateRequest ?? this.#requestStreamState();
    });
    return this.#nextStateRequest;
  }

  #requestStreamState(): Promise<number | undefined> {
    const request = this.#readLastSequence().finally(() => {
      if (this.#stateRequest === request) this.#stateRequest = undefined;
    });
    this.#stateRequest = request;
    return request;
  }

  /** Undefined when there is nothing to wait for, or JetStream stays unavailable. */
  async #readLastSequence(): Promise<number | undefined> {
    try {
      const { state } = (await retryJetStream("read the stream state", () => this.#kv.status(), SYNC_STATUS_DEADLINE_MS)).streamInfo;
      // Messages removed by max-age leave last_seq behind with nothing left to deliver.
      return state.messages === 0 ? undefined : state.last_seq;
    } catch {
      return undefined;
    }
  }

  /** Resolves true once the watch has delivered `revision`, false after `timeoutMs`. */
  #waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    if (revision <= this.#watchedRevision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { revision, resolve: () => {} };
      const timer = setTimeout(() => {
        this.#revisionWaiters = this.#revisionWaiters.filter((other) => other !== waiter);
        resolve(false);
      }, timeoutMs);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#revisionWaiters.push(waiter);
    });
  }

  get(key: string): MirrorEntry<T> | undefined {
    const entry = this.#entries.get(key);
    if (entry && this.#keep !== undefined) this.#store(key, entry); // most recently used
    return entry;
  }

  /**
   * Reads one key from KV itself (not the mirror) and folds the answer into the mirror. A
   * write the watch delivers while the read is out wins if it is newer.
   */
  load(key: string): Promise<MirrorEntry<T> | undefined> {
    let loading = this.#loads.get(key);
    if (!loading) {
      this.#seenWhileLoading.set(key, undefined);
      loading = this.#kv
        .get(key)
        .then((read) => {
          const seen = this.#seenWhileLoading.get(key);
          const newest = seen && (!read || seen.revision > read.revision) ? seen : read;
          if (newest) this.#apply(newest, true);
          return this.#entries.get(key);
        })
        .finally(() => {
          this.#loads.delete(key);
          this.#seenWhileLoading.delete(key);
        });
      this.#loads.set(key, loading);
    }
    return loading;
  }

  /** How many keys the mirror holds. */
  get size(): number {
    return this.#entries.size;
  }

  /** Drops a key from memory only (for values KV removes silently, by max age). */
  forget(key: string): void {
    this.#drop(key);
  }

  /** Entries whose key starts with `prefix`. */
  *entriesWithPrefix(prefix: string): Iterable<[string, MirrorEntry<T>]> {
    // `<token>.`, the common case, is answered from the index.
    const token = /^([^.]+)\.$/u.exec(prefix)?.[1];
    if (token === undefined) {
      for (const pair of this.#entries) if (pair[0].startsWith(prefix)) yield pair;
      return;
    }
    for (const key of this.#keysByFirstToken.get(token) ?? []) {
      const entry = this.#entries.get(key);
      if (entry) yield [key, entry];
    }
  }

  /** Calls `listener` on every change; returns the function that removes it. */
  onChange(listener: MirrorChangeListener<T>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    this.#stopped = true;
    this.#stopWatch?.();
    this.#listeners.clear();
  }
}
