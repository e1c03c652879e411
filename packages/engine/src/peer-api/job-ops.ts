/**
 * A peer's side of the job lifecycle, fenced: it claims only its tenant's queued jobs for its
 * registered boot, and reports progress and the end only of a job that boot holds. Every
 * check reads the record here; nothing the peer says about a record is taken on trust.
 */
import type { HeldJob } from "../jobs/job-store.js";
import { PeerApiErrorCode, type PeerRequest } from "@blender-fabric/protocol";
import { PeerApiError } from "./errors.js";
import { requireBoot, type PeerApiContext } from "./context.js";
import { checkOwnAcks } from "./work-ops.js";

export async function claim(context: PeerApiContext, request: PeerRequest<"claim">) {
  await requireBoot(context, request.incarnation);
  const outcome = await context.stores.jobs.claim(context.userId, request.job_id, { incarnation: request.incarnation, peerUuid: context.peerUuid });
  if ("refused" in outcome) return { refused: outcome.refused ?? null };
  return { held: outcome };
}

/**
 * The job, if the calling boot holds it (running, claimed by this boot): as this replica last
 * wrote it, or as stored. A remembered record that is stale only makes the write retry.
 */
async function heldByCaller(context: PeerApiContext, jobId: string, incarnation: string): Promise<HeldJob> {
  const { jobs } = context.stores;
  const holds = (entry: HeldJob | undefined) => entry?.record.incarnation === incarnation && entry.record.target_uuid === context.peerUuid;
  const known = await jobs.known(context.userId, jobId);
  if (known && holds(known)) return known;
  // Refused only on the stored record: another replica may have claimed the job since this one wrote it.
  const stored = await jobs.entry(context.userId, jobId);
  if (!stored) throw new PeerApiError(PeerApiErrorCode.NotFound, `no job ${jobId}`);
  if (!holds(stored)) throw new PeerApiError(PeerApiErrorCode.Forbidden, `job ${jobId} is not held by this boot of ${context.peerUuid}`);
  return stored;
}

export async function reportProgress(context: PeerApiContext, request: PeerRequest<"progress">) {
  const held = await heldByCaller(context, request.job_id, request.incarnation);
  await context.stores.jobs.progress(held, request.fraction, request.message);
  return {};
}

/**
 * Ends a job the calling boot holds; `ended: false` once anyone else has settled it. Then
 * lets its work message go (`ack`), which saves the peer a `work_ack`.
 */
export async function finish(context: PeerApiContext, request: PeerRequest<"finish">) {
  const peer = request.ack ? await requireBoot(context, request.incarnation) : undefined;
  if (peer && request.ack) checkOwnAcks(context, peer, [request.ack.ack]);
  const held = await heldByCaller(context, request.job_id, request.incarnation);
  const ended = await context.stores.jobs.finish(held, request.outcome);
  if (request.ack) context.stores.work.acknowledge(request.ack.ack, request.ack.action, request.ack.delay_ms);
  return { ended };
}

/** A job of the peer's own tenant (a farm attempt asks whether its farm job goes on). */
export async function getJob(context: PeerApiContext, request: PeerRequest<"job_get">) {
  return { record: (await context.stores.jobs.get(context.userId, request.job_id)) ?? null };
}

/** A job the peer held queued and was asked to cancel: it will never start. */
export async function cancelQueued(context: PeerApiContext, request: PeerRequest<"cancel_queued">) {
  await requireBoot(context, request.incarnation);
  return { record: (await context.stores.jobs.cancelQueued(context.userId, request.job_id, request.reason)) ?? null };
}
