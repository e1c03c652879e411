/**
 * Which artifacts each tenant has, held in memory and kept current by watching the metadata
 * subjects of the tenant's Object Store (`$O.<bucket>.M.>`). Listing a bucket reads every
 * object's metadata (10,000 frames: ~1 s); a render's status asks which frames exist each
 * second, so this replica watches a tenant's bucket from the first such question on, and
 * stops once nobody asked for a while.
 *
 * `sync()` gives read-your-writes like KvMirror's: it asks the stream for its last metadata
 * message and waits until the watch has delivered it, so a frame whose upload returned before
 * the question is in the answer.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager } from "@nats-io/jetstream";
import { JETSTREAM_API_TIMEOUT_MS } from "./buckets.js";
import { retryJetStream } from "./kv-update.js";

/** One stored object, as its metadata message says. */
export type IndexedObject = { name: string; size: number; digest: string; description?: string; mtime: string };

/** A tenant's bucket watched by nobody's question this long stops being watched. ms */
const IDLE_AFTER_MS = 10 * 60_000;
/** How long a question waits for the watch to catch up before it is answered with what is held. ms */
const SYNC_TIMEOUT_MS = 2_000;

type ObjectMeta = { name?: unknown; size?: unknown; digest?: unknown; description?: unknown; mtime?: unknown; deleted?: unknown };

class BucketWatch {
  /** Objects by name. */
  readonly objects = new Map<string, IndexedObject>();
  lastAsked = Date.now();
  #delivered = 0;
  #waiters: { seq: number; resolve: () => void }[] = [];
  #messages: ConsumerMessages | undefined;
  #broken = false;

  constructor(
    readonly stream: string,
    readonly metaSubjects: string,
  ) {}

  async start(nc: NatsConnection): Promise<void> {
    const js = jetstream(nc, { timeout: JETSTREAM_API_TIMEOUT_MS });
    const consumer = await js.consumers.get(this.stream, { filter_subjects: this.metaSubjects, deliver_policy: DeliverPolicy.LastPerSubject });
    this.#messages = await consumer.consume({
      callback: (message) => {
        this.#apply(message.json<ObjectMeta>());
        this.#delivered = message.seq;
        this.#waiters = this.#waiters.filter((waiter) => (waiter.seq <= this.#delivered ? (waiter.resolve(), false) : true));
      },
    });
    void this.#messages.closed().then(() => {
      this.#broken = true;
    });
  }

  get broken(): boolean {
    return this.#broken;
  }

  #apply(meta: ObjectMeta): void {
    if (typeof meta.name !== "string") return;
    if (meta.deleted === true) {
      this.objects.delete(meta.name);
      return;
    }
    this.objects.set(meta.name, {
      name: meta.name,
      size: typeof meta.size === "number" ? meta.size : 0,
      digest: typeof meta.digest === "string" ? meta.digest : "",
      description: typeof meta.description === "string" ? meta.description : undefined,
      mtime: typeof meta.mtime === "string" ? meta.mtime : "",
    });
  }

  /** Resolves once every metadata message up to `seq` is applied (or after SYNC_TIMEOUT_MS). */
  reached(seq: number): Promise<void> {
    if (seq <= this.#delivered) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, SYNC_TIMEOUT_MS);
      this.#waiters.push({ seq, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  stop(): void {
    this.#messages?.stop();
  }
}

export class ArtifactIndex {
  readonly #nc: NatsConnection;
  readonly #jsm: Promise<JetStreamManager>;
  readonly #watches = new Map<string, Promise<BucketWatch>>();
  readonly #timer: NodeJS.Timeout;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#jsm = jetstreamManager(nc, { checkAPI: false, timeout: JETSTREAM_API_TIMEOUT_MS });
    this.#timer = setInterval(() => this.#dropIdle(), IDLE_AFTER_MS / 2);
    this.#timer.unref();
  }

  /**
   * The objects of one Object Store bucket, current as of this call (`bucket` exists: the
   * caller opened it). Keys are object names.
   */
  async objects(bucket: string): Promise<ReadonlyMap<string, IndexedObject>> {
    const watch = await this.#watch(bucket);
    watch.lastAsked = Date.now();
    const jsm = await this.#jsm;
    const last = await retryJetStream("read the last artifact", () =>
      jsm.streams.getMessage(watch.stream, { last_by_subj: watch.metaSubjects }).catch((error: unknown) => {
        if (/no message found|not found/iu.test(String(error))) return null;
        throw error;
      }),
    );
    if (last) await watch.reached(last.seq);
    return watch.objects;
  }

  #watch(bucket: string): Promise<BucketWatch> {
    let watching = this.#watches.get(bucket);
    if (watching) {
      // A watch whose consumer went away (its server restarted) is replaced.
      void watching.then((watch) => {
        if (watch.broken && this.#watches.get(bucket) === watching) this.#watches.delete(bucket);
      });
      return watching;
    }
    const watch = new BucketWatch(`OBJ_${bucket}`, `$O.${bucket}.M.>`);
    watching = retryJetStream(`watch the artifacts of ${bucket}`, () => watch.start(this.#nc)).then(() => watch);
    watching.catch(() => this.#watches.delete(bucket));
    this.#watches.set(bucket, watching);
    return watching;
  }

  #dropIdle(): void {
    const now = Date.now();
    for (const [bucket, watching] of this.#watches) {
      void watching.then((watch) => {
        if (now - watch.lastAsked < IDLE_AFTER_MS) return;
        watch.stop();
        if (this.#watches.get(bucket) === watching) this.#watches.delete(bucket);
      });
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const watching of this.#watches.values()) void watching.then((watch) => watch.stop()).catch(() => {});
    this.#watches.clear();
  }
}
