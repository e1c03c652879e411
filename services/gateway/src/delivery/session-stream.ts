/**
 * Delivery to one MCP session's GET stream. The replica holding the stream subscribes to the
 * subjects of every client uuid registered in the session (client, group, type, broadcast)
 * and forwards each envelope as a `notifications/message` with logger `_message_bus`.
 *
 * Which uuids, and which log level, come from the session record in KV, so registrations
 * and `logging/setLevel` served by any replica reach this one: they ask it to resync on the
 * session's control subject (see session-sync.ts) and wait for the answer. A change of the
 * record itself (seen through the KV watch) also resyncs, in case that request was lost.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  EnvelopeSchema,
  priorityPassesLevel,
  subjectForBroadcast,
  subjectForClient,
  subjectForClientType,
  subjectForGroup,
  subjectForSessionSync,
  type ClientRecord,
  type Envelope,
  type Priority,
} from "@blender-fabric/protocol";
import { parseJsonSafely } from "@blender-fabric/bus";
import type { GatewayServices } from "../services.js";
import type { Logger } from "../logger.js";

export type SessionStreamOptions = {
  services: GatewayServices;
  sessionId: string;
  userId: string;
  /** How often the session's clients get their `last_seen` refreshed. ms */
  heartbeatMs: number;
  /** Sends one envelope to the MCP client. */
  deliver: (envelope: Envelope) => void;
  logger: Logger;
};

/** The subjects that reach a set of registered clients, deduplicated. */
export function subjectsForClients(userId: string, clients: readonly ClientRecord[]): Set<string> {
  const subjects = new Set<string>();
  if (clients.length > 0) subjects.add(subjectForBroadcast(userId));
  for (const client of clients) {
    subjects.add(subjectForClient(userId, client.uuid));
    subjects.add(subjectForClientType(userId, client.client_type));
    if (client.group_id) subjects.add(subjectForGroup(userId, client.group_id));
  }
  return subjects;
}

export class SessionStream {
  readonly #options: SessionStreamOptions;
  readonly #subscriptions = new Map<string, Subscription>();
  #clientUuids = new Set<string>();
  #level: Priority = "debug";
  #control: Subscription | undefined;
  #stopWatchingRecord: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Resyncs run one at a time, in order. */
  #resyncs: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: SessionStreamOptions) {
    this.#options = options;
  }

  get #nc(): NatsConnection {
    return this.#options.services.nc;
  }

  /** Subscribes the control subject first, then reads the record: no registration slips between. */
  async start(): Promise<void> {
    if (this.#closed) return; // the client went away before the stream started
    this.#control = this.#nc.subscribe(subjectForSessionSync(this.#options.sessionId), {
      callback: (error, message) => {
        if (error) return;
        void this.resync().then(() => message.respond());
      },
    });
    this.#stopWatchingRecord = this.#options.services.sessions.onChange(this.#options.userId, this.#options.sessionId, (record) => {
      // `touch` rewrites the record every minute; only a change of what is served matters.
      if (!this.#serves(record)) void this.resync();
    });
    await this.#nc.flush();
    await this.resync();
    if (this.#closed) return;
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatMs);
  }

  /** Whether the stream already serves exactly this record's clients at its level. */
  #serves(record: { client_uuids: string[]; log_level: Priority } | undefined): boolean {
    if (!record || record.log_level !== this.#level) return false;
    const uuids = new Set(record.client_uuids);
    return uuids.size === this.#clientUuids.size && [...uuids].every((uuid) => this.#clientUuids.has(uuid));
  }

  /** Re-reads the session record and the registry, and subscribes to exactly what they say. */
  resync(): Promise<void> {
    this.#resyncs = this.#resyncs
      .then(() => this.#resubscribe())
      .catch((error: unknown) => this.#options.logger.warn({ err: error }, "stream resync failed"));
    return this.#resyncs;
  }

  async #resubscribe(): Promise<void> {
    const { services, sessionId, userId } = this.#options;
    // Fresh: the registration that triggered this resync was written by another replica.
    const record = await services.sessions.get(userId, sessionId, { fresh: true });
    const uuids = new Set(record?.client_uuids ?? []);
    const clients = (await services.registry.list(userId)).filter((client) => uuids.has(client.uuid));
    if (this.#closed) return;
    this.#clientUuids = uuids;
    this.#level = record?.log_level ?? "debug";
    const wanted = subjectsForClients(userId, clients);
    for (const [subject, subscription] of this.#subscriptions) {
      if (wanted.has(subject)) continue;
      subscription.unsubscribe();
      this.#subscriptions.delete(subject);
    }
    for (const subject of wanted) {
      if (this.#subscriptions.has(subject)) continue;
      this.#subscriptions.set(
        subject,
        this.#nc.subscribe(subject, {
          callback: (error, message) => {
            if (!error) this.#receive(parseJsonSafely(message));
          },
        }),
      );
    }
    // The server has the new interest before the caller is told the stream is ready.
    await this.#nc.flush();
  }

  #receive(data: unknown): void {
    const parsed = EnvelopeSchema.safeParse(data);
    if (!parsed.success) {
      this.#options.logger.warn({ issues: parsed.error.issues }, "dropped a malformed envelope");
      return;
    }
    const envelope = parsed.data;
    // Receivers drop their own broadcasts; a session holding other clients still gets it.
    const someoneElse = [...this.#clientUuids].some((uuid) => uuid !== envelope.from_uuid);
    if (envelope.routing.type === "broadcast" && !someoneElse) return;
    if (!priorityPassesLevel(envelope.priority, this.#level)) return;
    this.#options.deliver(envelope);
  }

  async #beat(): Promise<void> {
    const { services, userId, logger } = this.#options;
    for (const uuid of this.#clientUuids) {
      await services.registry.heartbeat(userId, uuid).catch((error: unknown) => {
        logger.warn({ err: error, uuid }, "heartbeat failed");
      });
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#stopWatchingRecord?.();
    this.#control?.unsubscribe();
    for (const subscription of this.#subscriptions.values()) subscription.unsubscribe();
    this.#subscriptions.clear();
  }
}
