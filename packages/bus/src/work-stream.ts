/**
 * Durable work for Blender peers: the work-queue stream `FABRIC_WORK` on `user.*.work.>`.
 *
 * A dispatch is stored in the stream before the caller is answered, so it survives a bridge
 * crash, a reconnect or a NATS node failover. Each peer takes its work through its own
 * durable pull consumer and acknowledges a message only once the job has ended; a message
 * leaves the stream with that ack (work-queue retention). The stream is at-least-once: a
 * message can come twice, and the job record's compare-and-set (jobs.ts, `claim`) is what
 * makes a job start at most once.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import {
  StreamName,
  WORK_STREAM_SUBJECTS,
  subjectForAllGroupWork,
  subjectForAllUserFarmWork,
  subjectForGroupWork,
  subjectForUserFarmWork,
  subjectForPeerWork,
  subjectForProjectWork,
  type Envelope,
  type FarmPriority,
} from "@blender-fabric/protocol";
import { retryJetStream } from "./kv-update.js";
import { BIND_DEADLINE_MS, JETSTREAM_API_TIMEOUT_MS, RECORD_RETENTION_MS } from "./buckets.js";
import { consumerNamesOf, farmLaneConfigs, ownLaneConfigs, type PeerLanes } from "./work-consumers.js";

export type { PeerLanes } from "./work-consumers.js";

/** Largest the work stream may grow (every tenant's queued work). Bytes */
const WORK_STREAM_MAX_BYTES = 1024 ** 3;
/** Within this window a second publish with the same message id is dropped by the server. ms */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
/** How long one pull for a group's next task waits (the shortest pull JetStream allows). ms */
const GROUP_PULL_EXPIRES_MS = 1_000;
/** How long an idle peer's request for a farm task waits for one to be published before it looks again. ms */
const GROUP_IDLE_LOOK_MS = 2_000;
/** The shortest pull nats.js accepts. ms */
const MIN_PULL_EXPIRES_MS = 1_000;

/** JetStream's "stream not found" / "consumer not found": the thing is absent, not unreachable. */
const isNotFound = (error: unknown) =>
  error instanceof JetStreamApiError &&
  (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound);

export class WorkStream {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  /** Consumers this replica pulls from for peers, by name (saves an info request per pull). */
  readonly #consumers = new Map<string, Consumer>();
  /** Peers' own consumers this replica knows to exist (it forwards their pulls without asking). */
  readonly #known = new Set<string>();

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager) {
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
  }

  /** Creates the stream, or binds to it. `replicas`: 1 for one server, 3 for a cluster. */
  static open(nc: NatsConnection, replicas: number): Promise<WorkStream> {
    return retryJetStream(
      "bind the work stream",
      async () => {
        const jsm = await jetstreamManager(nc, { timeout: JETSTREAM_API_TIMEOUT_MS });
        await jsm.streams.info(StreamName.Work).catch(async (error: unknown) => {
          if (!isNotFound(error)) throw error;
          return jsm.streams.add({
            name: StreamName.Work,
            subjects: [WORK_STREAM_SUBJECTS],
            retention: RetentionPolicy.Workqueue,
            storage: StorageType.File,
            num_replicas: replicas,
            max_age: nanos(RECORD_RETENTION_MS),
            // The backstop behind each tenant's work quota: a full stream refuses new work.
            max_bytes: WORK_STREAM_MAX_BYTES,
            discard: DiscardPolicy.New,
            duplicate_window: nanos(DUPLICATE_WINDOW_MS),
          });
        });
        return new WorkStream(nc, jetstream(nc, { timeout: JETSTREAM_API_TIMEOUT_MS }), jsm);
      },
      BIND_DEADLINE_MS,
    );
  }

  /**
   * Stores work for one peer. `dedupeId` (job id and record revision) makes a retried
   * publish, or the same work adopted by several group members, land once.
   */
  publishToPeer(userId: string, peerUuid: string, envelope: Envelope, dedupeId: string): Promise<void> {
    return this.#publish(subjectForPeerWork(userId, peerUuid), envelope, dedupeId);
  }

  /** Stores work for whichever peer serves the project now, or the next one the pool starts. */
  publishToProject(userId: string, projectId: string, envelope: Envelope, dedupeId: string): Promise<void> {
    return this.#publish(subjectForProjectWork(userId, projectId), envelope, dedupeId);
  }

  /** Stores a farm task for whichever peer of the group (null: of the user's farm pool) takes it first. */
  publishFarmTask(userId: string, groupId: string | null, priority: FarmPriority, envelope: Envelope, dedupeId: string): Promise<void> {
    const subject = groupId === null ? subjectForUserFarmWork(userId, priority) : subjectForGroupWork(userId, groupId, priority);
    return this.#publish(subject, envelope, dedupeId);
  }

  async #publish(subject: string, envelope: Envelope, dedupeId: string): Promise<void> {
    await retryJetStream(`queue work on ${subject}`, () => this.#js.publish(subject, JSON.stringify(envelope), { msgID: dedupeId }));
  }

  /**
   * Creates the shared consumers of a group's tasks (null: of the user's farm pool), all
   * priorities, unless they exist. A farm job's submission calls this, so a scaler that reads
   * their pending counts (KEDA) finds them before any peer of the group has ever run.
   */
  async ensureFarmLanes(userId: string, groupId: string | null): Promise<void> {
    const lanes = farmLaneConfigs(userId, { groupId, userPool: groupId === null });
    await retryJetStream("create the farm task consumers", () => Promise.all(lanes.map((config) => this.#jsm.consumers.add(StreamName.Work, config))));
  }

  /** Removes a consumer (absent already is fine). */
  async removeConsumer(name: string): Promise<void> {
    await this.#jsm.consumers.delete(StreamName.Work, name).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }

  /**
   * A new boot of a peer (`work_open` of the peer API): its own consumer, and its project's,
   * start afresh, so work that a dead boot held unacknowledged comes again at once instead
   * of after the ack wait; its farm lanes exist. Only the trusted tier creates consumers.
   */
  async openPeerLanes(userId: string, peer: PeerLanes): Promise<void> {
    const owned = ownLaneConfigs(userId, peer);
    await retryJetStream("start the peer's work consumers", async () => {
      for (const config of owned) {
        this.forgetConsumer(config.durable_name);
        await this.removeConsumer(config.durable_name);
        await this.#jsm.consumers.add(StreamName.Work, config);
      }
      const lanes = farmLaneConfigs(userId, { groupId: peer.groupId, userPool: peer.farmWorker });
      await Promise.all(lanes.map((config) => this.#jsm.consumers.add(StreamName.Work, config)));
    });
  }

  /**
   * Asks JetStream for the next message of a peer's own work (or its project's), to be
   * delivered straight to `deliverTo` (the peer's own inbox, which the caller has checked): up
   * to `batch` messages as they come, then a 408 status if fewer came before `expiresMs`. The message never passes through this
   * process, which only forwards the pull. A consumer that went (removed when idle, or by a
   * leaving peer of the project) is made again first.
   */
  async pullOwnFor(userId: string, peer: PeerLanes, lane: "peer" | "project", expiresMs: number, deliverTo: string, batch = 1): Promise<void> {
    const config = ownLaneConfigs(userId, peer).find((candidate) => candidate.lane === lane);
    if (!config) return;
    if (!this.#known.has(config.durable_name)) {
      await this.#consumer(config);
      this.#known.add(config.durable_name);
    }
    const request = { batch, expires: nanos(Math.max(MIN_PULL_EXPIRES_MS, expiresMs)) };
    this.#nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${StreamName.Work}.${config.durable_name}`, JSON.stringify(request), { reply: deliverTo });
  }

  /** Forgets that a consumer exists (a pull found it gone): the next pull makes it again. */
  forgetConsumer(name: string): void {
    this.#known.delete(name);
    this.#consumers.delete(name);
  }

  /**
   * How many times a message was delivered, read off its ack subject (see consumerOfAck); 1
   * when the subject does not say.
   */
  static deliveryCountOfAck(ackSubject: string): number {
    const count = parseAckSubject(ackSubject)?.deliveries ?? 0;
    return count > 0 ? count : 1;
  }

  /**
   * The next farm task for an idle peer of the group (and, for a farm worker, of the user's
   * farm pool), from the highest-priority lane that has one waiting; null when none came
   * within about `waitMs`. A task whose delivery is due again (a retry, or one a dead peer
   * held) is not counted as waiting by JetStream, so with none waiting it pulls where tasks
   * are out, and with none out it waits for a task to be published.
   */
  async nextFarmTask(userId: string, sources: { groupId: string | null; userPool: boolean }, waitMs: number): Promise<JsMsg | null> {
    const lanes = farmLaneConfigs(userId, sources);
    if (lanes.length === 0) return null;
    // Listening before looking: a task published meanwhile is not missed.
    const arrivals = new Arrivals([
      ...(sources.groupId === null ? [] : [this.#nc.subscribe(subjectForAllGroupWork(userId, sources.groupId))]),
      ...(sources.userPool ? [this.#nc.subscribe(subjectForAllUserFarmWork(userId))] : []),
    ]);
    try {
      const consumers = await Promise.all(lanes.map((config) => this.#consumer(config)));
      const deadline = Date.now() + waitMs;
      for (;;) {
        arrivals.reset();
        const infos = await Promise.all(consumers.map((consumer) => consumer.info()));
        const waiting = consumers.find((_, index) => infos[index]!.num_pending > 0);
        if (waiting) {
          const message = await waiting.next({ expires: GROUP_PULL_EXPIRES_MS });
          if (message) return message;
        }
        const outstanding = consumers.filter((_, index) => infos[index]!.num_ack_pending > 0);
        for (const consumer of outstanding) {
          const message = await consumer.next({ expires: GROUP_PULL_EXPIRES_MS });
          if (message) return message;
        }
        const left = deadline - Date.now();
        if (left <= 0) return null;
        if (outstanding.length === 0) await arrivals.next(Math.min(left, GROUP_IDLE_LOOK_MS));
      }
    } catch (error) {
      for (const config of lanes) this.#consumers.delete(config.durable_name);
      throw error;
    } finally {
      arrivals.stop();
    }
  }

  /** Removes a peer's own consumer (or its project's) as it leaves, so the next peer gets its work at once. */
  async removeOwnConsumer(userId: string, peer: PeerLanes, lane: "peer" | "project"): Promise<void> {
    const config = ownLaneConfigs(userId, peer).find((candidate) => candidate.lane === lane);
    if (!config) return;
    this.forgetConsumer(config.durable_name);
    await this.removeConsumer(config.durable_name);
  }

  /** Acknowledges a message a peer was handed; the caller has checked it is that peer's. */
  acknowledge(ackSubject: string, action: "ack" | "nak" | "working", delayMs = 0): void {
    const body = action === "ack" ? "+ACK" : action === "working" ? "+WPI" : delayMs > 0 ? `-NAK ${JSON.stringify({ delay: nanos(delayMs) })}` : "-NAK";
    this.#nc.publish(ackSubject, body);
  }

  /** The consumers a peer may be handed work from, by name (work-consumers.ts). */
  static consumerNamesOf(userId: string, peer: PeerLanes): ReadonlySet<string> {
    return consumerNamesOf(userId, peer);
  }

  /**
   * The stream and consumer an ack subject names, or undefined when it is not an ack subject
   * of this stream: `$JS.ACK.<stream>.<consumer>.<5 numbers>` (nats-server 2.9) or with a
   * domain and account hash before the stream (newer servers).
   */
  static consumerOfAck(ackSubject: string): string | undefined {
    return parseAckSubject(ackSubject)?.consumer;
  }

  async #consumer(config: { durable_name: string }): Promise<Consumer> {
    let consumer = this.#consumers.get(config.durable_name);
    if (consumer) return consumer;
    try {
      consumer = await this.#js.consumers.get(StreamName.Work, config.durable_name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.#jsm.consumers.add(StreamName.Work, config);
      consumer = await this.#js.consumers.get(StreamName.Work, config.durable_name);
    }
    this.#consumers.set(config.durable_name, consumer);
    return consumer;
  }
}

/**
 * An ack subject of this stream: `$JS.ACK.<stream>.<consumer>.<delivered>.<4 numbers>`
 * (nats-server 2.9), or with a domain and account hash before the stream (newer servers).
 */
function parseAckSubject(ackSubject: string): { consumer: string; deliveries: number } | undefined {
  const tokens = ackSubject.split(".");
  if (tokens[0] !== "$JS" || tokens[1] !== "ACK") return undefined;
  const at = tokens.length === 9 ? 2 : tokens.length >= 11 ? 4 : -1;
  if (at < 0 || tokens[at] !== StreamName.Work) return undefined;
  const numbers = tokens.slice(at + 2);
  if (numbers.length < 5 || !numbers.every((token) => /^\d+$/.test(token))) return undefined;
  return { consumer: tokens[at + 1]!, deliveries: Number(numbers[0]) };
}

/** Whether a task was published since the last reset, and a wait for the next one. */
class Arrivals {
  readonly #subscriptions: Subscription[];
  #arrived = false;
  #wake: (() => void) | undefined;

  constructor(subscriptions: Subscription[]) {
    this.#subscriptions = subscriptions;
    for (const subscription of subscriptions) {
      void (async () => {
        for await (const _message of subscription) {
          this.#arrived = true;
          this.#wake?.();
        }
      })();
    }
  }

  reset(): void {
    this.#arrived = false;
  }

  /** Resolves when a task arrives (or arrived since the reset), or after `timeoutMs`. */
  next(timeoutMs: number): Promise<void> {
    if (this.#arrived) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      const self = this;
      function finish() {
        clearTimeout(timer);
        self.#wake = undefined;
        resolve();
      }
      this.#wake = finish;
    });
  }

  stop(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#wake?.();
  }
}
