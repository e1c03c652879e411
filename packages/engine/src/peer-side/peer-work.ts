/**
 * A peer takes its work through the peer API: long polls for its own work (and its project's),
 * which JetStream delivers straight to the peer's inbox, and, only while idle, asks for the
 * next farm task, which comes with its attempt claimed. Each message is held unacknowledged
 * until its job has ended, and kept alive meanwhile; the trusted tier pulls and acknowledges
 * on the peer's behalf (work-ops.ts). The stream is at-least-once: a message can come twice,
 * and the claim is what makes a job start at most once.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { PeerDeliverySchema, inboxPrefixForPeer, type PeerDelivery } from "@blender-fabric/protocol";
import { WorkStream } from "@blender-fabric/bus";
import type { HeldJob } from "../jobs/job-store.js";
import type { WorkSettlement } from "./peer-jobs.js";
import { PeerApiClient } from "./peer-api-client.js";

/**
 * How long one poll for a peer's own work waits on the server. Short, so after a NATS node
 * dies (taking the pull with it) an idle peer asks again within this long. ms
 */
const OWN_POLL_MS = 2_500;
/** Messages one pull of a peer's own work asks for. */
const OWN_PULL_BATCH = 16;
/**
 * How long past its wait a poll's answer (JetStream's 408) may take before the poll counts as
 * lost: after a NATS node dies, its consumers' pulls die with it unanswered, and the next
 * pull should go to the new leader soon. ms
 */
const ANSWER_MARGIN_MS = 500;
/** How long one request for a farm task waits for one to be published. ms */
const FARM_POLL_MS = 2_000;
/** How often a peer says it still holds its unacknowledged work (the server's ack wait is 30 s). ms */
const KEEP_ALIVE_MS = 10_000;
/** Pause after a failed poll (no trusted replica answering, JetStream away). ms */
const POLL_RETRY_MS = 1_000;
/**
 * A peer that handed a task back (it may not take it, or its attempt failed) asks again only
 * this long after the task is due again, so that another peer's pull, not its own, is
 * waiting then. ms
 */
const PASSED_ON_MARGIN_MS = 250;

/** One message of work as a peer holds it until the job has ended. */
export type WorkDelivery = {
  envelope: unknown;
  /** How often the server delivered it before (0 on the first delivery). */
  redeliveries: number;
  /** A farm task's attempt, decided and claimed with the delivery. */
  attempt?: { held: HeldJob; attempt: number };
  /** The job has ended (or will never run here): the message leaves the stream. */
  done(): void;
  /** Could not be handled now: deliver again after `delayMs`. */
  retryLater(delayMs: number): void;
  /** A second copy of work already held: stop keeping this copy alive, leave the held one be. */
  forget(): void;
  /**
   * Hands the message's fate to the job's end (PeerJobs.finish carries it): stops keeping it
   * alive here and says what the end should do with it. `delayMs`: hand it back after that
   * long instead of letting it go (a failed farm attempt with attempts left).
   */
  settlement(delayMs?: number): WorkSettlement;
};

export type PeerWorkSubscription = { stop(): void };

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The inbox one lane's pulls are answered on. A message that arrives while no poll waits (a
 * poll that gave up just before) is kept for the next one, so no delivery is dropped here.
 */
class LaneInbox {
  readonly subject: string;
  readonly #subscription: Subscription;
  readonly #early: Msg[] = [];
  #waiting: ((message: Msg) => void) | undefined;

  constructor(nc: NatsConnection, subject: string) {
    this.subject = subject;
    this.#subscription = nc.subscribe(subject, {
      callback: (error, message) => {
        if (error) return;
        const waiting = this.#waiting;
        this.#waiting = undefined;
        if (waiting) waiting(message);
        else this.#early.push(message);
      },
    });
  }

  /** The next message, or undefined after `timeoutMs`. */
  next(timeoutMs: number): Promise<Msg | undefined> {
    const early = this.#early.shift();
    if (early) return Promise.resolve(early);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiting = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  close(): void {
    this.#subscription.unsubscribe();
  }
}

/** A work message as JetStream delivered it to this peer's inbox. */
function toDelivery(message: Msg): PeerDelivery {
  let envelope: unknown;
  try {
    envelope = message.json();
  } catch {
    envelope = undefined; // not JSON: the peer drops it like any malformed work
  }
  return { envelope, ack: message.reply!, redeliveries: WorkStream.deliveryCountOfAck(message.reply!) - 1 };
}

export class PeerWork {
  readonly #api: PeerApiClient;
  readonly #held = new Set<string>();
  readonly #keepAlive: NodeJS.Timeout;
  /** Failures to acknowledge are only logged: the message comes again, and the claim decides. */
  onError: (error: unknown, what: string) => void = () => {};

  constructor(api: PeerApiClient) {
    this.#api = api;
    this.#keepAlive = setInterval(() => {
      const acks = [...this.#held].map((ack) => ({ ack, action: "working" as const }));
      if (acks.length > 0) this.#ack(acks, "keep-alive");
    }, KEEP_ALIVE_MS);
  }

  /** A new boot: its own (and its project's) consumer start afresh on the server. */
  async open(): Promise<void> {
    await this.#api.call("work_open", {});
  }

  /**
   * Takes the peer's own work (`peer`) or its project's (`project`) as it comes, which
   * JetStream answers straight to an inbox of this peer's kept for the lane. A pull of the
   * peer's own lane asks for several messages, so a busy peer asks once per batch instead
   * of once per job; all of that work is this peer's anyway. A project's pull asks for one:
   * the project's other peers may be idle.
   */
  consume(lane: "peer" | "project", onWork: (delivery: WorkDelivery) => void): PeerWorkSubscription {
    let stopped = false;
    const inbox = new LaneInbox(this.#api.nc, createInbox(inboxPrefixForPeer(this.#api.userId, this.#api.peerUuid)));
    const batch = lane === "peer" ? OWN_PULL_BATCH : 1;
    void (async () => {
      // After a failed pull (a consumer gone, JetStream away), the next asks the server to make it again.
      let renew = false;
      // Pulls in a row that got no answer at all: the first is pulled again at once (its node
      // died), more say that no gateway answers.
      let unanswered = 0;
      while (!stopped) {
        try {
          this.#api.send("work_next", { lane, wait_ms: OWN_POLL_MS, batch, renew }, inbox.subject);
          const pullEnds = Date.now() + OWN_POLL_MS + ANSWER_MARGIN_MS;
          for (let received = 0; received < batch && !stopped; received += 1) {
            const message = await inbox.next(pullEnds - Date.now());
            if (!message) {
              renew = true; // some came, then the pull's end was lost; or none came: pull again
              if (received === 0 && ++unanswered > 1) throw new Error("no answer: is a gateway running?");
              break;
            }
            unanswered = 0;
            renew = false;
            const refusal = PeerApiClient.refusalIn(message);
            if (refusal) throw refusal;
            const status = message.headers?.code ?? 0;
            if (status === 408 || status === 404) break; // the pull ended before the batch was full
            if (status >= 400 || !message.reply) throw new Error(`the pull was refused (${status} ${message.headers?.description ?? ""})`);
            this.#hand([toDelivery(message)], () => stopped, onWork);
          }
        } catch (error) {
          renew = true;
          this.onError(error, `polling ${lane} work`);
          await delay(POLL_RETRY_MS);
        }
      }
      inbox.close();
    })();
    return {
      stop() {
        stopped = true;
      },
    };
  }

  /**
   * Takes farm tasks one at a time, asking for the next only once `whenIdle()` resolves, so a
   * busy peer never holds a task another peer could run now. Each comes with its attempt
   * claimed; a task handed back by the server (another peer should take it) paces the next ask.
   */
  consumeFarm(whenIdle: () => Promise<void>, onTask: (delivery: WorkDelivery) => void): PeerWorkSubscription {
    let stopped = false;
    let askAgainAt = 0;
    const passedOn = (delayMs: number) => {
      askAgainAt = Math.max(askAgainAt, Date.now() + delayMs + PASSED_ON_MARGIN_MS);
    };
    void (async () => {
      while (!stopped) {
        await whenIdle();
        if (askAgainAt > Date.now()) await delay(askAgainAt - Date.now());
        if (stopped) break;
        try {
          const { deliveries, later } = await this.#api.call("farm_next", { wait_ms: FARM_POLL_MS }, FARM_POLL_MS);
          if (typeof later === "number") passedOn(later);
          this.#hand(PeerDeliverySchema.array().parse(deliveries), () => stopped, onTask, passedOn);
        } catch (error) {
          this.onError(error, "polling farm tasks");
          await delay(POLL_RETRY_MS);
        }
      }
    })();
    return {
      stop() {
        stopped = true;
      },
    };
  }

  /** Leaves for good: the registry forgets the peer and its own consumer goes. */
  async leave(): Promise<void> {
    await this.#api.call("leave", {});
  }

  /** A project's peer leaving: the project's consumer goes, its held work to the next peer at once. */
  async dropProjectWork(): Promise<void> {
    await this.#api.call("drop_project_work", {});
  }

  /**
   * Hands deliveries on. A subscription stopped while its poll was out hands them straight
   * back; a farm attempt claimed with its task ends failed, saying it never started, so it is
   * not left running for a peer that is leaving.
   */
  #hand(deliveries: PeerDelivery[], stopped: () => boolean, onWork: (delivery: WorkDelivery) => void, onRetryLater?: (delayMs: number) => void): void {
    for (const delivery of deliveries) {
      if (!stopped()) {
        onWork(this.#track(delivery, onRetryLater));
        continue;
      }
      const held = delivery.attempt?.held;
      if (!held) {
        this.#ack([{ ack: delivery.ack, action: "nak" }], "hand back");
        continue;
      }
      // A farm attempt claimed for a peer that is leaving: it ends failed, saying it never
      // started, and its task goes back for the next attempt.
      const outcome = { status: "failed" as const, error: "its peer was leaving when the attempt reached it, so it never started" };
      this.#api.call("finish", { job_id: held.record.job_id, outcome, ack: { ack: delivery.ack, action: "nak" } }).catch((error: unknown) => this.onError(error, "ending an attempt that never started"));
    }
  }

  /** Lets a message go as a settlement says, when the job's end could not carry it. */
  settle(settlement: WorkSettlement): void {
    this.#ack([settlement], "settle");
  }

  #track(delivery: PeerDelivery, onRetryLater: (delayMs: number) => void = () => {}): WorkDelivery {
    this.#held.add(delivery.ack);
    const release = () => this.#held.delete(delivery.ack);
    return {
      envelope: delivery.envelope,
      redeliveries: delivery.redeliveries,
      ...(delivery.attempt ? { attempt: delivery.attempt } : {}),
      done: () => {
        release();
        this.#ack([{ ack: delivery.ack, action: "ack" }], "ack");
      },
      retryLater: (delayMs) => {
        release();
        this.#ack([{ ack: delivery.ack, action: "nak", delay_ms: delayMs }], "nak");
        onRetryLater(delayMs);
      },
      forget: release,
      settlement: (delayMs) => {
        release();
        if (delayMs === undefined) return { ack: delivery.ack, action: "ack" };
        onRetryLater(delayMs);
        return { ack: delivery.ack, action: "nak", delay_ms: delayMs };
      },
    };
  }

  #ack(acks: { ack: string; action: "ack" | "nak" | "working"; delay_ms?: number }[], what: string): void {
    this.#api.call("work_ack", { acks }).catch((error: unknown) => this.onError(error, what));
  }

  stop(): void {
    clearInterval(this.#keepAlive);
  }
}
