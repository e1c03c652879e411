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
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import {
  StreamName,
  WORK_STREAM_SUBJECTS,
  consumerForPeer,
  consumerForProject,
  farmLanes,
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

/** Within this window a second publish with the same message id is dropped by the server. ms */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
/** Unacknowledged work is delivered again after this long without an in-progress ack. ms */
const ACK_WAIT_MS = 30_000;
/** How often a peer tells the server that it still holds its unacknowledged work. ms */
const KEEP_ALIVE_MS = 10_000;
/** Most messages held unacknowledged through one consumer (a peer's queue; a group's peers). */
const MAX_HELD_PER_CONSUMER = 1_000;
/** How long one pull for a group's next task waits (the shortest pull JetStream allows). ms */
const GROUP_PULL_EXPIRES_MS = 1_000;
/** How long an idle peer with no task in sight waits for news before it looks again. ms */
const GROUP_IDLE_LOOK_MS = 2_000;
/**
 * A peer that handed a task back (it may not take it, or its attempt failed) pulls again only
 * this long after the task is due again, so that another peer's pull, not its own, is
 * waiting then. ms
 */
const PASSED_ON_MARGIN_MS = 250;
/** How long one pull of a peer's own work waits before it is renewed. ms */
const PULL_EXPIRES_MS = 10_000;
/** Pause before a peer whose consumer ended takes work again. ms */
const CONSUME_RETRY_MS = 1_000;

/** JetStream's "stream not found" / "consumer not found": the thing is absent, not unreachable. */
const isNotFound = (error: unknown) =>
  error instanceof JetStreamApiError &&
  (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound);

/** One message of work as a peer holds it until the job has ended. */
export type WorkDelivery = {
  envelope: unknown;
  /** How often the server delivered it before (0 on the first delivery). */
  redeliveries: number;
  /** The job has ended (or will never run here): the message leaves the stream. */
  done(): void;
  /** Could not be handled now (e.g. KV unavailable): deliver again after `delayMs`. */
  retryLater(delayMs: number): void;
  /** A second copy of work already held: stop keeping this copy alive, leave the held one be. */
  forget(): void;
};

export type PeerWorkSubscription = { stop(): void };

export class WorkStream {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;

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
   * Takes one peer's work. A new bridge boot starts a fresh consumer, so work that a dead
   * boot held unacknowledged comes again at once instead of after the ack wait.
   */
  consumePeer(userId: string, peerUuid: string, onWork: (delivery: WorkDelivery) => void): Promise<PeerWorkSubscription> {
    const config = consumerConfig(consumerForPeer(userId, peerUuid), subjectForPeerWork(userId, peerUuid), `work for peer ${peerUuid} of user ${userId}`);
    return this.#consumeOwn(config, onWork);
  }

  /**
   * Takes a project's work: the project has one live peer at a time (the pool sees to it), so
   * that peer's boot starts the project's consumer afresh, like its own, and work a previous
   * peer of the project held comes again at once.
   */
  consumeProject(userId: string, projectId: string, onWork: (delivery: WorkDelivery) => void): Promise<PeerWorkSubscription> {
    const config = consumerConfig(consumerForProject(userId, projectId), subjectForProjectWork(userId, projectId), `work for project ${projectId} of user ${userId}`);
    return this.#consumeOwn(config, onWork);
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

  /**
   * Removes a peer's own consumer as it leaves for good (scale to zero): whatever the server
   * sent to its last pull is free for the next peer at once instead of after the ack wait.
   */
  async removeConsumer(name: string): Promise<void> {
    await this.#jsm.consumers.delete(StreamName.Work, name).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }

  async #consumeOwn(config: ReturnType<typeof consumerConfig>, onWork: (delivery: WorkDelivery) => void): Promise<PeerWorkSubscription> {
    await retryJetStream("start the peer's work consumer", async () => {
      await this.#jsm.consumers.delete(StreamName.Work, config.durable_name).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      await this.#jsm.consumers.add(StreamName.Work, config);
    });
    const held = new HeldWork();
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    // consume() survives reconnects by itself but ends for good on some server answers (a
    // removed consumer, a permission change): take work again, or the peer would look
    // healthy while all its work expired.
    void (async () => {
      while (!stopped) {
        try {
          const consumer = await this.#js.consumers.get(StreamName.Work, config.durable_name);
          // Short pulls: after a glitch (a paused process, a reconnect) the next pull comes soon.
          // A consumer deleted under it (another boot of the project took over) ends the loop,
          // which then creates it again, instead of waiting on it forever.
          messages = await consumer.consume({ max_messages: 64, expires: PULL_EXPIRES_MS, abort_on_missing_resource: true });
          for await (const message of messages) onWork(held.track(message));
        } catch {
          // fall through to the pause and a fresh consumer
        }
        if (stopped) break;
        await delay(CONSUME_RETRY_MS);
        await this.#jsm.consumers.add(StreamName.Work, config).catch(() => {});
      }
    })();
    return {
      stop() {
        stopped = true;
        held.stop();
        void messages?.close();
      },
    };
  }

  /**
   * Takes farm tasks, one at a time, from the peer's group (`groupId`) and, for a farm worker
   * (`userPool`), from the user's farm pool: it asks for the next task only once `whenIdle()`
   * resolves, so a busy peer never holds a task another peer could run now, and adding a peer
   * adds throughput. Each source and priority has its own shared consumer, and an idle peer
   * takes from the highest priority that has a task. Never deletes the shared consumers:
   * other peers are pulling from them.
   */
  async consumeFarm(
    userId: string,
    sources: { groupId: string | null; userPool: boolean },
    whenIdle: () => Promise<void>,
    onTask: (delivery: WorkDelivery) => void,
  ): Promise<PeerWorkSubscription> {
    const { groupId, userPool } = sources;
    const lanes = farmLaneConfigs(userId, sources);
    const addLanes = () => Promise.all(lanes.map((config) => this.#jsm.consumers.add(StreamName.Work, config)));
    await retryJetStream("start the farm task consumers", addLanes);
    // A publish of a task wakes idle peers at once; they do not poll for new work.
    const arrivals = new Arrivals([
      ...(groupId === null ? [] : [this.#nc.subscribe(subjectForAllGroupWork(userId, groupId))]),
      ...(userPool ? [this.#nc.subscribe(subjectForAllUserFarmWork(userId))] : []),
    ]);
    const held = new HeldWork();
    let stopped = false;
    let consumers: Consumer[] | undefined;
    let pullAgainAt = 0;
    const passedOn = (delayMs: number) => {
      pullAgainAt = Math.max(pullAgainAt, Date.now() + delayMs + PASSED_ON_MARGIN_MS);
    };
    void (async () => {
      while (!stopped) {
        await whenIdle();
        if (pullAgainAt > Date.now()) await delay(pullAgainAt - Date.now());
        if (stopped) break;
        const message = await (async () => {
          consumers ??= await Promise.all(lanes.map((lane) => this.#js.consumers.get(StreamName.Work, lane.durable_name)));
          return this.#nextGroupTask(consumers, arrivals);
        })().catch(async () => {
          consumers = undefined;
          await delay(CONSUME_RETRY_MS); // JetStream unavailable, or a consumer went: add them again
          await addLanes().catch(() => {});
          return null;
        });
        if (message && stopped) message.nak();
        else if (message) onTask(held.track(message, passedOn));
      }
    })();
    return {
      stop() {
        stopped = true;
        arrivals.stop();
        held.stop();
      },
    };
  }

  /**
   * The next task, from the highest-priority consumer that has one waiting; null when none
   * came in time. A task whose delivery is due again (a retry, or one a dead peer held) is not
   * counted as waiting by JetStream, so with none waiting the peer keeps pulling where tasks
   * are out, and with none out it sleeps until a task arrives.
   */
  async #nextGroupTask(consumers: Consumer[], arrivals: Arrivals): Promise<JsMsg | null> {
    arrivals.reset();
    const infos = await Promise.all(consumers.map((consumer) => consumer.info()));
    const waiting = consumers.find((_, index) => infos[index]!.num_pending > 0);
    if (waiting) return waiting.next({ expires: GROUP_PULL_EXPIRES_MS });
    const outstanding = consumers.filter((_, index) => infos[index]!.num_ack_pending > 0);
    for (const consumer of outstanding) {
      const message = await consumer.next({ expires: GROUP_PULL_EXPIRES_MS });
      if (message) return message;
    }
    // Pull again at once while tasks are out: a pause here would let one peer's rhythm
    // (say, one that hands every task back) take every redelivery.
    if (outstanding.length === 0) await arrivals.next(GROUP_IDLE_LOOK_MS);
    return null;
  }
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

/**
 * The shared consumers of a group's or farm pool's tasks. They are never removed for being
 * idle: a group at zero peers still has its consumers, whose pending count is what scales it
 * up again (a missing consumer would read to KEDA as the whole stream pending).
 */
function farmLaneConfigs(userId: string, sources: { groupId: string | null; userPool: boolean }) {
  return farmLanes(userId, sources).map((lane) => {
    const { inactive_threshold: _removedWhenIdle, ...config } = consumerConfig(lane.name, lane.filter, lane.description);
    return config;
  });
}

/** The durable pull consumer of one peer's work or one group's tasks. */
function consumerConfig(name: string, filterSubject: string, description: string) {
  return {
    durable_name: name,
    description,
    filter_subject: filterSubject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ACK_WAIT_MS),
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: MAX_HELD_PER_CONSUMER,
    // A consumer nobody pulls from this long is removed (its work stays in the stream until
    // max age, and the next peer creates the consumer again), so departed peers do not pile up.
    inactive_threshold: nanos(RECORD_RETENTION_MS),
  };
}

/** Work a peer holds unacknowledged, kept alive with in-progress acks until it is done. */
class HeldWork {
  readonly #messages = new Set<JsMsg>();
  readonly #keepAlive = setInterval(() => {
    for (const message of this.#messages) message.working();
  }, KEEP_ALIVE_MS);

  /** `onRetryLater` hears of every delivery handed back for later. */
  track(message: JsMsg, onRetryLater: (delayMs: number) => void = () => {}): WorkDelivery {
    this.#messages.add(message);
    const release = () => this.#messages.delete(message);
    let envelope: unknown;
    try {
      envelope = message.json();
    } catch {
      envelope = undefined; // not JSON: the receiver drops it like any malformed work
    }
    return {
      envelope,
      redeliveries: message.info.deliveryCount - 1,
      done: () => {
        release();
        message.ack();
      },
      retryLater: (delayMs) => {
        release();
        message.nak(delayMs);
        onRetryLater(delayMs);
      },
      forget: release,
    };
  }

  stop(): void {
    clearInterval(this.#keepAlive);
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
