/**
 * What the pool starts a peer for, and the bus identity it gives it. Peers for demand are
 * named after what they serve plus a random suffix (a new boot never reuses a departed
 * peer's uuid, whose stale record may linger); warm peers have fixed names.
 */
import { randomBytes } from "node:crypto";
import { demandKey, type WorkDemand } from "@blender-fabric/bus";

export type PeerSpec = {
  userId: string;
  uuid: string;
  /** The demand it serves (work-demand.ts demandKey), or `warm:<n>`. */
  purpose: string;
  groupId?: string;
  projectId?: string;
  /** Exits after this long with nothing to do; 0 (a warm peer): never. Seconds. */
  idleSeconds: number;
};

const suffix = () => randomBytes(3).toString("hex");

/**
 * A project or group id as part of a uuid, which also names the peer's log and credential
 * files: only `[A-Za-z0-9_-]`, at most 40 characters (ids come from subjects any tenant may
 * publish on, so `/` or `..` must never reach a path). The random suffix keeps it unique.
 */
const slug = (id: string) => id.replace(/[^A-Za-z0-9_-]/gu, "-").slice(0, 40);

export function specForDemand(demand: WorkDemand, idleSeconds: number): PeerSpec {
  const purpose = demandKey(demand);
  if (demand.kind === "project") {
    return { userId: demand.userId, uuid: `blender-${slug(demand.projectId)}-${suffix()}`, purpose, projectId: demand.projectId, idleSeconds };
  }
  if (demand.kind === "group") {
    return { userId: demand.userId, uuid: `blender-${slug(demand.groupId)}-${suffix()}`, purpose, groupId: demand.groupId, idleSeconds };
  }
  return { userId: demand.userId, uuid: `blender-farm-${suffix()}`, purpose, idleSeconds };
}

export function warmSpec(userId: string, prefix: string, index: number): PeerSpec {
  return { userId, uuid: `${prefix}-${index}`, purpose: `warm:${index}`, idleSeconds: 0 };
}
