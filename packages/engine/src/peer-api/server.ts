/**
 * The trusted side of the peer API: one queue-group subscription on `fabric.peer.*.*.*` in
 * every gateway replica. Each request is checked before anything else happens:
 * - the tenant and the peer come from the subject, which the peer's credential names exactly;
 * - the reply subject must lie under the peer's own inbox prefix, or the request is dropped
 *   unanswered (a peer cannot point an answer at another tenant's subjects);
 * - the body must match the operation's schema.
 * Then the operation runs with the boot and fence checks of its handler.
 */
import type { Msg, Subscription } from "@nats-io/transport-node";
import { BusError } from "@blender-fabric/bus";
import {
  ALL_PEER_API_SUBJECTS,
  PEER_API_QUEUE,
  PeerApiErrorCode,
  PeerRequestSchemas,
  TokenError,
  decodeToken,
  inboxPrefixForPeer,
  isPeerOp,
  type PeerOp,
} from "@blender-fabric/protocol";
import { PeerApiError } from "./errors.js";
import type { PeerApiContext, PeerApiStores } from "./context.js";
import { heartbeat, leave, register } from "./membership-ops.js";
import { NO_ANSWER, acknowledgeWork, dropProjectWork, nextFarmTask, nextWork, openWork } from "./work-ops.js";
import { cancelQueued, claim, finish, getJob, reportProgress } from "./job-ops.js";
import { lease } from "./lease-ops.js";
import { beginUpload, readObject } from "./object-ops.js";

type Handler = (context: PeerApiContext, request: any, reply: string, isOwnInbox: (reply: string | undefined) => boolean) => Promise<unknown>;

const HANDLERS: Record<Exclude<PeerOp, "object_read">, Handler> = {
  register,
  heartbeat,
  leave,
  work_open: openWork,
  work_next: nextWork,
  farm_next: nextFarmTask,
  work_ack: acknowledgeWork,
  drop_project_work: dropProjectWork,
  claim,
  progress: reportProgress,
  finish,
  job_get: getJob,
  cancel_queued: cancelQueued,
  lease,
  upload_begin: (context, request, _reply, isOwnInbox) => beginUpload(context, request, isOwnInbox),
};

export type PeerApiLogger = { warn(details: object, message: string): void; debug(details: object, message: string): void };

/** Who sent a request, read from its subject: `fabric.peer.<u>.<uuid>.<op>`. */
function callerOf(subject: string): { userId: string; peerUuid: string; op: PeerOp } | undefined {
  const tokens = subject.split(".");
  if (tokens.length !== 5 || !isPeerOp(tokens[4]!)) return undefined;
  try {
    return { userId: decodeToken(tokens[2]!), peerUuid: decodeToken(tokens[3]!), op: tokens[4] };
  } catch (error) {
    if (error instanceof TokenError) return undefined;
    throw error;
  }
}

export class PeerApiServer {
  readonly #subscription: Subscription;
  readonly #stores: PeerApiStores;
  readonly #logger: PeerApiLogger;
  /** Requests dropped because their reply subject was not the requester's own inbox. */
  refusedReplies = 0;

  private constructor(stores: PeerApiStores, logger: PeerApiLogger) {
    this.#stores = stores;
    this.#logger = logger;
    this.#subscription = stores.nc.subscribe(ALL_PEER_API_SUBJECTS, {
      queue: PEER_API_QUEUE,
      callback: (error, message) => {
        if (!error) void this.#serve(message);
      },
    });
  }

  static start(stores: PeerApiStores, logger: PeerApiLogger): PeerApiServer {
    return new PeerApiServer(stores, logger);
  }

  async #serve(message: Msg): Promise<void> {
    const caller = callerOf(message.subject);
    if (!caller) return;
    const inbox = `${inboxPrefixForPeer(caller.userId, caller.peerUuid)}.`;
    const isOwnInbox = (reply: string | undefined): reply is string => !!reply && reply.startsWith(inbox) && !/[*>\s]/.test(reply);
    if (!isOwnInbox(message.reply)) {
      this.refusedReplies += 1;
      this.#logger.warn({ subject: message.subject, reply: message.reply }, "peer API request with a foreign reply subject dropped");
      return;
    }
    const reply = message.reply;
    const answer = (body: object) => this.#stores.nc.publish(reply, JSON.stringify(body));
    let body: unknown;
    try {
      body = message.json();
    } catch {
      return answer({ ok: false, code: PeerApiErrorCode.Invalid, error: "the body is not JSON" });
    }
    const parsed = PeerRequestSchemas[caller.op].safeParse(body);
    if (!parsed.success) return answer({ ok: false, code: PeerApiErrorCode.Invalid, error: parsed.error.message });
    const context: PeerApiContext = { userId: caller.userId, peerUuid: caller.peerUuid, stores: this.#stores };
    try {
      if (caller.op === "object_read") {
        await readObject(context, parsed.data as never, reply);
        return;
      }
      const result = await HANDLERS[caller.op]!(context, parsed.data, reply, isOwnInbox);
      if (result !== NO_ANSWER) answer({ ok: true, ...(result as object) });
    } catch (error: unknown) {
      const code = error instanceof PeerApiError ? error.code : PeerApiErrorCode.Unavailable;
      if (!(error instanceof PeerApiError)) this.#logger.debug({ err: error, op: caller.op }, "peer API call failed");
      const text = error instanceof PeerApiError || error instanceof BusError ? error.message : String(error);
      answer({ ok: false, code, error: text });
    }
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }
}
