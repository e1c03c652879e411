/**
 * The unfinished jobs this process wrote lately, with the revision of its last write. A
 * compare-and-set on such a job starts from what was written instead of reading the record
 * first: the gateway that queued a job usually serves its claim (always, with one replica),
 * and the replica that served the claim usually serves its finish. Only this process's own
 * writes are remembered, never what a peer says. A stale entry costs a retry: the write is
 * refused on the revision and the record is read afresh.
 */
import type { JobRecord } from "@blender-fabric/protocol";

/** Jobs remembered at most; the oldest go first. */
const CAPACITY = 10_000;

type Written = { record: JobRecord; revision: number };

export class RecentJobWrites {
  readonly #byKey = new Map<string, Written>();

  remember(key: string, record: JobRecord, revision: number): void {
    this.#byKey.delete(key);
    this.#byKey.set(key, { record, revision });
    if (this.#byKey.size > CAPACITY) this.#byKey.delete(this.#byKey.keys().next().value!);
  }

  /** A copy: the caller may change it without touching what is remembered. */
  get(key: string): Written | undefined {
    const written = this.#byKey.get(key);
    return written && { record: written.record, revision: written.revision };
  }

  forget(key: string): void {
    this.#byKey.delete(key);
  }
}
