/**
 * Both MCP generations on one `/mcp` (DESIGN.md section 13). A POST's JSON body is parsed
 * once, here; a 2026-07-28 request (its `_meta` claims a version, or it is `server/discover`,
 * or its MCP-Protocol-Version header names a version that has no sessions) is served
 * statelessly, and everything else goes on to the session middleware and the 2025 endpoint,
 * unchanged.
 */
import type { MiddlewareHandler } from "hono";
import type { VerifiedIdentity } from "@blender-fabric/auth";
import { isStatelessPost } from "../mcp/stateless/wire.js";
import type { SessionVariables } from "./session-middleware.js";
import { JsonRpcCode, McpHttpError } from "./errors.js";

type ServeStateless = (c: Parameters<MiddlewareHandler>[0], identity: VerifiedIdentity, body: unknown) => Promise<Response>;

export function createGenerationRouter(serveStateless: ServeStateless): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function routeGeneration(c, next) {
    if (c.req.method !== "POST") return next();
    const body: unknown = await c.req.json().catch(() => {
      throw new McpHttpError(400, "Parse error: the body is not JSON", JsonRpcCode.ParseError);
    });
    c.set("body", body);
    if (isStatelessPost(body, c.req.raw.headers)) return serveStateless(c, c.get("identity"), body);
    await next();
  };
}
