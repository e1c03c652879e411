/**
 * Projects (seed 004): `target_uuid: "project:<id>"` addresses the peer of a project, whichever
 * one is live now. A project's work waits on its own work subject until a peer bound to that
 * project takes it (one the pool starts on demand), and the project's scene is kept in the
 * tenant's blend store between peers, so it survives scale-to-zero.
 */
import { encodeToken } from "./tokens.js";

/** How a dispatch names a project instead of a peer. */
export const PROJECT_TARGET_PREFIX = "project:";

/** The project id of a `project:<id>` target, or undefined for any other selector. */
export function projectOfTarget(selector: string | null | undefined): string | undefined {
  return selector?.startsWith(PROJECT_TARGET_PREFIX) ? selector.slice(PROJECT_TARGET_PREFIX.length) : undefined;
}

/** The Object Store name (in the tenant's blend bucket) of a project's saved scene. */
export const projectSceneObjectName = (userId: string, projectId: string) =>
  `${encodeToken(userId)}/projects/${encodeToken(projectId)}/scene.blend`;
