/**
 * The one place where errors become HTTP responses. Lower layers throw small named errors;
 * MCP-level failures use the JSON-RPC error shape the SDK client understands.
 */
import type { ErrorHandler } from "hono";
import { AuthError, AuthErrorCode } from "@blender-fabric/auth";
import type { Logger } from "../logger.js";

/** An HTTP-level refusal of an MCP request (bad session, bad body). */
export class McpHttpError extends Error {
  override name = "McpHttpError";
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 406,
    message: string,
    readonly jsonRpcCode = -32000,
  ) {
    super(message);
  }
}

export const jsonRpcError = (status: number, code: number, message: string) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json" },
  });

export function createErrorHandler(logger: Logger): ErrorHandler {
  return function handleError(error) {
    if (error instanceof AuthError) {
      const detail = error.code === AuthErrorCode.Missing ? "" : ', error="invalid_token"';
      const response = jsonRpcError(401, -32001, `Unauthorized: ${error.message}`);
      response.headers.set("www-authenticate", `Bearer realm="blender-fabric"${detail}`);
      return response;
    }
    if (error instanceof McpHttpError) return jsonRpcError(error.status, error.jsonRpcCode, error.message);
    logger.error({ err: error }, "request failed");
    return jsonRpcError(500, -32603, "Internal error");
  };
}
