/**
 * A JSON-RPC error a handler throws: the SDK answers `{code, message, data}` from any error with a
 * numeric `code`. Not the SDK's McpError, whose message already reads "MCP error <code>: …",
 * so a client that prefixes the code again showed it twice.
 */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(
    readonly code: number,
    message: string,
    /** What the error is about, for programs (e.g. `{uri}` of a resource that does not exist). */
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}
