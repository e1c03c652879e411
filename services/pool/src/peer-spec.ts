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

export function specForDemand(demand: WorkDemand, idleSeconds: number): PeerSpec {
  const purpose = demandKey(demand);
  if (demand.kind === "project") {
    return { userId: demand.userId, uuid: `blender-${demand.projectId}-${suffix()}`, purpose, projectId: demand.projectId, idleSeconds };
  }
  if (demand.kind === "group") {
    return { userId: demand.userId, uuid: `blender-${demand.groupId}-${suffix()}`, purpose, groupId: demand.groupId, idleSeconds };
  }
  return { userId: demand.userId, uuid: `blender-farm-${suffix()}`, purpose, idleSeconds };
}

export function warmSpec(userId: string, prefix: string, index: number): PeerSpec {
  return { userId, uuid: `${prefix}-${index}`, purpose: `warm:${index}`, idleSeconds: 0 };
}
