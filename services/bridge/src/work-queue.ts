/**
 * Blender runs one command at a time, so a peer queues its work: most urgent priority first
 * (seed priority levels), then arrival order.
 */
import { PRIORITIES, type Priority } from "@blender-fabric/protocol";

export type QueuedWork<T> = { jobId: string; priority: Priority; item: T };

export class WorkQueue<T> {
  #entries: (QueuedWork<T> & { arrival: number })[] = [];
  #arrivals = 0;

  get size(): number {
    return this.#entries.length;
  }

  push(work: QueuedWork<T>): void {
    const entry = { ...work, arrival: (this.#arrivals += 1) };
    const rank = PRIORITIES.indexOf(work.priority);
    const index = this.#entries.findIndex((other) => PRIORITIES.indexOf(other.priority) > rank);
    if (index < 0) this.#entries.push(entry);
    else this.#entries.splice(index, 0, entry);
  }

  shift(): QueuedWork<T> | undefined {
    return this.#entries.shift();
  }

  has(jobId: string): boolean {
    return this.#entries.some((entry) => entry.jobId === jobId);
  }

  /** Removes a queued job and returns it; undefined when it was not there. */
  remove(jobId: string): QueuedWork<T> | undefined {
    const index = this.#entries.findIndex((entry) => entry.jobId === jobId);
    return index < 0 ? undefined : this.#entries.splice(index, 1)[0];
  }
}
