/**
 * Work for a peer: the trusted tier pulls from the peer's consumers on its behalf and hands
 * each message over with its ack subject, which the peer hands back to acknowledge it. An ack
 * subject is accepted only when it names one of the calling peer's own consumers, so no
 * peer can acknowledge (and so delete) another peer's or tenant's work.
 *
 * Round trips and this process's work are what the hop costs, so: a peer's own work goes
 * from JetStream straight to the peer's inbox (this replica forwards the pull only); a farm
 * task comes with its attempt decided and claimed; the end of a job carries its message's
 * ack (job-ops.ts).
 */
import { WorkStream } from "@blender-fabric/bus";
import { FarmTaskSchema, PeerApiErrorCode, isTerminalJobStatus, type ClientRecord, type PeerDelivery, type PeerRequest } from "@blender-fabric/protocol";
import type { JsMsg } from "@nats-io/jetstream";
import type { Msg } from "@nats-io/transport-node";
import { PeerApiError } from "./errors.js";
import { lanesOf, requireBoot, type PeerApiContext } from "./context.js";
import { decideAttempt } from "../jobs/farm-attempts.js";

/** What a handler returns when someone else answers the request (JetStream, for work_next). */
export const NO_ANSWER = Symbol("no answer");
/** Pause before a farm task whose attempt another peer claimed first comes again. ms */
const CLAIMED_ELSEWHERE_RETRY_MS = 1_000;

/** The subject a message is acknowledged on (nats.js keeps the raw message on its JsMsg). */
const ackSubjectOf = (message: JsMsg) => (message as unknown as { msg?: Msg }).msg?.reply;

function toDelivery(message: JsMsg): PeerDelivery | undefined {
  const ack = ackSubjectOf(message);
  if (!ack) return undefined;
  let envelope: unknown;
  try {
    envelope = message.json();
  } catch {
    envelope = undefined; // not JSON: the peer drops it like any malformed work
  }
  return { envelope, ack, redeliveries: message.info.deliveryCount - 1 };
}

/** The payload of a delivered envelope, if it is one. */
const payloadOf = (delivery: PeerDelivery): unknown =>
  typeof delivery.envelope === "object" && delivery.envelope !== null ? (delivery.envelope as { payload?: unknown }).payload : undefined;

/** Throws unless every ack subject names one of the peer's own consumers. */
export function checkOwnAcks(context: PeerApiContext, record: ClientRecord, acks: readonly string[]): void {
  const own = WorkStream.consumerNamesOf(context.userId, lanesOf(record));
  for (const ack of acks) {
    const consumer = WorkStream.consumerOfAck(ack);
    if (!consumer || !own.has(consumer)) throw new PeerApiError(PeerApiErrorCode.Forbidden, "an ack subject names work that is not this peer's");
  }
}

/** A new boot: its own and its project's consumers start afresh; its farm lanes exist. */
export async function openWork(context: PeerApiContext, request: PeerRequest<"work_open">) {
  const record = await requireBoot(context, request.incarnation);
  await context.stores.work.openPeerLanes(context.userId, lanesOf(record));
  return {};
}

/**
 * The next messages of the peer's own (or project's) work. This replica only forwards the pull:
 * JetStream answers the requester's inbox itself (checked by the server before any handler
 * runs), with the message or with a status, so the answer is not this handler's.
 */
export async function nextWork(context: PeerApiContext, request: PeerRequest<"work_next">, reply: string): Promise<typeof NO_ANSWER> {
  const record = await requireBoot(context, request.incarnation);
  if (request.lane === "project" && !record.project_id) throw new PeerApiError(PeerApiErrorCode.Invalid, "this peer serves no project");
  const lanes = lanesOf(record);
  if (request.renew) {
    for (const name of WorkStream.consumerNamesOf(context.userId, lanes)) context.stores.work.forgetConsumer(name);
  }
  await context.stores.work.pullOwnFor(context.userId, lanes, request.lane, request.wait_ms, reply, request.batch);
  return NO_ANSWER;
}

/**
 * The next farm task for an idle peer, with its attempt decided and claimed for the calling
 * boot. A task this peer should not run now is handed back here (`later`: when to ask again),
 * and a task that is over is let go, so the peer only ever gets an attempt to run.
 */
export async function nextFarmTask(context: PeerApiContext, request: PeerRequest<"farm_next">) {
  const record = await requireBoot(context, request.incarnation);
  const { work, jobs } = context.stores;
  const sources = { groupId: record.group_id, userPool: record.farm_worker ?? false };
  const message = await work.nextFarmTask(context.userId, sources, request.wait_ms);
  const delivery = message ? toDelivery(message) : undefined;
  if (!message || !delivery) return { deliveries: [] };
  const task = FarmTaskSchema.safeParse(payloadOf(delivery));
  if (!task.success) return { deliveries: [delivery] }; // malformed: the peer drops it
  const taker = { peerUuid: context.peerUuid, incarnation: request.incarnation, capabilities: record.capabilities };
  const decision = await decideAttempt(jobs, context.userId, taker, task.data, delivery.redeliveries);
  if ("ended" in decision || "parked" in decision) {
    work.acknowledge(delivery.ack, "ack");
    return { deliveries: [] };
  }
  if ("later" in decision) {
    work.acknowledge(delivery.ack, "nak", decision.later);
    return { deliveries: [], later: decision.later };
  }
  const claimed = "started" in decision ? decision.started : await jobs.claim(context.userId, decision.run, { incarnation: request.incarnation, peerUuid: context.peerUuid });
  if ("refused" in claimed) {
    // Another peer claimed this attempt first: it is theirs; the task comes again later.
    work.acknowledge(delivery.ack, "nak", CLAIMED_ELSEWHERE_RETRY_MS);
    return { deliveries: [], later: CLAIMED_ELSEWHERE_RETRY_MS };
  }
  // Read after the claim: a farm job cancelled before it never sees this attempt run (its
  // cancel ends the farm job first, then its attempts; this attempt may have been made between).
  const farm = await jobs.get(context.userId, task.data.farm_job_id);
  if (!farm || isTerminalJobStatus(farm.status)) {
    await jobs.finish(claimed, { status: "cancelled", error: "its farm job ended before this attempt started" });
    work.acknowledge(delivery.ack, "ack");
    return { deliveries: [] };
  }
  return { deliveries: [{ ...delivery, attempt: { held: claimed, attempt: decision.attempt } }] };
}

export async function acknowledgeWork(context: PeerApiContext, request: PeerRequest<"work_ack">) {
  const record = await requireBoot(context, request.incarnation);
  checkOwnAcks(context, record, request.acks.map(({ ack }) => ack));
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
