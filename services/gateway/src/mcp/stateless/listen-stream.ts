/**
 * `subscriptions/listen` (2026-07-28): a held-open POST on which the server pushes the
 * notifications the client asked for. The fabric honours resource subscriptions to inboxes,
 * `fabric://clients/<uuid>/inbox`: whichever replica holds the stream subscribes to the
 * client's bus subjects on NATS, so a message sent through any replica (or by a peer through
 * the engine) arrives here as `notifications/resources/updated`, and the client reads it with
 * its cursor. The tool, prompt and resource lists never change while a gateway runs, so
 * list-changed filters are not honoured (the acknowledgement leaves them out, as the spec
 * asks).
 *
 * Every message on the stream carries the subscription id (the listen request's id), the
 * acknowledgement first. On shutdown the replica ends each stream with its result, so the
 * client knows to listen again elsewhere rather than treat it as a dropped connection.
 */
import type { Context } from "hono";
import type { Subscription } from "@nats-io/transport-node";
import { inboxReaches, inboxSubjectsOf, parseJsonSafely } from "@blender-fabric/bus";
import { EnvelopeSchema, subjectForClient, type ClientRecord } from "@blender-fabric/protocol";
import { RpcError } from "../rpc-error.js";
import type { ToolContext } from "../tool-context.js";
import { clientOfInboxUri, inboxUri } from "../resources.js";
import { SERVER_INFO } from "../create-mcp-server.js";
import { MetaKey, StatelessCode, StatelessError, type StatelessRequest } from "./wire.js";
import { sseResponse } from "./sse.js";

/** Inboxes one listen may watch, at most. */
const MAX_SUBSCRIBED_INBOXES = 100;

/**
 * The listen streams this replica holds, so a shutdown can end each one properly, and so one
 * user cannot hold more than `perUser` of them here (each holds NATS subscriptions).
 */
export class ListenStreams {
  readonly #open = new Map<() => void, string>();
  readonly perUser: number;

  constructor(perUser: number) {
    this.perUser = perUser;
  }

  /** Registers a user's stream; undefined when the user already holds `perUser` here. */
  add(userId: string, end: () => void): (() => void) | undefined {
    let held = 0;
    for (const owner of this.#open.values()) if (owner === userId) held += 1;
    if (held >= this.perUser) return undefined;
    this.#open.set(end, userId);
    return () => this.#open.delete(end);
  }

  /** Ends every stream with its result (the replica is stopping). */
  endAll(): void {
    for (const end of [...this.#open.keys()]) end();
  }
}

type Filter = { resourceSubscriptions?: unknown };

export async function openListenStream(c: Context, request: StatelessRequest, context: ToolContext, listens: ListenStreams): Promise<Response> {
  const filter = request.params.notifications;
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) {
    throw new RpcError(StatelessCode.InvalidParams, "Invalid params: notifications is required, an object saying which notifications to send");
  }
  const wanted = (filter as Filter).resourceSubscriptions;
  if (wanted !== undefined && (!Array.isArray(wanted) || wanted.some((uri) => typeof uri !== "string") || wanted.length > MAX_SUBSCRIBED_INBOXES)) {
    throw new RpcError(StatelessCode.InvalidParams, `Invalid params: notifications.resourceSubscriptions is a list of at most ${MAX_SUBSCRIBED_INBOXES} resource URIs`);
  }
  const clients = await subscribedClients(context, (wanted as string[] | undefined) ?? []);
  const subscriptionId = request.id;
  // Taken before the stream opens, so a user over the limit gets an error, not a stream.
  let endForShutdown = () => {};
  const release = listens.add(context.identity.userId, () => endForShutdown());
  if (!release) {
    throw new StatelessError(429, StatelessCode.InternalError, `quota_exceeded: at most ${listens.perUser} listen streams per user on one replica; close one first`);
  }
  const meta = { [MetaKey.subscriptionId]: subscriptionId };
  const { nc, registry } = context.services;
  const userId = context.identity.userId;

  return sseResponse(async (writer) => {
    writer.send({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: clients.length > 0 ? { resourceSubscriptions: clients.map((client) => inboxUri(client.uuid)) } : {}, _meta: meta },
    });
    const subscriptions: Subscription[] = [];
    for (const client of clients) {
      const direct = subjectForClient(userId, client.uuid);
      for (const subject of inboxSubjectsOf(userId, client)) {
        subscriptions.push(
          nc.subscribe(subject, {
            callback: (error, message) => {
              if (error) return;
              const envelope = EnvelopeSchema.safeParse(parseJsonSafely(message));
              if (!envelope.success || !inboxReaches(client, envelope.data, subject === direct)) return;
              writer.send({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: inboxUri(client.uuid), _meta: meta } });
            },
          }),
        );
      }
    }
    // A listening client is live: its registration does not go stale while it listens.
    const heartbeat = setInterval(() => {
      for (const client of clients) void registry.heartbeat(userId, client.uuid).catch(() => {});
    }, context.env.FABRIC_HEARTBEAT_SECONDS * 1000);
    heartbeat.unref();
    await new Promise<void>((resolve) => {
      endForShutdown = () => {
        // The replica stops: the listen's result says the stream ended on purpose.
        writer.send({ jsonrpc: "2.0", id: subscriptionId, result: { resultType: "complete", _meta: { ...meta, [MetaKey.serverInfo]: SERVER_INFO } } });
        resolve();
      };
      writer.onClose(resolve);
    });
    release();
    clearInterval(heartbeat);
    for (const subscription of subscriptions) subscription.unsubscribe();
  }, c.req.raw.signal);
}

/** The registered clients of the caller among the inbox URIs asked for; others are not honoured. */
async function subscribedClients(context: ToolContext, uris: string[]): Promise<ClientRecord[]> {
  const clients: ClientRecord[] = [];
  for (const uri of new Set(uris)) {
    const uuid = clientOfInboxUri(uri);
    const client = uuid === undefined ? undefined : await context.services.registry.get(context.identity.userId, uuid);
    if (client) clients.push(client);
  }
  return clients;
}
