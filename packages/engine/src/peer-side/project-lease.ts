/**
 * A project has one Blender at a time. The peer that serves a project holds its lease in KV
 * `fabric_projects` (`<u>.<project_id>`) from before it opens the project's scene until after
 * it has saved the scene back, so a second peer of the project (a second pool, a Knative pod
 * starting while the last one still drains) waits instead of opening a stale scene and later
 * saving over newer work.
 *
 * The holder renews the lease from the moment it has it, a compare-and-set on its revision;
 * a leaving holder deletes it. A waiter takes the lease over when the trusted tier finds no
 * one listening on the holder's inbox any more (its connection is gone: a killed bridge is
 * replaced in a moment), or when the lease's revision has not moved for `staleAfterMs` on the
 * waiter's own clock (a holder that hangs): no two hosts' clocks are compared, and a holder
 * still starting up is never mistaken for a gone one. A holder
 * whose lease now names another peer has lost its project and must stop without saving.
 *
 * The peer asks the trusted tier for each key operation (lease-ops.ts), which writes only
 * leases that name the calling peer and boot.
 */
import { z } from "zod";
import type { PeerApiClient } from "./peer-api-client.js";

const LeaseSchema = z.object({ holder_uuid: z.string(), incarnation: z.string(), inbox: z.string().optional() });
export type ProjectLeaseRecord = z.infer<typeof LeaseSchema>;

export type LeaseHolder = { uuid: string; incarnation: string };

/** How often a waiting peer looks at the lease again. ms */
const WAIT_STEP_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lease key as the peer API shows it: its revision and value (null when deleted), or null when never taken. */
type LeaseEntry = { revision: number; value: unknown } | null;

/** A read of the lease, and whether its holder's connection is gone (lease-ops.ts). */
type LeaseRead = { entry: LeaseEntry; holderGone: boolean };

/** The four key operations of a project's lease, through the peer API. */
class LeaseKey {
  readonly #api: PeerApiClient;
  readonly #projectId: string;

  constructor(api: PeerApiClient, projectId: string) {
    this.#api = api;
    this.#projectId = projectId;
  }

  async get(): Promise<LeaseRead> {
    const answer = await this.#api.call("lease", { project_id: this.#projectId, action: "get" });
    return { entry: (answer.entry ?? null) as LeaseEntry, holderGone: answer.holder_gone === true };
  }

  async create(): Promise<number> {
    return (await this.#api.call("lease", { project_id: this.#projectId, action: "create" })).revision as number;
  }

  async update(revision: number): Promise<number> {
    return (await this.#api.call("lease", { project_id: this.#projectId, action: "update", revision })).revision as number;
  }

  async delete(revision: number): Promise<void> {
    await this.#api.call("lease", { project_id: this.#projectId, action: "delete", revision });
  }
}

export class ProjectLease {
  readonly #key: LeaseKey;
  readonly #incarnation: string;
  #revision: number;
  #renewing: Promise<boolean> | undefined;

  private constructor(key: LeaseKey, incarnation: string, revision: number) {
    this.#key = key;
    this.#incarnation = incarnation;
    this.#revision = revision;
  }

  /**
   * Waits until this peer (the client's peer and boot) holds the project's lease. `onWait`
   * hears who holds it, once per holder. Errors while waiting are waited out like a held lease.
   */
  static async acquire(
    api: PeerApiClient,
    projectId: string,
    options: { staleAfterMs: number; onWait?: (record: ProjectLeaseRecord) => void },
  ): Promise<ProjectLease> {
    const key = new LeaseKey(api, projectId);
    let seen: { revision: number; since: number } | undefined;
    for (;;) {
      try {
        const { entry, holderGone } = await key.get();
        const held = entry?.value ? LeaseSchema.safeParse(entry.value) : undefined;
        if (!entry || !held) {
          // Free (never taken, or released): create it, or take the tombstone's place.
          const revision = entry ? await key.update(entry.revision) : await key.create();
          return new ProjectLease(key, api.incarnation, revision);
        }
        if (held.success && held.data.incarnation === api.incarnation) return new ProjectLease(key, api.incarnation, entry.revision);
        if (holderGone) return new ProjectLease(key, api.incarnation, await key.update(entry.revision));
        if (seen?.revision !== entry.revision) {
          seen = { revision: entry.revision, since: Date.now() };
          if (held.success) options.onWait?.(held.data);
        } else if (Date.now() - seen.since > options.staleAfterMs) {
          return new ProjectLease(key, api.incarnation, await key.update(entry.revision));
        }
      } catch {
        // Someone else moved first (create or compare-and-set refused), or the fabric is away: look again.
      }
      await sleep(WAIT_STEP_MS);
    }
  }

  /**
   * Renews the lease. False only when the lease now names another peer, or is gone: this
   * peer lost its project. A renewal whose answer was lost, or a read of a lagging replica,
   * is settled by who the lease names, not by its revision. Throws while the fabric is
   * unavailable. Renewals never overlap.
   */
  renew(): Promise<boolean> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(): Promise<boolean> {
    try {
      this.#revision = await this.#key.update(this.#revision);
      return true;
    } catch {
      const { entry } = await this.#key.get();
      if (!entry?.value) return false;
      const held = LeaseSchema.safeParse(entry.value);
      if (!held.success || held.data.incarnation !== this.#incarnation) return false;
      this.#revision = entry.revision; // still ours: go on from what is stored
      return true;
    }
  }

  /** Gives the project up (after its scene is saved); a lease taken meanwhile stays its taker's. */
  async release(): Promise<void> {
    await this.#key.delete(this.#revision).catch(() => {});
  }
}
