/**
 * An in-memory copy of a KV bucket, kept current by a KV watch.
 *
 * Reading KV costs a round trip (~250 µs); the gateway reads the registry and sessions on
 * every request, so it reads this mirror instead. `sync()` gives read-your-writes across
 * replicas: it asks the stream for its last sequence and waits until the watch has delivered
 * it, so a client registered through replica A is listed by replica B right after A returns.
 */
import type { KV, KvEntry } from "@nats-io/kv";

export type MirrorEntry<T> = { value: T; revision: number };

/** Turns a raw KV value into T, or undefined to ignore a value that does not validate. */
export type MirrorDecoder<T> = (entry: KvEntry) => T | undefined;

export type MirrorChangeListener<T> = (key: string, value: T | undefined) => void;

/** How long `sync()` waits for the watch before serving what it has. */
const SYNC_TIMEOUT_MS = 2_000;

export class KvMirror<T> {
  readonly #kv: KV;
  readonly #decode: MirrorDecoder<T>;
  readonly #entries = new Map<string, MirrorEntry<T>>();
  readonly #listeners = new Set<MirrorChangeListener<T>>();
  #revision = 0;
  #revisionWaiters: { revision: number; resolve: () => void }[] = [];
  #stopWatch: (() => void) | undefined;

  private constructor(kv: KV, decode: MirrorDecoder<T>) {
    this.#kv = kv;
    this.#decode = decode;
  }

  /** Starts watching `kv` and resolves once the current contents are loaded. */
  static async start<T>(kv: KV, decode: MirrorDecoder<T>): Promise<KvMirror<T>> {
    const mirror = new KvMirror(kv, decode);
    await mirror.#watch();
    await mirror.sync();
    return mirror;
  }

  async #watch(): Promise<void> {
    const watcher = await this.#kv.watch();
    this.#stopWatch = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) this.#apply(entry);
    })();
  }

  #apply(entry: KvEntry): void {
    const current = this.#entries.get(entry.key);
    if (!current || current.revision < entry.revision) {
      const value = entry.operation === "PUT" ? this.#decode(entry) : undefined;
      if (value === undefined) this.#entries.delete(entry.key);
      else this.#entries.set(entry.key, { value, revision: entry.revision });
      for (const listener of this.#listeners) listener(entry.key, value);
    }
    this.#advanceRevision(entry.revision);
  }

  #advanceRevision(revision: number): void {
    if (revision <= this.#revision) return;
    this.#revision = revision;
    this.#revisionWaiters = this.#revisionWaiters.filter((waiter) => {
      if (waiter.revision > revision) return true;
      waiter.resolve();
      return false;
    });
  }

  /**
   * Waits until every write the stream held when this was called is in the mirror.
   * Gives up after two seconds (e.g. while NATS reconnects) and serves what it has.
   */
  async sync(): Promise<void> {
    const { streamInfo } = await this.#kv.status();
    const { last_seq: lastSequence, messages } = streamInfo.state;
    // Messages removed by max-age leave last_seq behind with nothing left to deliver.
    if (messages === 0 || lastSequence <= this.#revision) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SYNC_TIMEOUT_MS);
      this.#revisionWaiters.push({
        revision: lastSequence,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  get(key: string): MirrorEntry<T> | undefined {
    return this.#entries.get(key);
  }

  /** Reads one key from KV itself (not the mirror) and folds the answer into the mirror. */
  async load(key: string): Promise<MirrorEntry<T> | undefined> {
    const entry = await this.#kv.get(key);
    if (entry) this.#apply(entry);
    return this.#entries.get(key);
  }

  /** Entries whose key starts with `prefix`. */
  *entriesWithPrefix(prefix: string): Iterable<[string, MirrorEntry<T>]> {
    for (const pair of this.#entries) if (pair[0].startsWith(prefix)) yield pair;
  }

  /** Calls `listener` on every change; returns the function that removes it. */
  onChange(listener: MirrorChangeListener<T>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    this.#stopWatch?.();
    this.#listeners.clear();
  }
}
