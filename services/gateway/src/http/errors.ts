/**
 * The one place where errors become HTTP responses. Lower layers throw small named errors;
 * MCP-level failures use the JSON-RPC error shape the SDK client understands.
 */
import type { ErrorHandler } from "hono";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { AuthError, AuthErrorCode } from "@blender-fabric/auth";
import type { Logger } from "../logger.js";

/**
 * JSON-RPC codes of HTTP-level answers: the SDK's ErrorCode where it names the case, and the
 * two server-defined codes the SDK's own Streamable HTTP transport answers its refusals with
 * (ErrorCode gives these numbers other names, so they are spelled out once, here).
 */
export const JsonRpcCode = {
  ParseError: ErrorCode.ParseError,
  InternalError: ErrorCode.InternalError,
  /** A request refused at the HTTP layer (host, origin, size, session header). */
  Refused: -32000,
  /** No such session, or not authorised for it. */
  Unauthorized: -32001,
} as const;

/** An HTTP-level refusal of an MCP request (bad session, bad body). */
export class McpHttpError extends Error {
  override name = "McpHttpError";
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 406 | 429,
    message: string,
    readonly jsonRpcCode: number = JsonRpcCode.Refused,
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
      const response = jsonRpcError(401, JsonRpcCode.Unauthorized, `Unauthorized: ${error.message}`);
      response.headers.set("www-authenticate", `Bearer realm="blender-fabric"${detail}`);
      return response;
    }
    if (error instanceof McpHttpError) return jsonRpcError(error.status, error.jsonRpcCode, error.message);
    logger.error({ err: error }, "request failed");
    return jsonRpcError(500, JsonRpcCode.InternalError, "Internal error");
  };
}
