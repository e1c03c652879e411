/**
 * The jobs this replica claimed for peers lately, with the revision of their last write here.
 * A peer's progress and finish usually reach the replica that claimed the job (always, with
 * one replica), so the compare-and-set starts from what is remembered instead of reading the
 * record first. Nothing a peer sends is remembered: only records this replica read or wrote.
 * A stale entry costs nothing but a retry: the compare-and-set fails and reads afresh.
 */
import type { HeldJob } from "@blender-fabric/bus";

/** Jobs remembered at most (the oldest go first). */
const CAPACITY = 10_000;

export class RecentClaims {
  readonly #held = new Map<string, HeldJob>();

  remember(userId: string, held: HeldJob): void {
    const key = `${userId}\u0000${held.record.job_id}`;
    this.#held.delete(key);
    this.#held.set(key, held);
    if (this.#held.size > CAPACITY) this.#held.delete(this.#held.keys().next().value!);
  }

  /** The remembered record of a job, updated in place by every write made through it. */
  get(userId: string, jobId: string): HeldJob | undefined {
    return this.#held.get(`${userId}\u0000${jobId}`);
  }

  forget(userId: string, jobId: string): void {
    this.#held.delete(`${userId}\u0000${jobId}`);
  }
}
