/**
 * `notifications/cancelled` for a running tool call. Replicas are stateless, so the
 * notification may land on a replica other than the one running the call: the receiving
 * replica announces it on `fabric.session.<sid>.cancel`, and every replica holds one
 * subscription to all such subjects and aborts the call if it runs it. A call registers
 * itself for its duration (a map entry: nothing on the wire for calls that are never cancelled).
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { ALL_CALL_CANCEL_SUBJECTS, decodeToken, subjectForCallCancel } from "@blender-fabric/protocol";
import { parseJsonSafely } from "@blender-fabric/bus";

type RequestId = string | number;

const keyOf = (sessionId: string, requestId: RequestId) => `${sessionId}\u0000${typeof requestId}:${requestId}`;

export class CallCancellations {
  readonly #nc: NatsConnection;
  readonly #calls = new Map<string, AbortController>();
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
    this.#calls.set(key, controller);
    return { signal: controller.signal, done: () => this.#calls.delete(key) };
  }

  /** A client cancelled one of its calls: tell whichever replica runs it. */
  announce(sessionId: string, requestId: RequestId): void {
    this.#nc.publish(subjectForCallCancel(sessionId), JSON.stringify({ request_id: requestId }));
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }
}
