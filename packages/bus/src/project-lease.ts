/**
 * A project has one Blender at a time. The peer that serves a project holds its lease in KV
 * `fabric_projects` (`<u>.<project_id>`) from before it opens the project's scene until after
 * it has saved the scene back, so a second peer of the project (a second pool, a Knative pod
 * starting while the last one still drains) waits instead of opening a stale scene and later
 * saving over newer work.
 *
 * The holder renews the lease from the moment it has it, a compare-and-set on its revision;
 * a leaving holder deletes it. A waiter takes the lease over only when its revision has not
 * moved for `staleAfterMs` on the waiter's own clock (the holder died): no two hosts' clocks
 * are compared, and a holder still starting up is never mistaken for a gone one. A holder
 * whose lease now names another peer has lost its project and must stop without saving.
 */
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { keyForProject } from "@blender-fabric/protocol";
import { parseJsonSafely } from "./safe-json.js";

const LeaseSchema = z.object({ holder_uuid: z.string(), incarnation: z.string() });
export type ProjectLeaseRecord = z.infer<typeof LeaseSchema>;

export type LeaseHolder = { uuid: string; incarnation: string };

/** How often a waiting peer looks at the lease again. ms */
const WAIT_STEP_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the lease holds for a holder. */
const leaseValue = (holder: LeaseHolder) => JSON.stringify({ holder_uuid: holder.uuid, incarnation: holder.incarnation });

export class ProjectLease {
  readonly #kv: KV;
  readonly #key: string;
  readonly #value: string;
  readonly #incarnation: string;
  #revision: number;
  #renewing: Promise<boolean> | undefined;

  private constructor(kv: KV, key: string, holder: LeaseHolder, revision: number) {
    this.#kv = kv;
    this.#key = key;
    this.#value = leaseValue(holder);
    this.#incarnation = holder.incarnation;
    this.#revision = revision;
  }

  /**
   * Waits until this peer holds the project's lease. `onWait` hears who holds it, once per
   * holder. KV errors while waiting are waited out like a held lease.
   */
  static async acquire(
    kv: KV,
    userId: string,
    projectId: string,
    me: LeaseHolder,
    options: { staleAfterMs: number; onWait?: (record: ProjectLeaseRecord) => void },
  ): Promise<ProjectLease> {
    const key = keyForProject(userId, projectId);
    const mine = leaseValue(me);
    let seen: { revision: number; since: number } | undefined;
    for (;;) {
      try {
        const entry = await kv.get(key);
        const held = entry?.operation === "PUT" ? LeaseSchema.safeParse(parseJsonSafely(entry)) : undefined;
        if (!entry || !held) {
          // Free (never taken, or released): create it, or take the tombstone's place.
          const revision = entry ? await kv.update(key, mine, entry.revision) : await kv.create(key, mine);
          return new ProjectLease(kv, key, me, revision);
        }
        if (held.success && held.data.incarnation === me.incarnation) return new ProjectLease(kv, key, me, entry.revision);
        if (seen?.revision !== entry.revision) {
          seen = { revision: entry.revision, since: Date.now() };
          if (held.success) options.onWait?.(held.data);
        } else if (Date.now() - seen.since > options.staleAfterMs) {
          return new ProjectLease(kv, key, me, await kv.update(key, mine, entry.revision));
        }
      } catch {
        // Someone else moved first (create or compare-and-set refused), or KV is away: look again.
      }
      await sleep(WAIT_STEP_MS);
    }
  }

  /**
   * Renews the lease. False only when the lease now names another peer, or is gone: this
   * peer lost its project. A renewal whose answer was lost, or a read of a lagging replica,
   * is settled by who the lease names, not by its revision. Throws while KV is unavailable.
   * Renewals never overlap.
   */
  renew(): Promise<boolean> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(): Promise<boolean> {
    try {
      this.#revision = await this.#kv.update(this.#key, this.#value, this.#revision);
      return true;
    } catch {
      const entry = await this.#kv.get(this.#key);
      if (entry?.operation !== "PUT") return false;
      const held = LeaseSchema.safeParse(parseJsonSafely(entry));
      if (!held.success || held.data.incarnation !== this.#incarnation) return false;
      this.#revision = entry.revision; // still ours: go on from what is stored
      return true;
    }
  }

  /** Gives the project up (after its scene is saved); a lease taken meanwhile stays its taker's. */
  async release(): Promise<void> {
    await this.#kv.delete(this.#key, { previousSeq: this.#revision }).catch(() => {});
  }
}
