/**
 * Work for a peer: the trusted tier pulls from the peer's consumers on its behalf and hands
 * each message over with its ack subject, which the peer hands back to acknowledge it. An ack
 * subject is accepted only when it names one of the calling peer's own consumers, so no
 * peer can acknowledge (and so delete) another peer's or tenant's work.
 */
import { WorkStream } from "@blender-fabric/bus";
import { PeerApiErrorCode, type PeerDelivery, type PeerRequest } from "@blender-fabric/protocol";
import type { JsMsg } from "@nats-io/jetstream";
import type { Msg } from "@nats-io/transport-node";
import { PeerApiError } from "./errors.js";
import { lanesOf, requireBoot, type PeerApiContext } from "./context.js";

/** The subject a message is acknowledged on (nats.js keeps the raw message on its JsMsg). */
const ackSubjectOf = (message: JsMsg) => (message as unknown as { msg?: Msg }).msg?.reply;

function toDelivery(message: JsMsg | null): PeerDelivery | null {
  const ack = message ? ackSubjectOf(message) : undefined;
  if (!message || !ack) return null;
  let envelope: unknown;
  try {
    envelope = message.json();
  } catch {
    envelope = undefined; // not JSON: the peer drops it like any malformed work
  }
  return { envelope, ack, redeliveries: message.info.deliveryCount - 1 };
}

/** A new boot: its own and its project's consumers start afresh; its farm lanes exist. */
export async function openWork(context: PeerApiContext, request: PeerRequest<"work_open">) {
  const record = await requireBoot(context, request.incarnation);
  await context.stores.work.openPeerLanes(context.userId, lanesOf(record));
  return {};
}

export async function nextWork(context: PeerApiContext, request: PeerRequest<"work_next">) {
  const record = await requireBoot(context, request.incarnation);
  if (request.lane === "project" && !record.project_id) throw new PeerApiError(PeerApiErrorCode.Invalid, "this peer serves no project");
  const message = await context.stores.work.nextOwn(context.userId, lanesOf(record), request.lane, request.wait_ms);
  return { delivery: toDelivery(message) };
}

export async function nextFarmTask(context: PeerApiContext, request: PeerRequest<"farm_next">) {
  const record = await requireBoot(context, request.incarnation);
  const sources = { groupId: record.group_id, userPool: record.farm_worker ?? false };
  const message = await context.stores.work.nextFarmTask(context.userId, sources, request.wait_ms);
  return { delivery: toDelivery(message) };
}

export async function acknowledgeWork(context: PeerApiContext, request: PeerRequest<"work_ack">) {
  const record = await requireBoot(context, request.incarnation);
  const own = WorkStream.consumerNamesOf(context.userId, lanesOf(record));
  for (const { ack } of request.acks) {
    const consumer = WorkStream.consumerOfAck(ack);
    if (!consumer || !own.has(consumer)) throw new PeerApiError(PeerApiErrorCode.Forbidden, "an ack subject names work that is not this peer's");
  }
  for (const { ack, action, delay_ms } of request.acks) context.stores.work.acknowledge(ack, action, delay_ms);
  return {};
}

/**
 * A project's peer leaving: the project's consumer goes, so whatever its last pull held is
 * redelivered at once to the project's next peer.
 */
export async function dropProjectWork(context: PeerApiContext, request: PeerRequest<"drop_project_work">) {
  const record = await requireBoot(context, request.incarnation);
  await context.stores.work.removeOwnConsumer(context.userId, lanesOf(record), "project");
  return {};
}
