/**
 * `notifications/cancelled` for a running tool call. Replicas are stateless, so the
 * notification may land on a replica other than the one running the call. A call that runs
 * on the receiving replica is aborted there, with nothing on the wire. Otherwise the replica
 * announces it once on `fabric.session.<sid>.cancel`; every replica holds one subscription to
 * all such subjects and aborts the call if it runs it. A call registers itself for its
 * duration (a map entry: nothing on the wire for calls that are never cancelled).
 *
 * A repeat of an announced cancellation is not announced again: however often a client
 * cancels a request id of its session, each receiving replica announces it once.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { ALL_CALL_CANCEL_SUBJECTS, TIMEOUT_TIERS, decodeToken, subjectForCallCancel } from "@blender-fabric/protocol";
import { parseJsonSafely } from "@blender-fabric/bus";

type RequestId = string | number;

/** Announced cancellations remembered per replica, at most. Oldest go first. */
const MAX_REMEMBERED_ANNOUNCEMENTS = 10_000;
/** How long an announced cancellation is remembered: the longest a call waits (`_timeout`'s maximum). ms */
const REMEMBER_ANNOUNCEMENT_MS = TIMEOUT_TIERS.long * 10 * 1000;

/** How long a cancelled call is remembered after it ended, for withholding its answer. ms */
const CANCELLED_KEPT_MS = 60_000;

const keyOf = (sessionId: string, requestId: RequestId) => `${sessionId}\u0000${typeof requestId}:${requestId}`;

export class CallCancellations {
  readonly #nc: NatsConnection;
  readonly #calls = new Map<string, AbortController>();
  /** Calls of this replica that were cancelled, until their answer is withheld (wasCancelled). */
  readonly #cancelled = new Set<string>();
  /** Key → when it was announced (ms since the epoch), oldest first. */
  readonly #announced = new Map<string, number>();
  readonly #subscription: Subscription;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#subscription = nc.subscribe(ALL_CALL_CANCEL_SUBJECTS, {
      callback: (error, message) => {
        if (error) return;
        const body = parseJsonSafely(message) as { request_id?: RequestId } | undefined;
        if (typeof body?.request_id !== "string" && typeof body?.request_id !== "number") return;
        try {
          this.#calls.get(keyOf(decodeToken(message.subject.split(".")[2]!), body.request_id))?.abort();
        } catch {
          // not a session token: not ours
        }
      },
    });
  }

  /** A running call of a session: its signal aborts on cancellation; `done()` when it ends. */
  register(sessionId: string, requestId: RequestId): { signal: AbortSignal; done(): void } {
    const key = keyOf(sessionId, requestId);
    const controller = new AbortController();
    controller.signal.addEventListener("abort", () => this.#cancelled.add(key), { once: true });
    this.#calls.set(key, controller);
    return {
      signal: controller.signal,
      done: () => {
        this.#calls.delete(key);
        // Asked right after the call ends; kept a while for a stream whose answer comes later.
        setTimeout(() => this.#cancelled.delete(key), CANCELLED_KEPT_MS).unref();
      },
    };
  }

  /**
   * Whether this replica's call with this request id was cancelled by its client; asked once,
   * when its answer is ready: a cancelled call's answer is not sent (the client has let it go).
   */
  wasCancelled(sessionId: string, requestId: RequestId): boolean {
    return this.#cancelled.delete(keyOf(sessionId, requestId));
  }

  /** Whether this replica runs the session's call with this request id. */
  runs(sessionId: string, requestId: RequestId): boolean {
    return this.#calls.has(keyOf(sessionId, requestId));
  }

  /** A client cancelled one of its calls: abort it here, or tell whichever replica runs it. */
  cancel(sessionId: string, requestId: RequestId): void {
    const key = keyOf(sessionId, requestId);
    const local = this.#calls.get(key);
    if (local) {
      local.abort();
      return;
    }
    const now = Date.now();
    this.#forgetAnnouncedBefore(now - REMEMBER_ANNOUNCEMENT_MS);
    if (this.#announced.has(key)) return;
    this.#announced.set(key, now);
    if (this.#announced.size > MAX_REMEMBERED_ANNOUNCEMENTS) this.#announced.delete(this.#announced.keys().next().value!);
    this.#nc.publish(subjectForCallCancel(sessionId), JSON.stringify({ request_id: requestId }));
  }

  #forgetAnnouncedBefore(cutoff: number): void {
    for (const [key, at] of this.#announced) {
      if (at >= cutoff) return;
      this.#announced.delete(key);
    }
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }
}
