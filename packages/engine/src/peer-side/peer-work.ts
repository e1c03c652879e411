/**
 * A peer takes its work through the peer API: long polls for its own work (and its project's),
 * and, only while idle, asks for the next farm task. Each message is held unacknowledged
 * until its job has ended, and kept alive meanwhile; the trusted tier pulls and acknowledges
 * on the peer's behalf (work-ops.ts). The stream is at-least-once: a message can come twice,
 * and the claim is what makes a job start at most once.
 */
import type { PeerDelivery } from "@blender-fabric/protocol";
import type { PeerApiClient } from "./peer-api-client.js";

/**
 * How long one poll for a peer's own work waits on the server. Short, so after a NATS node
 * dies (taking the pull with it) an idle peer asks again within this long. ms
 */
const OWN_POLL_MS = 2_500;
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
  /** The job has ended (or will never run here): the message leaves the stream. */
  done(): void;
  /** Could not be handled now: deliver again after `delayMs`. */
  retryLater(delayMs: number): void;
  /** A second copy of work already held: stop keeping this copy alive, leave the held one be. */
  forget(): void;
};

export type PeerWorkSubscription = { stop(): void };

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

  /** Takes the peer's own work (`peer`) or its project's (`project`) as it comes. */
  consume(lane: "peer" | "project", onWork: (delivery: WorkDelivery) => void): PeerWorkSubscription {
    let stopped = false;
    void (async () => {
      while (!stopped) {
        try {
          const { delivery } = await this.#api.call("work_next", { lane, wait_ms: OWN_POLL_MS }, OWN_POLL_MS);
          if (!delivery) continue;
          // Stopped while the poll was out: hand it straight back.
          if (stopped) this.#ack([{ ack: delivery.ack, action: "nak" }], "hand back");
          else onWork(this.#track(delivery));
        } catch (error) {
          this.onError(error, `polling ${lane} work`);
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

  /**
   * Takes farm tasks one at a time, asking for the next only once `whenIdle()` resolves, so a
   * busy peer never holds a task another peer could run now.
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
          const { delivery } = await this.#api.call("farm_next", { wait_ms: FARM_POLL_MS }, FARM_POLL_MS);
          if (!delivery) continue;
          if (stopped) this.#ack([{ ack: delivery.ack, action: "nak" }], "hand back");
          else onTask(this.#track(delivery, passedOn));
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

  #track(delivery: PeerDelivery, onRetryLater: (delayMs: number) => void = () => {}): WorkDelivery {
    this.#held.add(delivery.ack);
    const release = () => this.#held.delete(delivery.ack);
    return {
      envelope: delivery.envelope,
      redeliveries: delivery.redeliveries,
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
    };
  }

  #ack(acks: { ack: string; action: "ack" | "nak" | "working"; delay_ms?: number }[], what: string): void {
    this.#api.call("work_ack", { acks }).catch((error: unknown) => this.onError(error, what));
  }

  stop(): void {
    clearInterval(this.#keepAlive);
  }
}
