/**
 * The peer's end of the peer API: one request per operation on the peer's own subject, with
 * the boot's incarnation in every body. Refusals come back as {@link PeerApiError} with the
 * server's code; a trusted tier that cannot be reached (no replica, a timeout) as
 * `unavailable`, which callers retry.
 */
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import {
  PeerApiErrorCode,
  PeerApiFailureSchema,
  subjectForPeerOp,
  subjectForPeerUpload,
  type PeerApiErrorCode as PeerApiErrorCodeType,
  type PeerOp,
  type PeerRequest,
} from "@blender-fabric/protocol";
import { PeerApiError } from "../peer-api/errors.js";

/** How long a call may take beyond what it asks the server to wait. ms */
const CALL_TIMEOUT_MS = 15_000;

/** The body of an operation without the incarnation, which the client adds. */
type Body<Op extends PeerOp> = Omit<PeerRequest<Op>, "incarnation">;

export class PeerApiClient {
  readonly nc: NatsConnection;
  readonly userId: string;
  readonly peerUuid: string;
  readonly incarnation: string;

  constructor(nc: NatsConnection, identity: { userId: string; peerUuid: string; incarnation: string }) {
    this.nc = nc;
    this.userId = identity.userId;
    this.peerUuid = identity.peerUuid;
    this.incarnation = identity.incarnation;
  }

  /** Calls one operation; `waitMs` is how long the server may hold the request (long polls). */
  async call<Op extends PeerOp>(op: Op, body: Body<Op>, waitMs = 0): Promise<Record<string, any>> {
    return this.#request(subjectForPeerOp(this.userId, this.peerUuid, op), JSON.stringify({ ...body, incarnation: this.incarnation }), waitMs + CALL_TIMEOUT_MS);
  }

  /**
   * Sends an operation whose answer comes to `replyTo` (one of this peer's inboxes) rather
   * than to a request's own inbox (work_next: JetStream answers, and its messages carry their
   * stream subject, which a request's muxed inbox cannot match).
   */
  send<Op extends PeerOp>(op: Op, body: Body<Op>, replyTo: string): void {
    this.nc.publish(subjectForPeerOp(this.userId, this.peerUuid, op), JSON.stringify({ ...body, incarnation: this.incarnation }), { reply: replyTo });
  }

  /** A refusal (`{ok: false}` JSON from the server) as the error it stands for; undefined for anything else. */
  static refusalIn(message: Msg): PeerApiError | undefined {
    if (message.headers || message.data.byteLength === 0 || message.data[0] !== 0x7b) return undefined;
    try {
      const failure = PeerApiFailureSchema.safeParse(message.json());
      return failure.success ? new PeerApiError(failure.data.code as PeerApiErrorCodeType, failure.data.error) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends one chunk of an upload begun with `upload_begin`; the empty chunk ends it. */
  sendChunk(uploadId: string, bytes: Uint8Array): Promise<Record<string, any>> {
    return this.#request(subjectForPeerUpload(this.userId, this.peerUuid, uploadId), bytes, CALL_TIMEOUT_MS);
  }

  async #request(subject: string, data: string | Uint8Array, timeoutMs: number): Promise<Record<string, any>> {
    let answer: unknown;
    try {
      answer = (await this.nc.request(subject, data, { timeout: timeoutMs })).json();
    } catch (error) {
      throw new PeerApiError(PeerApiErrorCode.Unavailable, `the fabric did not answer ${subject}: ${String(error)}`, { cause: error });
    }
    const failure = PeerApiFailureSchema.safeParse(answer);
    if (failure.success) throw new PeerApiError(failure.data.code as PeerApiErrorCodeType, failure.data.error);
    return answer as Record<string, any>;
  }
}
