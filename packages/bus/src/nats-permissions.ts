/**
 * What each kind of NATS user of the fabric may do (DESIGN.md section 9), as the subjects
 * nats-server 2.9 checks. A gateway is the trusted tier and may do everything; a peer (a
 * bridge) may touch only its tenant's subjects, keys, work and files; an operator may watch.
 *
 * nats-server 2.9 checks permissions on subjects only, so every operation a peer needs is
 * named by a subject that carries its tenant:
 * - core traffic, the work it adopts and job events are under `user.<u>.>`;
 * - its KV records are `$KV.<bucket>.<u>.<id>`, read by direct get, whose subject carries the
 *   key (`$JS.API.DIRECT.GET.<stream>.<key subject>`, the form nats.js uses);
 * - its consumers on FABRIC_WORK are created with the consumer name and filter in the subject
 *   (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`, 2.9's API) and are named by digests
 *   of (tenant, peer/group, priority), so the credential names exactly its own consumers;
 * - Object Store chunks (`$O.<bucket>.C.<nuid>`) carry no tenant, so each tenant has its own
 *   buckets (tenant-object-stores.ts) and the peer may use only those;
 * - replies to its requests come to its own inbox prefix `_INBOX_<u>`, which no other tenant
 *   may subscribe to.
 */
import {
  BucketName,
  StreamName,
  consumerForPeer,
  consumerForProject,
  encodeToken,
  farmLanes,
  objectStoreForUser,
  subjectForPeerWork,
  subjectForProjectWork,
} from "@blender-fabric/protocol";

export type NatsPermissions = { pub: { allow: string[] }; sub: { allow: string[] }; resp?: { max: number; ttl: number } };

/** The inbox prefix of a tenant's peers: replies to their requests come only there. */
export const inboxPrefixForUser = (userId: string) => `_INBOX_${encodeToken(userId)}`;

export type PeerIdentity = {
  userId: string;
  clientUuid: string;
  /** Its farm group, if any. */
  groupId?: string | null;
  /** Whether it takes the tenant's farm pool. */
  farmWorker?: boolean;
  /** The project it serves, if any. */
  projectId?: string | null;
};

/**
 * The consumers of FABRIC_WORK a peer uses, with the filter each is created with. `owned`:
 * its own and its project's, which a new boot deletes and creates afresh; the farm's are shared.
 */
function peerConsumers({ userId, clientUuid, groupId, farmWorker, projectId }: PeerIdentity): { name: string; filter: string; owned: boolean }[] {
  return [
    { name: consumerForPeer(userId, clientUuid), filter: subjectForPeerWork(userId, clientUuid), owned: true },
    ...(projectId ? [{ name: consumerForProject(userId, projectId), filter: subjectForProjectWork(userId, projectId), owned: true }] : []),
    ...farmLanes(userId, { groupId: groupId ?? null, userPool: farmWorker ?? false }).map((lane) => ({ ...lane, owned: false })),
  ];
}

const kvKeys = (bucket: string, userId: string) => `$KV.${bucket}.${encodeToken(userId)}.>`;

/** Everything a peer of one tenant needs, and nothing of any other tenant. */
export function peerPermissions(peer: PeerIdentity): NatsPermissions {
  const { userId } = peer;
  const work = StreamName.Work;
  // Each verb spelled out: `$JS.API.CONSUMER.*.<stream>.<name>` would also match a create
  // without the filter in the subject, whose body could then name another tenant's work.
  const consumers = peerConsumers(peer).flatMap(({ name, filter, owned }) => [
    `$JS.API.CONSUMER.CREATE.${work}.${name}.${filter}`,
    `$JS.API.CONSUMER.INFO.${work}.${name}`,
    `$JS.API.CONSUMER.MSG.NEXT.${work}.${name}`,
    `$JS.ACK.${work}.${name}.>`,
    // Only its own consumers are the peer's to delete; the shared ones are not.
    ...(owned ? [`$JS.API.CONSUMER.DELETE.${work}.${name}`] : []),
  ]);
  const records = [BucketName.Clients, BucketName.Jobs, BucketName.Projects].flatMap((bucket) => [
    kvKeys(bucket, userId),
    `$JS.API.STREAM.INFO.KV_${bucket}`,
    `$JS.API.DIRECT.GET.KV_${bucket}.${kvKeys(bucket, userId)}`,
  ]);
  const files = [BucketName.Artifacts, BucketName.Blends].flatMap((base) => {
    const bucket = objectStoreForUser(base, userId);
    const stream = `OBJ_${bucket}`;
    return [
      `$O.${bucket}.>`,
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.CREATE.${stream}`,
      `$JS.API.STREAM.PURGE.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}.>`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.>`,
      `$JS.API.CONSUMER.DELETE.${stream}.>`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
      `$JS.FC.${stream}.>`,
      `$JS.ACK.${stream}.>`,
    ];
  });
  return {
    pub: {
      allow: [
        `user.${encodeToken(userId)}.>`,
        "$JS.API.INFO",
        `$JS.API.STREAM.INFO.${work}`,
        ...records,
        ...consumers,
        ...files,
      ],
    },
    sub: { allow: [`user.${encodeToken(userId)}.>`, `${inboxPrefixForUser(userId)}.>`] },
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

/** The operator's inbox prefix (its permissions allow replies there only). */
export const OPERATOR_INBOX_PREFIX = "_INBOX_ops";
