/**
 * A peer's side of the job lifecycle, fenced: it claims only its tenant's queued jobs for its
 * registered boot, and reports progress and the end only of a job that boot holds. Every
 * check reads the record here; nothing the peer says about a record is taken on trust.
 */
import type { HeldJob } from "@blender-fabric/bus";
import { PeerApiErrorCode, type PeerRequest } from "@blender-fabric/protocol";
import { PeerApiError } from "./errors.js";
import { requireBoot, type PeerApiContext } from "./context.js";
import { decideAttempt } from "../farm-attempts.js";

export async function claim(context: PeerApiContext, request: PeerRequest<"claim">) {
  await requireBoot(context, request.incarnation);
  const outcome = await context.stores.jobs.claim(context.userId, request.job_id, { incarnation: request.incarnation, peerUuid: context.peerUuid });
  return "refused" in outcome ? { refused: outcome.refused ?? null } : { held: outcome };
}

/**
 * One delivery of a farm task: decides which attempt it makes (or that it waits, or that the
 * task is over) and claims that attempt for the calling boot, in one call.
 */
export async function claimFarmTask(context: PeerApiContext, request: PeerRequest<"farm_claim">) {
  const record = await requireBoot(context, request.incarnation);
  const taker = { peerUuid: context.peerUuid, capabilities: record.capabilities };
  const decision = await decideAttempt(context.stores.jobs, context.userId, taker, request.task, request.redeliveries);
  if (!("run" in decision)) return decision;
  const outcome = await context.stores.jobs.claim(context.userId, decision.run, { incarnation: request.incarnation, peerUuid: context.peerUuid });
  // Another peer claimed this attempt first: it is theirs; the task comes again later.
  if ("refused" in outcome) return { later: 1_000 };
  return { held: outcome, attempt: decision.attempt };
}

/** The job as stored, if the calling boot holds it (running, claimed by this boot). */
async function heldByCaller(context: PeerApiContext, jobId: string, incarnation: string): Promise<HeldJob> {
  const entry = await context.stores.jobs.entry(context.userId, jobId);
  if (!entry) throw new PeerApiError(PeerApiErrorCode.NotFound, `no job ${jobId}`);
  const { record } = entry;
  if (record.incarnation !== incarnation || record.target_uuid !== context.peerUuid) {
    throw new PeerApiError(PeerApiErrorCode.Forbidden, `job ${jobId} is not held by this boot of ${context.peerUuid}`);
  }
  return entry;
}

export async function reportProgress(context: PeerApiContext, request: PeerRequest<"progress">) {
  const held = await heldByCaller(context, request.job_id, request.incarnation);
  await context.stores.jobs.progress(held, request.fraction, request.message);
  return {};
}

/** Ends a job the calling boot holds; `ended: false` once anyone else has settled it. */
export async function finish(context: PeerApiContext, request: PeerRequest<"finish">) {
  const held = await heldByCaller(context, request.job_id, request.incarnation);
  const ended = await context.stores.jobs.finish(held, request.outcome);
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
