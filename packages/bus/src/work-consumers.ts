/**
 * Which consumers of the work stream a peer has, and how each is configured: its own, its
 * project's, and the farm lanes of its group and pool. Consumer names are digests and every
 * pull and every end of a job asks for them, so the answers are remembered per peer.
 */
import { nanos } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { consumerForPeer, consumerForProject, farmLanes, subjectForPeerWork, subjectForProjectWork } from "@blender-fabric/protocol";
import { RECORD_RETENTION_MS } from "./buckets.js";

/** Unacknowledged work is delivered again after this long without an in-progress ack. ms */
const ACK_WAIT_MS = 30_000;
/** Most messages held unacknowledged through one consumer (a peer's queue; a group's peers). */
const MAX_HELD_PER_CONSUMER = 1_000;
/** Peers whose consumers are remembered, at most; the oldest go first. */
const REMEMBERED_PEERS = 10_000;

/** What decides a peer's consumers: who it is, and which project, group and pool it serves. */
export type PeerLanes = { peerUuid: string; projectId: string | null; groupId: string | null; farmWorker: boolean };

/** `cache`'s value for `key`, built once; the cache keeps the newest REMEMBERED_PEERS. */
function remembered<V>(cache: Map<string, V>, key: unknown[], build: () => V): V {
  const text = JSON.stringify(key);
  let value = cache.get(text);
  if (value === undefined) {
    value = build();
    cache.set(text, value);
    if (cache.size > REMEMBERED_PEERS) cache.delete(cache.keys().next().value!);
  }
  return value;
}

type OwnLaneConfig = ReturnType<typeof buildOwnLaneConfigs>[number];
const ownLaneConfigsByPeer = new Map<string, OwnLaneConfig[]>();
const consumerNamesByPeer = new Map<string, ReadonlySet<string>>();

/** A peer's own consumer and its project's: a new boot of the peer makes them afresh. */
export function ownLaneConfigs(userId: string, peer: PeerLanes): OwnLaneConfig[] {
  return remembered(ownLaneConfigsByPeer, [userId, peer.peerUuid, peer.projectId], () => buildOwnLaneConfigs(userId, peer));
}

function buildOwnLaneConfigs(userId: string, peer: PeerLanes) {
  return [
    { lane: "peer" as const, ...consumerConfig(consumerForPeer(userId, peer.peerUuid), subjectForPeerWork(userId, peer.peerUuid), `work for peer ${peer.peerUuid} of user ${userId}`) },
    ...(peer.projectId
      ? [{ lane: "project" as const, ...consumerConfig(consumerForProject(userId, peer.projectId), subjectForProjectWork(userId, peer.projectId), `work for project ${peer.projectId} of user ${userId}`) }]
      : []),
  ];
}

/** The consumers a peer may be handed work from, by name. */
export function consumerNamesOf(userId: string, peer: PeerLanes): ReadonlySet<string> {
  return remembered(consumerNamesByPeer, [userId, peer.peerUuid, peer.projectId, peer.groupId, peer.farmWorker], () => new Set([
    ...ownLaneConfigs(userId, peer).map((config) => config.durable_name),
    ...farmLanes(userId, { groupId: peer.groupId, userPool: peer.farmWorker }).map((lane) => lane.name),
  ]));
}

/**
 * The shared consumers of a group's or farm pool's tasks. They are never removed for being
 * idle: a group at zero peers still has its consumers, whose pending count is what scales it
 * up again (a missing consumer would read to KEDA as the whole stream pending).
 */
export function farmLaneConfigs(userId: string, sources: { groupId: string | null; userPool: boolean }) {
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
