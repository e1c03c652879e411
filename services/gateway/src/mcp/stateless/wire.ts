/**
 * The MCP 2026-07-28 wire (DESIGN.md section 13, docs/research/mcp-2026-07-28.md): no
 * session, no `initialize`; every request says who it is in `params._meta` and repeats the
 * method (and the tool, resource or task it names) in headers a load balancer can read.
 *
 * This module decides, for one POST, which generation it belongs to and whether a 2026
 * request is well-formed. It reads the body and headers only; nothing here touches NATS.
 */
export const STATELESS_VERSIONS = ["2026-07-28"] as const;

/** The versions served with a session (the SDK 1.x path), for telling the generations apart. */
const SESSION_VERSIONS = new Set(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]);

export const MetaKey = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;

/** The tasks extension's name, in capabilities (client and server). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** JSON-RPC codes of the 2026 wire (spec basic/index.mdx, Error Codes). */
export const StatelessCode = {
  InvalidParams: -32602,
  MethodNotFound: -32601,
  InternalError: -32603,
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

type RequestId = string | number;

/** A JSON-RPC error of the 2026 wire, with the HTTP status it travels with. */
export class StatelessError extends Error {
  override name = "StatelessError";
  constructor(
    readonly httpStatus: 200 | 400 | 404 | 429,
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type StatelessRequest = {
  id: RequestId;
  method: string;
  params: Record<string, unknown>;
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
};

export type StatelessNotification = { method: string };

type Headers = { get(name: string): string | null };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const metaOf = (body: unknown): Record<string, unknown> | undefined => {
  if (!isObject(body) || !isObject(body.params)) return undefined;
  return isObject(body.params._meta) ? body.params._meta : undefined;
};

/**
 * Whether a POST is 2026 traffic: its body claims a protocol version in `_meta`, it is
 * `server/discover`, or its `MCP-Protocol-Version` header names a version that has no session.
 * Everything else (an `initialize`, a request of a session) keeps the 2025 path unchanged.
 */
export function isStatelessPost(body: unknown, headers: Headers): boolean {
  if (!isObject(body)) return false;
  if (metaOf(body)?.[MetaKey.protocolVersion] !== undefined) return true;
  if (body.method === "server/discover") return true;
  if (body.method === "initialize") return false;
  const header = headers.get("mcp-protocol-version");
  return header !== null && !SESSION_VERSIONS.has(header);
}

/** A header value, decoded when it uses the `=?base64?…?=` form (for names outside ASCII). */
export function decodeHeaderValue(value: string): string | undefined {
  const encoded = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/u.exec(value);
  if (!encoded) return value;
  const text = Buffer.from(encoded[1]!, "base64").toString("utf8");
  // A sentinel that does not round-trip was not valid base64 of UTF-8.
  return Buffer.from(text, "utf8").toString("base64").replace(/=+$/u, "") === encoded[1]!.replace(/=+$/u, "") ? text : undefined;
}

/** Which request parameter `Mcp-Name` repeats, per method. */
const NAMED_PARAM: Record<string, string> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

const mismatch = (header: string, expected: unknown, actual: string | null) =>
  new StatelessError(400, StatelessCode.HeaderMismatch, `Header mismatch: ${header} ${actual === null ? "is missing" : `is ${JSON.stringify(actual)}`}, the body says ${JSON.stringify(expected)}`, {
    mismatch: { header, expected, actual: actual ?? "(missing)" },
  });

/**
 * Checks a 2026 request in the order the spec's SDK does: the `_meta` envelope (-32602), the
 * headers against the body (-32020), then the version (-32022). Throws the refusal.
 */
export function checkStatelessRequest(body: Record<string, unknown>, headers: Headers): StatelessRequest {
  const id = body.id as RequestId;
  const method = body.method as string;
  const params = isObject(body.params) ? body.params : {};
  const meta = metaOf(body);
  const version = meta?.[MetaKey.protocolVersion];
  const capabilities = meta?.[MetaKey.clientCapabilities];
  if (!meta) throw new StatelessError(400, StatelessCode.InvalidParams, `Invalid params: _meta is required on every 2026-07-28 request (with ${MetaKey.protocolVersion} and ${MetaKey.clientCapabilities})`);
  if (typeof version !== "string" || version.length === 0 || version.length > 64) {
    throw new StatelessError(400, StatelessCode.InvalidParams, `Invalid params: _meta.${MetaKey.protocolVersion} is required, a version string such as "2026-07-28"`);
  }
  if (!isObject(capabilities)) {
    throw new StatelessError(400, StatelessCode.InvalidParams, `Invalid params: _meta.${MetaKey.clientCapabilities} is required, an object ({} for none)`);
  }
  const clientInfo = meta[MetaKey.clientInfo];
  if (clientInfo !== undefined && !isObject(clientInfo)) {
    throw new StatelessError(400, StatelessCode.InvalidParams, `Invalid params: _meta.${MetaKey.clientInfo} is an object {name, version}`);
  }

  const versionHeader = headers.get("mcp-protocol-version");
  if (versionHeader !== version) throw mismatch("MCP-Protocol-Version", version, versionHeader);
  const methodHeader = headers.get("mcp-method");
  if (methodHeader !== method) throw mismatch("Mcp-Method", method, methodHeader);
  const namedParam = NAMED_PARAM[method];
  if (namedParam !== undefined) {
    const nameHeader = headers.get("mcp-name");
    const named = params[namedParam];
    if (nameHeader === null || decodeHeaderValue(nameHeader) !== named) throw mismatch("Mcp-Name", named, nameHeader);
  }

  if (!(STATELESS_VERSIONS as readonly string[]).includes(version)) {
    throw new StatelessError(400, StatelessCode.UnsupportedProtocolVersion, `Unsupported protocol version ${JSON.stringify(version)}: this server speaks ${STATELESS_VERSIONS.join(", ")} statelessly and 2025-11-25 (and earlier) with a session`, {
      supported: [...STATELESS_VERSIONS],
      requested: version,
    });
  }
  return { id, method, params, protocolVersion: version, clientCapabilities: capabilities };
}

/** Whether the client declared the tasks extension on this request. */
export function declaresTasks(request: StatelessRequest): boolean {
  const extensions = request.clientCapabilities.extensions;
  return isObject(extensions) && extensions[TASKS_EXTENSION] !== undefined;
}

/** A JSON-RPC error object of a response to `id` (absent when unreadable). */
export const errorBody = (id: RequestId | undefined, error: { code: number; message: string; data?: unknown }) =>
  JSON.stringify({ jsonrpc: "2.0", ...(id === undefined ? {} : { id }), error });
