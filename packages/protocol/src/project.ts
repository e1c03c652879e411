/**
 * Projects (seed 004): `target_uuid: "project:<id>"` addresses the peer of a project, whichever
 * one is live now. A project's work waits on its own work subject until a peer bound to that
 * project takes it (one the pool starts on demand), and the project's scene is kept in the
 * tenant's blend store between peers, so it survives scale-to-zero.
 */
import { z } from "zod";
import { encodeToken } from "./tokens.js";

/** How a dispatch names a project instead of a peer. */
export const PROJECT_TARGET_PREFIX = "project:";

/**
 * Longest project id. A project's Knative Service is `blender-<id>` and its revisions
 * `blender-<id>-00001`: both must fit a 63-character DNS label, with room to spare.
 */
export const MAX_PROJECT_ID_LENGTH = 40;

const PROJECT_ID_PATTERN = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/u;

/** The one rule for project ids, as every refusal states it. */
export const PROJECT_ID_RULE =
  `a project id is 1-${MAX_PROJECT_ID_LENGTH} characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit ` +
  "(a DNS label: it names the project's Service in a cluster)";

export const isValidProjectId = (projectId: string) => projectId.length <= MAX_PROJECT_ID_LENGTH && PROJECT_ID_PATTERN.test(projectId);

export const ProjectIdSchema = z.string().refine(isValidProjectId, { message: PROJECT_ID_RULE });

/** The project id of a `project:<id>` target, or undefined for any other selector. */
export function projectOfTarget(selector: string | null | undefined): string | undefined {
  return selector?.startsWith(PROJECT_TARGET_PREFIX) ? selector.slice(PROJECT_TARGET_PREFIX.length) : undefined;
}

/** The Object Store name (in the tenant's blend bucket) of a project's saved scene. */
export const projectSceneObjectName = (userId: string, projectId: string) =>
  `${encodeToken(userId)}/projects/${encodeToken(projectId)}/scene.blend`;
