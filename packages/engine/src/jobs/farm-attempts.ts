/**
 * Retries of farm tasks ride on JetStream redelivery: a task's message stays unacknowledged
 * until the task is over, and each delivery that runs it makes one attempt, a job of its own
 * (`<task>`, `<task>-a2`, …), recorded `queued` here first and then claimed: the first
 * attempt too (submission writes only the farm job's record). A failed attempt hands the message back (nak), and an attempt
 * whose peer died comes back once its keep-alive stops; the next delivery makes the next
 * attempt, on another peer when one takes it in time.
 */
import { FarmSummarySchema, attemptBudget, isTerminalJobStatus, type FarmTask } from "@blender-fabric/protocol";
import { blocklistedPeers, coversCapabilities, farmAttemptJobId, newFarmAttemptRecord } from "./farm-rules.js";
import type { HeldJob, JobStore } from "./job-store.js";
import { readAttempts, taskEnded } from "./farm-progress.js";

/** Pause before a farm task whose attempt runs on another peer is looked at again. ms */
const HELD_ELSEWHERE_RETRY_MS = 5_000;
/** Pause before a task a peer may not take (blocklisted, lacking a capability) comes again. ms */
const PASSED_ON_RETRY_MS = 1_000;

/** Times a peer hands back a task it failed before it takes it again itself (no one else did). */
const BOUNCES_BEFORE_TAKING_BACK = 3;

export type AttemptDecision =
  /** Run this attempt (its record exists, queued): claim it. */
  | { run: string; attempt: number }
  /** A new attempt, recorded running for the taker already. */
  | { started: HeldJob; attempt: number }
  /** The task is over (completed, or out of attempts): acknowledge the message. */
  | { ended: true }
  /**
   * Not from this message: its farm job is paused, or the task moved to another priority
   * lane. Acknowledge (remove) it; the task's attempt stays as it is, and resuming or the
   * priority change publishes every task that is not running again (farm-control.ts). Never
   * decided for a task whose attempt runs: that message must come back if the attempt fails.
   */
  | { parked: true }
  /** Not now: hand the message back after `delayMs` (another peer holds it, or should try). */
  | { later: number };

/** Who decides: this peer's uuid, boot and the capabilities it offers. */
export type AttemptTaker = { peerUuid: string; incarnation: string; capabilities: readonly string[] };

/** Pause before a task whose new attempt another peer recorded first comes again. ms */
const MADE_ELSEWHERE_RETRY_MS = 1_000;

export async function decideAttempt(
  jobs: JobStore,
  userId: string,
  taker: AttemptTaker,
  task: FarmTask,
  redeliveries: number,
): Promise<AttemptDecision> {
  // A farm job that ended (cancelled, say) makes no more attempts.
  const { peerUuid } = taker;
  // A task needing what this peer lacks is left to a peer that has it.
  if (!coversCapabilities(taker.capabilities, task.capabilities)) return { later: PASSED_ON_RETRY_MS };
  // Read together: a peer waits on this between two tasks.
  const [farm, published] = await Promise.all([
    jobs.get(userId, task.farm_job_id),
    readAttempts(jobs, userId, task.job_id, task.max_attempts, { atOnce: true }),
  ]);
  if (!farm || isTerminalJobStatus(farm.status)) return { ended: true };
  const summary = FarmSummarySchema.safeParse(farm.result);
  // The farm job decides the attempt budget: a requeue raises it past what an older message says.
  const budget = summary.success ? attemptBudget(summary.data) : task.max_attempts;
  const attempts = budget > task.max_attempts && published.length >= task.max_attempts ? await readAttempts(jobs, userId, task.job_id, budget, { atOnce: true }) : published;
  // A peer blocklisted for this job leaves its tasks to the others (the reaper fails the job
  // when no one else is left).
  if (summary.success && blocklistedPeers(summary.data).includes(peerUuid)) return { later: PASSED_ON_RETRY_MS };
  let last = attempts.at(-1);
  if (last && taskEnded(attempts, budget)) return { ended: true };
  if (last?.status === "running" && last.target_uuid === peerUuid) {
    // This peer holds the attempt, yet asks for a task: a peer asks only when idle, and keeps
    // its task's message from coming back while it runs it. So if this very boot holds it
    // (`lose` checks the incarnation), the attempt never reached it (the replica that claimed
    // it for the peer died before answering): it is settled lost, and the task goes on as
    // after any lost attempt.
    const settled = await jobs.lose(userId, last.job_id, taker.incarnation, `the attempt was claimed for ${peerUuid} by a gateway replica that stopped before handing it over; it never ran`);
    if (settled?.status === "lost") {
      last = { job_id: settled.job_id, status: settled.status, target_uuid: settled.target_uuid, error: settled.error };
      attempts[attempts.length - 1] = last;
      if (taskEnded(attempts, budget)) return { ended: true };
    }
  }
  // A peer runs it (and keeps it alive); if that peer died, the reaper settles it lost first.
  if (last?.status === "running") return { later: HELD_ELSEWHERE_RETRY_MS };
  // Only now: a message whose task runs is its runner's, and must come back if that attempt fails.
  if (summary.success && (summary.data.paused || (task.priority !== undefined && task.priority !== summary.data.priority))) return { parked: true };
  if (last?.status === "queued") return { run: last.job_id, attempt: attempts.length };
  // No attempt yet (the first is recorded by the peer that takes the task), or the last one failed.
  const bounces = redeliveries - Math.max(0, attempts.length - 1);
  if (last && last.target_uuid === peerUuid && bounces < BOUNCES_BEFORE_TAKING_BACK) return { later: 500 };
  const attempt = attempts.length + 1;
  const jobId = farmAttemptJobId(task.job_id, attempt);
  const record = newFarmAttemptRecord(userId, task.farm_job_id, jobId);
  // Recorded running for this peer in one write; of two deliveries racing to make the same
  // attempt, the one whose create lands runs it.
  const started = await jobs.startNew(record, { peerUuid, incarnation: taker.incarnation });
  return started ? { started, attempt } : { later: MADE_ELSEWHERE_RETRY_MS };
}
