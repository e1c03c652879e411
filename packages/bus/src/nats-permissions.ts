/**
 * What each kind of NATS user of the fabric may do (DESIGN.md section 9), as the subjects
 * nats-server checks. A gateway (and the pool) is the trusted tier and may do everything; an
 * operator may watch; a peer (a bridge) is untrusted and holds no JetStream rights at all.
 *
 * nats-server 2.9 checks a permission against the subject only, never a request's body, its
 * reply subject or its headers, so any JetStream API right, or any publish right on a
 * stream's or bucket's subjects, lets a peer reach other tenants (a consumer whose
 * `deliver_subject` is another tenant's subject, a stream that `sources` another's, a
 * `Nats-Rollup` header that purges a shared bucket). A peer therefore may only:
 * - publish requests to the peer API on its own subjects `fabric.peer.<u>.<uuid>.>`, whose
 *   serving side checks tenant, boot and fence on every call (`@blender-fabric/engine`);
 * - receive answers on its own inbox prefix `_INBOX_peer.<u>.<uuid>.`, where the peer API
 *   answers and nobody else may listen;
 * - receive messages on its own client subject (cancel requests for the jobs it runs), and
 *   answer them once (`resp`).
 */
import { inboxPrefixForPeer, subjectForClient, subjectsOfPeer } from "@blender-fabric/protocol";
import { BucketName, StreamName } from "@blender-fabric/protocol";

export type NatsPermissions = { pub: { allow: string[] }; sub: { allow: string[] }; resp?: { max: number; ttl: number } };

/** Who a peer credential is for. Its group, project and farm membership travel in its registration. */
export type PeerIdentity = {
  userId: string;
  clientUuid: string;
  groupId?: string | null;
  farmWorker?: boolean;
  projectId?: string | null;
};

/** Everything a peer of one tenant needs: its own peer API subjects, inbox and client subject. */
export function peerPermissions(peer: PeerIdentity): NatsPermissions {
  return {
    pub: { allow: [subjectsOfPeer(peer.userId, peer.clientUuid)] },
    sub: { allow: [subjectForClient(peer.userId, peer.clientUuid), `${inboxPrefixForPeer(peer.userId, peer.clientUuid)}.>`] },
    // It answers the gateway's cancel requests on the gateway's inbox.
    resp: { max: 1, ttl: 0 },
  };
}

/**
 * The operations view: every tenant's traffic and KV, read only. It may ask JetStream for
 * stream and consumer info, direct gets and KV watches (its own consumers, on its own inbox),
 * and publish nothing else: no message on `user.>`, no KV write, no work.
 */
export function operatorPermissions(): NatsPermissions {
  const readOnlyApi = [BucketName.Clients, BucketName.Jobs, BucketName.Sessions, BucketName.Requests].flatMap((bucket) => [
    `$JS.API.STREAM.INFO.KV_${bucket}`,
    `$JS.API.DIRECT.GET.KV_${bucket}.>`,
    `$JS.API.CONSUMER.CREATE.KV_${bucket}.>`,
    `$JS.API.CONSUMER.INFO.KV_${bucket}.>`,
    `$JS.API.CONSUMER.DELETE.KV_${bucket}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.KV_${bucket}.>`,
    `$JS.FC.KV_${bucket}.>`,
  ]);
  return {
    pub: { allow: ["$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST", `$JS.API.STREAM.INFO.${StreamName.Work}`, `$JS.API.CONSUMER.NAMES.${StreamName.Work}`, `$JS.API.CONSUMER.LIST.${StreamName.Work}`, ...readOnlyApi] },
    sub: { allow: ["user.>", "_INBOX_ops.>"] },
  };
}

/** The operator's inbox prefix (its permissions allow replies there only); no peer prefix can equal it. */
export const OPERATOR_INBOX_PREFIX = "_INBOX_ops";
