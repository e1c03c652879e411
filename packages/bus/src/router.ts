/**
 * The router: which subject a routing mode publishes on, who it reaches, and the envelope
 * that travels there (seed 002, DESIGN.md section 3).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  epochSeconds,
  subjectForBroadcast,
  subjectForClient,
  subjectForClientType,
  subjectForGroup,
  type ClientRecord,
  type Envelope,
  type Priority,
  type Routing,
} from "@blender-fabric/protocol";
import { randomUUID } from "node:crypto";

export function subjectForRouting(userId: string, routing: Routing): string {
  switch (routing.type) {
    case "direct":
      return subjectForClient(userId, routing.target_uuid);
    case "group":
      return subjectForGroup(userId, routing.group_id);
    case "type_filter":
      return subjectForClientType(userId, routing.client_type);
    case "broadcast":
      return subjectForBroadcast(userId);
  }
}

/**
 * The uuids a routing mode reaches among a user's registered clients. A direct target is
 * reached even when stale (explicit uuids always are); the other modes skip stale clients,
 * and only broadcast leaves out the sender.
 */
export function selectRecipients(
  routing: Routing,
  clients: readonly ClientRecord[],
  fromUuid: string,
  isStale: (client: ClientRecord) => boolean,
): string[] {
  if (routing.type === "direct") {
    return clients.some((client) => client.uuid === routing.target_uuid) ? [routing.target_uuid] : [];
  }
  const live = clients.filter((client) => !isStale(client));
  const matches = (client: ClientRecord) => {
    if (routing.type === "group") return client.group_id === routing.group_id;
    if (routing.type === "type_filter") return client.client_type === routing.client_type;
    return client.uuid !== fromUuid;
  };
  return live.filter(matches).map((client) => client.uuid).sort();
}

export const newMessageId = () => `m-${randomUUID().replaceAll("-", "").slice(0, 16)}`;

export type EnvelopeFields = {
  userId: string;
  fromUuid: string;
  routing: Routing;
  priority: Priority;
  payload: Record<string, unknown>;
  /** Defaults to the generated message id, as in the seed. */
  jobId?: string;
};

export function createEnvelope(fields: EnvelopeFields): Envelope {
  const messageId = newMessageId();
  return {
    v: 1,
    message_id: messageId,
    job_id: fields.jobId ?? messageId,
    bus_id: fields.userId,
    from_uuid: fields.fromUuid,
    target_uuid: fields.routing.type === "direct" ? fields.routing.target_uuid : null,
    routing: fields.routing,
    priority: fields.priority,
    payload: fields.payload,
    timestamp: epochSeconds(),
  };
}

/** Publishes an envelope on its routing subject and returns that subject. */
export function publishEnvelope(nc: NatsConnection, envelope: Envelope): string {
  const subject = subjectForRouting(envelope.bus_id, envelope.routing);
  nc.publish(subject, JSON.stringify(envelope));
  return subject;
}
