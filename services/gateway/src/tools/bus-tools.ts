/**
 * The five bus tools of seed 003, with its parameter names and return shapes:
 * register_client, unregister_client, send_message, job_update, list_available_clients.
 */
import {
  JobUpdateInputSchema,
  ListAvailableClientsInputSchema,
  RegisterClientInputSchema,
  UnregisterClientInputSchema,
  DEFAULT_SUBMIT_DEADLINE_SECONDS,
  createSendMessageInputSchema,
  epochSeconds,
  newJobRecord,
  requestFingerprint,
  resolveRouting,
  WorkPayloadSchema,
  type JobKind,
  ToolOutputSchemas,
  type Routing,
} from "@blender-fabric/protocol";
import { createEnvelope, publishEnvelope, selectRecipients } from "@blender-fabric/bus";
import { publishJobEvent } from "@blender-fabric/engine";
import { defineTool, type ToolDefinition } from "../mcp/tool-catalog.js";
import type { ToolContext } from "../mcp/tool-context.js";
import { requestSessionSync } from "../delivery/session-sync.js";
import { refuseCaller } from "./caller-checks.js";

/** Adds or removes a client uuid in a session record, then resubscribes its stream. */
async function changeSessionClients(
  context: ToolContext,
  sessionId: string | null | undefined,
  change: (uuids: string[]) => string[],
): Promise<void> {
  if (!sessionId) return; // a stateless (2026-07-28) caller: its client reads an inbox instead
  await context.services.sessions.update(context.identity.userId, sessionId, (record) => ({
    ...record,
    client_uuids: change(record.client_uuids),
  }));
  await requestSessionSync(context.services.nc, sessionId);
}

const registerClient = defineTool({
  name: "blender_register_client",
  title: "Join the bus",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.registerClient,
  description:
    "Join the caller's user bus, or update an existing registration in place. Messages " +
    "addressed to the client wait in its inbox (blender_receive_messages, resource " +
    "fabric://clients/<uuid>/inbox); in an MCP session they also arrive on its stream as " +
    "notifications/message (logger _message_bus).",
  inputSchema: RegisterClientInputSchema,
  async handler(input, context) {
    const { registry } = context.services;
    const userId = context.identity.userId;
    const previous = await registry.get(userId, input.client_uuid);
    const record = await registry.register(userId, {
      uuid: input.client_uuid,
      client_type: input.client_type,
      is_persistent: input.is_persistent,
      capabilities: input.capabilities,
      group_id: input.group_id,
      ...(context.sessionId ? { session_id: context.sessionId } : {}),
    });
    // A uuid re-registered from a new session moves its traffic to the new session.
    if (previous?.session_id && previous.session_id !== context.sessionId) {
      // (from a 2026 call too: the client now reads its inbox, not that session's stream)
      await changeSessionClients(context, previous.session_id, (uuids) =>
        uuids.filter((uuid) => uuid !== input.client_uuid),
      );
    }
    await changeSessionClients(context, context.sessionId, (uuids) =>
      uuids.includes(input.client_uuid) ? uuids : [...uuids, input.client_uuid],
    );
    return { status: "ok", client: registry.describe(record) };
  },
});

const unregisterClient = defineTool({
  name: "blender_unregister_client",
  title: "Leave the bus",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.unregisterClient,
  description: 'Leave the user bus. Idempotent: unknown uuids return {"status":"not_found"}.',
  inputSchema: UnregisterClientInputSchema,
  async handler(input, context) {
    const { registry } = context.services;
    const record = await registry.get(context.identity.userId, input.client_uuid);
    const removed = await registry.unregister(context.identity.userId, input.client_uuid);
    const owner = record?.session_id ?? context.sessionId;
    if (removed) {
      await changeSessionClients(context, owner, (uuids) =>
        uuids.filter((uuid) => uuid !== input.client_uuid),
      );
    }
    return { status: removed ? "ok" : "not_found", client_uuid: input.client_uuid };
  },
});

/** What kind of job a payload starts, for the job record. */
function jobKindOf(payload: Record<string, unknown>): { kind: JobKind; command: string | null } {
  if (payload.message_type === "command_dispatch") {
    return { kind: "command", command: typeof payload.command === "string" ? payload.command : null };
  }
  if (payload.message_type === "job_dispatch") return { kind: "script", command: null };
  return { kind: "message", command: null };
}

/** The clients a routing reaches among the caller's registered clients. */
async function recipientsOf(context: ToolContext, routing: Routing, fromUuid: string) {
  const { registry } = context.services;
  const clients = await registry.list(context.identity.userId);
  return selectRecipients(routing, clients, fromUuid, (client) => registry.isStale(client));
}

function createSendMessage(maxPayloadBytes: number) {
  return defineTool({
    name: "blender_send_message",
  title: "Send a bus message",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  outputSchema: ToolOutputSchemas.sendMessage,
    description:
      "Route a message on the caller's bus. Routing precedence: target_uuid > group_id > " +
      "client_type > broadcast (no targeting field). Only broadcast excludes the sender. " +
      "priority is an MCP log level. With from_uuid set, a later blender_job_update for the " +
      "same job_id is routed back to from_uuid. Pass a request_id and reuse it when you retry: " +
      "a repeat returns the first answer instead of sending again.",
    inputSchema: createSendMessageInputSchema(maxPayloadBytes),
    async handler(input, context) {
      const userId = context.identity.userId;
      const routing = resolveRouting(input);
      const fromUuid = input.from_uuid ?? `server:${userId}`;
      // Work for Blender is a dispatch, whatever tool carries it: the same role rule holds.
      const isWork = WorkPayloadSchema.safeParse(input.payload).success && input.payload.message_type !== "job_cancel";
      const refused = isWork ? refuseCaller(context, null) : undefined;
      if (refused) return refused;
      const jobId = typeof input.payload.job_id === "string" ? input.payload.job_id : undefined;
      const envelope = createEnvelope({
        userId,
        fromUuid,
        routing,
        priority: input.priority,
        payload: input.payload,
        jobId,
      });
      const targets = await recipientsOf(context, routing, fromUuid);
      const answer = { status: "ok", message_id: envelope.message_id, job_id: envelope.job_id, targets, routing };
      if (input.request_id) {
        const fingerprint = requestFingerprint({ payload: input.payload, routing, from_uuid: input.from_uuid, priority: input.priority });
        const claim = await context.services.requests.claim(userId, input.request_id, {
          job_id: envelope.job_id,
          tool: "blender_send_message",
          fingerprint,
          answer,
        });
        if (claim.record.fingerprint !== fingerprint) {
          return {
            status: "invalid_params",
            field: "request_id",
            error: `request_id: already used by ${claim.record.tool} for other work; choose a new one`,
          };
        }
        if (!claim.first) return { status: "ok", ...claim.record.answer, job_id: claim.record.job_id };
      }
      if (input.from_uuid) {
        // Written before publishing, so an immediate reply already finds its originator.
        const { kind, command } = jobKindOf(input.payload);
        await context.services.engine.recordMessage(
          newJobRecord({
            job_id: envelope.job_id,
            bus_id: userId,
            originator_uuid: input.from_uuid,
            target_uuid: envelope.target_uuid,
            kind,
            command,
            // Work that no peer takes in time expires instead of waiting forever.
            deadline: kind === "message" ? null : epochSeconds() + DEFAULT_SUBMIT_DEADLINE_SECONDS,
            request_id: input.request_id,
          }),
        );
      }
      // Work for Blender becomes a job and work first: a bridge never runs what it reads off a core subject.
      if (isWork) await context.services.engine.queueMessageWork(userId, envelope, targets, jobKindOf(input.payload));
      publishEnvelope(context.services.nc, envelope);
      return answer;
    },
  });
}

const jobUpdate = defineTool({
  name: "blender_job_update",
  title: "Report on a job",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  outputSchema: ToolOutputSchemas.jobUpdate,
  description:
    "Report a job's status to whoever dispatched it. Routed direct to the originator at " +
    "priority notice, or broadcast when the originator is unknown. completed, failed and " +
    "cancelled close the job.",
  inputSchema: JobUpdateInputSchema,
  async handler(input, context) {
    const { jobs, nc } = context.services;
    const userId = context.identity.userId;
    const job = await jobs.get(userId, input.job_id);
    const originator = job?.originator_uuid ?? undefined;
    const routing: Routing = originator
      ? { type: "direct", target_uuid: originator }
      : { type: "broadcast" };
    const fromUuid = context.session.client_uuids[0] ?? `server:${userId}`;
    const targets = originator ? [originator] : await recipientsOf(context, routing, fromUuid);
    const reported = job
      ? await jobs.report(userId, input.job_id, {
          status: input.status,
          result: input.result || undefined,
          error: input.error || undefined,
        })
      : undefined;
    publishEnvelope(
      nc,
      createEnvelope({
        userId,
        fromUuid,
        routing,
        priority: "notice",
        jobId: input.job_id,
        payload: { kind: "job_update", ...input },
      }),
    );
    // Waiters on the job subject hear only what the record says: a refused report (a job
    // a bridge holds, or a backward move) is routed as a message but changes nothing.
    if (!job || reported?.changed) publishJobEvent(nc, userId, input);
    return { status: "ok", delivered: originator ? "direct" : "broadcast", targets };
  },
});

const listAvailableClients = defineTool({
  name: "blender_list_available_clients",
  title: "List the clients on the bus",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  outputSchema: ToolOutputSchemas.listAvailableClients,
  description:
    "Snapshot of the caller's user bus: persistent and ephemeral clients. Stale clients " +
    "(silent past the stale limit) are hidden unless include_stale is true. group_id, client_type " +
    "and capability narrow the list; page and page_size (default 100) page through it, persistent clients first.",
  inputSchema: ListAvailableClientsInputSchema,
  async handler(input, context) {
    const { registry } = context.services;
    const now = Date.now();
    // Filtered and sorted as stored records; only the page is turned into the wire shape (a
    // bus of 10,000 peers answers a page of 100).
    const clients = (await registry.list(context.identity.userId))
      .filter((client) => input.include_stale || !registry.isStale(client, now))
      .filter((client) => input.group_id === null || client.group_id === input.group_id)
      .filter((client) => input.client_type === null || client.client_type === input.client_type)
      .filter((client) => input.capability === null || client.capabilities.includes(input.capability))
      .sort(
        (a, b) =>
          Number(b.is_persistent) - Number(a.is_persistent) || a.connected_at - b.connected_at || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0),
      );
    const start = (input.page - 1) * input.page_size;
    const page = clients.slice(start, start + input.page_size).map((record) => registry.describe(record, now));
    return {
      status: "ok",
      user_id: context.identity.userId,
      persistent: page.filter((client) => client.is_persistent),
      ephemeral: page.filter((client) => !client.is_persistent),
      total: clients.length,
      page: input.page,
      page_size: input.page_size,
      has_more: start + page.length < clients.length,
    };
  },
});

export function createBusTools(options: { maxPayloadBytes: number }): ToolDefinition[] {
  return [
    registerClient,
    unregisterClient,
    createSendMessage(options.maxPayloadBytes),
    jobUpdate,
    listAvailableClients,
  ];
}
