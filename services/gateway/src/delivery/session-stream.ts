/**
 * Delivery to one MCP session's GET stream. The replica holding the stream subscribes to the
 * subjects of every client uuid registered in the session (client, group, type, broadcast)
 * and forwards each envelope as a `notifications/message` with logger `_message_bus`.
 *
 * Which uuids, and which log level, come from the session record in KV, so registrations
 * and `logging/setLevel` served by any replica reach this one: they ask it to resync on the
 * session's control subject (see session-sync.ts) and wait for the answer.
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
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SessionStreamOptions) {
    this.#options = options;
  }

  get #nc(): NatsConnection {
    return this.#options.services.nc;
  }

  /** Subscribes the control subject first, then reads the record: no registration slips between. */
  async start(): Promise<void> {
    this.#control = this.#nc.subscribe(subjectForSessionSync(this.#options.sessionId), {
      callback: (error, message) => {
        if (error) return;
        this.resync().then(
          () => message.respond(),
          (cause: unknown) => this.#options.logger.warn({ err: cause }, "stream resync failed"),
        );
      },
    });
    await this.#nc.flush();
    await this.resync();
    if (this.#closed) return;
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatMs);
  }

  /** Re-reads the session record and the registry, and subscribes to exactly what they say. */
  async resync(): Promise<void> {
    const { services, sessionId, userId } = this.#options;
    // Fresh: the registration that triggered this resync was written by another replica.
    const record = await services.sessions.get(sessionId, { fresh: true });
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
            if (!error) this.#receive(message.json());
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
    this.#control?.unsubscribe();
    for (const subscription of this.#subscriptions.values()) subscription.unsubscribe();
    this.#subscriptions.clear();
  }
}
