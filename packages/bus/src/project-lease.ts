/**
 * A project has one Blender at a time. The peer that serves a project holds its lease in KV
 * `fabric_projects` (`<u>.<project_id>`) from before it opens the project's scene until after
 * it has saved the scene back, so a second peer of the project (a second pool, a Knative pod
 * starting while the last one still drains) waits instead of opening a stale scene and later
 * saving over newer work.
 *
 * The holder renews the lease with each heartbeat, a compare-and-set on its revision. A
 * waiter takes the lease over when the holder has left the registry (or is a later boot of
 * its uuid), or when the lease's revision has not moved for `staleAfterMs` on the waiter's
 * own clock: no two hosts' clocks are compared. A holder whose renewal finds the lease taken
 * has lost its project and must stop without saving.
 */
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { epochSeconds, keyForClient, keyForProject } from "@blender-fabric/protocol";
import { parseJsonSafely } from "./safe-json.js";

const LeaseSchema = z.object({ holder_uuid: z.string(), incarnation: z.string(), acquired_at: z.number() });
export type ProjectLeaseRecord = z.infer<typeof LeaseSchema>;

export type LeaseHolder = { uuid: string; incarnation: string };

/** How often a waiting peer looks at the lease again. ms */
const WAIT_STEP_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ProjectLease {
  readonly #kv: KV;
  readonly #key: string;
  #revision: number;

  private constructor(kv: KV, key: string, revision: number) {
    this.#kv = kv;
    this.#key = key;
    this.#revision = revision;
  }

  /**
   * Waits until this peer holds the project's lease. `holderGone` says whether the peer
   * named in a lease has left (e.g. its registry record is gone); `onWait` hears who holds
   * it, once per holder.
   */
  static async acquire(
    kv: KV,
    userId: string,
    projectId: string,
    me: LeaseHolder,
    options: { staleAfterMs: number; holderGone: (record: ProjectLeaseRecord) => Promise<boolean>; onWait?: (record: ProjectLeaseRecord) => void },
  ): Promise<ProjectLease> {
    const key = keyForProject(userId, projectId);
    const mine = JSON.stringify({ holder_uuid: me.uuid, incarnation: me.incarnation, acquired_at: epochSeconds() });
    let seen: { revision: number; since: number } | undefined;
    for (;;) {
      const entry = await kv.get(key);
      const held = entry && entry.operation === "PUT" ? LeaseSchema.safeParse(parseJsonSafely(entry)) : undefined;
      try {
        if (!entry || !held) {
          // Free (never taken, released, or unreadable): create it, or take the tombstone's place.
          const revision = entry ? await kv.update(key, mine, entry.revision) : await kv.create(key, mine);
          return new ProjectLease(kv, key, revision);
        }
        if (held.success && held.data.incarnation === me.incarnation) return new ProjectLease(kv, key, entry.revision);
        if (seen?.revision !== entry.revision) {
          seen = { revision: entry.revision, since: Date.now() };
          if (held.success) options.onWait?.(held.data);
        }
        const silent = Date.now() - seen.since > options.staleAfterMs;
        if (silent || !held.success || (await options.holderGone(held.data))) {
          return new ProjectLease(kv, key, await kv.update(key, mine, entry.revision));
        }
      } catch {
        // Someone else moved first (create or compare-and-set refused): look again.
      }
      await sleep(WAIT_STEP_MS);
    }
  }

  /** Renews the lease; false when another peer has taken it (this peer lost its project). */
  async renew(): Promise<boolean> {
    const entry = await this.#kv.get(this.#key);
    if (!entry || entry.revision !== this.#revision || entry.operation !== "PUT") return false;
    try {
      this.#revision = await this.#kv.update(this.#key, entry.string(), this.#revision);
      return true;
    } catch {
      return false;
    }
  }

  /** Gives the project up (after its scene is saved); a lease taken meanwhile stays its taker's. */
  async release(): Promise<void> {
    await this.#kv.delete(this.#key, { previousSeq: this.#revision }).catch(() => {});
  }
}

/**
 * A lease's holder is gone when the registry no longer has it, or has a later boot of its
 * uuid: it left the bus (after saving) or was replaced, so its lease is free to take.
 */
export function holderLeftRegistry(clients: KV, userId: string): (record: ProjectLeaseRecord) => Promise<boolean> {
  return async (record) => {
    const entry = await clients.get(keyForClient(userId, record.holder_uuid));
    if (!entry || entry.operation !== "PUT") return true;
    const client = parseJsonSafely(entry) as { incarnation?: string } | undefined;
    return client?.incarnation !== undefined && client.incarnation !== record.incarnation;
  };
}
