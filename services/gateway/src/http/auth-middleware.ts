/**
 * Bearer JWT authentication for /mcp and /artifacts. Missing or bad tokens get HTTP 401
 * with `WWW-Authenticate`, never a tool result.
 */
import type { MiddlewareHandler } from "hono";
import type { TokenVerifier, VerifiedIdentity } from "@blender-fabric/auth";

export type AuthVariables = { identity: VerifiedIdentity };

export function createAuthMiddleware(verifyToken: TokenVerifier): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async function authenticate(c, next) {
    const header = c.req.header("authorization");
    const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    c.set("identity", await verifyToken(token));
    await next();
  };
}
