/**
 * MCP resources (DESIGN.md section 5). Scene and console resources are read from the one
 * live Blender peer through the same dispatch round trip as the tools; a resource that
 * cannot be read (no peer, several peers, a failure) is an MCP error naming why. Each
 * registered client's durable inbox is a resource too, `fabric://clients/<uuid>/inbox`
 * (`?after=<cursor>` reads on from a cursor), listed for the caller's clients that are not
 * Blender peers.
 */
import { ErrorCode, type ReadResourceResult, type Resource, type ResourceTemplate } from "@modelcontextprotocol/sdk/types.js";
import { RpcError } from "./rpc-error.js";
import { IdentifierSchema, TIMEOUT_TIERS, decodeToken } from "@blender-fabric/protocol";
import { InboxCursorError, inboxStart } from "@blender-fabric/bus";
import { jobArtifacts } from "@blender-fabric/engine";
import { dispatchCommand } from "../dispatch/dispatch-command.js";
import type { ToolContext } from "./tool-context.js";

const JSON_TYPE = "application/json";

export const RESOURCES: Resource[] = [
  { uri: "blender://bus/clients", name: "Bus clients", mimeType: JSON_TYPE, description: "Live clients on your bus." },
  { uri: "blender://scene/info", name: "Scene info", mimeType: JSON_TYPE, description: "get_scene_info of the live Blender peer." },
  { uri: "blender://scene/objects", name: "Scene objects", mimeType: JSON_TYPE, description: "Every object of the scene (browse_data objects)." },
];

export const RESOURCE_TEMPLATES: ResourceTemplate[] = [
  { uriTemplate: "blender://console/{level}", name: "Console", mimeType: JSON_TYPE, description: "Console lines of a level (all, info, warning, error)." },
  { uriTemplate: "blender://console/{level}/{page}", name: "Console page", mimeType: JSON_TYPE, description: "One page of console lines." },
  { uriTemplate: "blender://artifacts/{job_id}", name: "Job artifacts", mimeType: JSON_TYPE, description: "Artifacts a job stored, with their download URLs." },
  {
    uriTemplate: "fabric://clients/{uuid}/inbox{?after}",
    name: "Client inbox",
    mimeType: JSON_TYPE,
    description: "A registered client's durable inbox: up to 50 messages after the cursor `after`, and next_cursor.",
  },
];

/** Inboxes listed by resources/list, at most (a bus of many clients lists the first ones). */
const MAX_LISTED_INBOXES = 100;

/** The URI of one client's inbox resource. */
export const inboxUri = (clientUuid: string) => `fabric://clients/${clientUuid}/inbox`;

/** The client uuid an inbox URI names, or undefined when it names none. */
export function clientOfInboxUri(uri: string): string | undefined {
  const match = /^fabric:\/\/clients\/([^/?#]+)\/inbox(?:\?.*)?$/u.exec(uri);
  return match && IdentifierSchema.safeParse(match[1]).success ? match[1] : undefined;
}

/** The static resources and the inboxes of the caller's clients that are not Blender peers. */
export async function listResources(context: ToolContext): Promise<Resource[]> {
  const { registry } = context.services;
  const clients = (await registry.list(context.identity.userId)).filter((client) => client.client_type !== "blender" && !registry.isStale(client));
  const inboxes = clients.slice(0, MAX_LISTED_INBOXES).map((client) => ({
    uri: inboxUri(client.uuid),
    name: `Inbox of ${client.label}`,
    mimeType: JSON_TYPE,
    description: `Bus messages for client ${client.uuid} (${client.client_type}).`,
  }));
  return [...RESOURCES, ...inboxes];
}

/** One page of a client's inbox (the resource's text). */
async function readInbox(uri: URL, context: ToolContext): Promise<string> {
  const userId = context.identity.userId;
  const clientUuid = clientOfInboxUri(uri.href);
  const client = clientUuid === undefined ? undefined : await context.services.registry.get(userId, clientUuid);
  if (!clientUuid || !client) throw new RpcError(ErrorCode.InvalidParams, `Unknown resource: ${uri.href} (no such client on your bus)`, { uri: uri.href });
  let after: number;
  try {
    after = await context.services.inbox.positionOf(userId, clientUuid, uri.searchParams.get("after") ?? inboxStart(userId, clientUuid));
  } catch (error) {
    if (error instanceof InboxCursorError) throw new RpcError(ErrorCode.InvalidParams, `Invalid resource ${uri.href}: after: ${error.message}`);
    throw error;
  }
  await context.services.registry.heartbeat(userId, clientUuid);
  return JSON.stringify({ client_uuid: clientUuid, ...(await context.services.inbox.read(userId, client, after, 50)) });
}

/** The levels `blender://console/{level}` serves (get_console_output's). */
const CONSOLE_LEVELS = ["all", "info", "warning", "error"];

async function fromBlender(context: ToolContext, command: string, params: Record<string, unknown>) {
  const answer = await dispatchCommand(context, {
    tool: `resources/read ${command}`,
    command,
    params,
    selector: null,
    requestId: null,
    timeoutSeconds: TIMEOUT_TIERS.default,
  });
  if (answer.status !== "completed" || !("result" in answer)) {
    const why = "error" in answer && answer.error ? answer.error : answer.status;
    throw new RpcError(ErrorCode.InternalError, `${command}: ${why}`);
  }
  return answer.result;
}

async function readText(uri: URL, context: ToolContext): Promise<string> {
  const parts = uri.pathname.split("/").filter(Boolean);
  if (uri.protocol === "fabric:" && uri.host === "clients") return readInbox(uri, context);
  if (uri.protocol !== "blender:") throw new RpcError(ErrorCode.InvalidParams, `Unknown resource: ${uri.href}`, { uri: uri.href });
  switch (uri.host) {
    case "bus": {
      const { registry } = context.services;
      const clients = await registry.list(context.identity.userId);
      return JSON.stringify(clients.filter((client) => !registry.isStale(client)).map((client) => registry.describe(client)));
    }
    case "scene":
      if (parts[0] === "info") return fromBlender(context, "get_scene_info", {});
      if (parts[0] === "objects") return fromBlender(context, "browse_data", { collection: "objects", page_size: 500 });
      break;
    case "console": {
      const [level = "all", page = "1"] = parts;
      // A level or page Blender cannot serve is the caller's mistake (-32602), not Blender's.
      if (!CONSOLE_LEVELS.includes(level) || !/^[1-9]\d{0,5}$/u.test(page) || parts.length > 2) {
        throw new RpcError(ErrorCode.InvalidParams, `Invalid resource ${uri.href}: the level is one of ${CONSOLE_LEVELS.join(", ")}, the page a number from 1`);
      }
      return fromBlender(context, "get_console_output", { level, page: Number(page) });
    }
    case "artifacts": {
      const refs = await jobArtifacts(context.services, context.identity.userId, parts[0] ?? "");
      return JSON.stringify(refs.map((ref) => ({ name: decodeToken(ref.name.split("/")[2]!), url: ref.url })));
    }
  }
  throw new RpcError(ErrorCode.InvalidParams, `Unknown resource: ${uri.href}`, { uri: uri.href });
}

export async function readResource(uri: string, context: ToolContext): Promise<ReadResourceResult> {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new RpcError(ErrorCode.InvalidParams, `Invalid resource URI: ${uri}`, { uri });
  }
  return { contents: [{ uri, mimeType: JSON_TYPE, text: await readText(parsed, context) }] };
}
