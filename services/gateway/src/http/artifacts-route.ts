/** GET /artifacts/<u>/<job>/<name>: an artifact's bytes, for its own user only. */
import type { Handler } from "hono";
import { encodeToken } from "@blender-fabric/protocol";
import type { ArtifactStore } from "@blender-fabric/bus";
import type { AuthVariables } from "./auth-middleware.js";

export function createArtifactsRoute(artifacts: ArtifactStore): Handler<{ Variables: AuthVariables }> {
  return async function serveArtifact(c) {
    const { user, job, file } = c.req.param() as { user: string; job: string; file: string };
    // Another user's artifact looks exactly like a missing one.
    if (user !== encodeToken(c.get("identity").userId)) return c.json({ error: "not found" }, 404);
    const artifact = await artifacts.get(`${user}/${job}/${file}`);
    if (!artifact) return c.json({ error: "not found" }, 404);
    return c.body(new Uint8Array(artifact.bytes), 200, { "content-type": artifact.contentType });
  };
}
