/**
 * blender_receive_messages: a client's durable inbox, read with a cursor and long-polled
 * (DESIGN.md section 13). The way a client with no session stream (MCP 2026-07-28) hears the
 * bus; a 2025 session may use it too, beside its live notifications.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { InboxCursorError, inboxStart, inboxSubjectsOf, type InboxPage } from "@blender-fabric/bus";
import { ReceiveMessagesInputSchema, ToolOutputSchemas, type ClientRecord } from "@blender-fabric/protocol";
import { defineTool, type ToolDefinition } from "../mcp/tool-catalog.js";
import type { ToolContext } from "../mcp/tool-context.js";

/** Wakes a waiting read when a message arrives on any of `subjects`. */
function arrivalsOn(nc: NatsConnection, subjects: string[]) {
  let heard = false;
  let wake: (() => void) | undefined;
  const subscriptions: Subscription[] = subjects.map((subject) =>
    nc.subscribe(subject, {
      callback: () => {
        heard = true;
        wake?.();
      },
    }),
  );
  return {
    /** Flushed, so a message published after this resolves is heard. */
    ready: nc.flush(),
    /** Resolves at the next arrival (or at once if one came since the last wait), after `ms`, or on abort. */
    wait(ms: number, signal?: AbortSignal): Promise<void> {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wake = undefined;
          heard = false;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
        if (heard) done();
        else wake = done;
      });
    },
    stop: () => subscriptions.forEach((subscription) => subscription.unsubscribe()),
  };
}

/** The client whose inbox is read: named, or the session's only one. */
function chosenClient(input: { client_uuid?: string | undefined }, context: ToolContext): string | undefined {
  if (input.client_uuid) return input.client_uuid;
  const own = context.session.client_uuids;
  return own.length === 1 ? own[0] : undefined;
}

export const receiveMessages = defineTool({
  name: "blender_receive_messages",
  title: "Read your inbox",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.receiveMessages,
  description:
    "Read a registered client's durable inbox: the bus messages addressed to it (direct, its group, its type, " +
    "broadcasts from others), kept a day, oldest first, each with a cursor. Pass the answer's next_cursor as " +
    "`after` next time; wait_seconds long-polls for the next message. Reading removes nothing: reading again from " +
    "an older cursor repeats messages (at-least-once; their cursors show the repeat). Also readable as the resource " +
    "fabric://clients/<uuid>/inbox.",
  inputSchema: ReceiveMessagesInputSchema,
  async handler(input, context) {
    const { registry, inbox, nc } = context.services;
    const userId = context.identity.userId;
    const clientUuid = chosenClient(input, context);
    if (!clientUuid) {
      return { status: "invalid_params", field: "client_uuid", error: "client_uuid: required (name the registered client whose inbox to read)" };
    }
    const client = await registry.get(userId, clientUuid);
    if (!client) return { status: "not_found", client_uuid: clientUuid, error: `no client ${clientUuid} is registered on your bus` };
    let after: number;
    try {
      after = await context.services.inbox.positionOf(userId, clientUuid, input.after ?? inboxStart(userId, clientUuid));
    } catch (error) {
      if (error instanceof InboxCursorError) return { status: "invalid_params", field: "after", error: `after: ${error.message}` };
      throw error;
    }
    // Reading its inbox keeps a client without a session stream (2026-07-28) from going stale.
    await registry.heartbeat(userId, clientUuid);
    const page = await readWaiting(context, client, after, input, nc);
    return { status: "ok", client_uuid: clientUuid, ...page };
  },
});

/** Reads a page; when it is empty and the caller waits, reads again as messages arrive. */
async function readWaiting(
  context: ToolContext,
  client: ClientRecord,
  after: number,
  input: { wait_seconds: number; limit: number },
  nc: NatsConnection,
): Promise<InboxPage> {
  const { inbox } = context.services;
  const userId = context.identity.userId;
  if (input.wait_seconds === 0) return inbox.read(userId, client, after, input.limit);
  const deadline = Date.now() + input.wait_seconds * 1000;
  // Subscribed before the first read: a message stored between the read and the wait wakes it.
  const arrivals = arrivalsOn(nc, inboxSubjectsOf(userId, client));
  try {
    await arrivals.ready;
    for (;;) {
      const page = await inbox.read(userId, client, after, input.limit);
      const left = deadline - Date.now();
      if (page.messages.length > 0 || left <= 0 || context.signal?.aborted) return page;
      await arrivals.wait(left, context.signal);
      after = Number(page.next_cursor.split(".")[0]);
    }
  } finally {
    arrivals.stop();
  }
}

export const createInboxTools = (): ToolDefinition[] => [receiveMessages];
