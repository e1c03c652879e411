/**
 * Durable inboxes (DESIGN.md section 13). A 2026-07-28 MCP client has no session stream, so
 * what the bus sends it must wait somewhere until it asks. nats-server itself keeps every bus
 * message in the stream `FABRIC_INBOX` (client, group, type and broadcast subjects, a day,
 * at most 1,000 per subject): nothing stands between a publish and its storage, so no process
 * can die in between. One client's inbox is a view of that stream: the messages on its own
 * subject, on its group's and type's subjects, and broadcasts from others, in stream order.
 *
 * A position in an inbox is a cursor `<stream sequence>.<tag>`: the tag names the (user,
 * client) it belongs to, so a cursor from another inbox is refused rather than silently
 * read in the wrong place. Readers get at-least-once delivery: a reader that loses its place
 * and reads from an older cursor sees the same messages again, with the same cursors.
 */
import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import {
  INBOX_STREAM_SUBJECTS,
  StreamName,
  subjectForBroadcast,
  subjectForClient,
  subjectForClientType,
  subjectForGroup,
  EnvelopeSchema,
  type ClientRecord,
  type Envelope,
} from "@blender-fabric/protocol";
import { retryJetStream } from "./kv-update.js";
import { BIND_DEADLINE_MS, JETSTREAM_API_TIMEOUT_MS, RECORD_RETENTION_MS } from "./buckets.js";

/** Messages kept per subject (per client, group, type, broadcast): the oldest go first. */
const INBOX_MESSAGES_PER_SUBJECT = 1_000;
/** The whole stream's cap, a backstop behind the per-subject one. */
const INBOX_STREAM_MAX_BYTES = 1024 ** 3;

/**
 * Stored messages one read looks at, at most: those for others on a shared subject (a group's
 * messages from before the client joined, its own broadcasts) are skipped without counting
 * toward `limit`, so a read stops here and says there is more.
 */
const MAX_LOOKS_PER_READ = 2_000;

export type InboxMessage = { cursor: string; envelope: Envelope };

export type InboxPage = {
  messages: InboxMessage[];
  /** Where the next read continues: the last message's cursor, or the one read from. */
  next_cursor: string;
  /** Whether more messages wait after this page. */
  has_more: boolean;
};

/** A cursor the inbox refuses: malformed, of another inbox, or past the stream's end. */
export class InboxCursorError extends Error {
  override name = "InboxCursorError";
}

const isNotFound = (error: unknown) => error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;

/** The tag of one (user, client) inbox: a short hash, so cursors say nothing of the ids. */
const tagOf = (userId: string, clientUuid: string) => createHash("sha256").update(`${userId}\u0000${clientUuid}`).digest("hex").slice(0, 12);

/** The cursor before everything in this inbox. */
export const inboxStart = (userId: string, clientUuid: string) => `0.${tagOf(userId, clientUuid)}`;

/** The subjects one client hears on (its group and type as registered now). */
export function inboxSubjectsOf(userId: string, client: ClientRecord): string[] {
  return [
    subjectForClient(userId, client.uuid),
    subjectForClientType(userId, client.client_type),
    subjectForBroadcast(userId),
    ...(client.group_id ? [subjectForGroup(userId, client.group_id)] : []),
  ];
}

/**
 * Whether a stored message is for this client: anything on its own subject; on a shared
 * subject, only what was sent after it registered, and never its own broadcast.
 */
export function inboxReaches(client: ClientRecord, envelope: Envelope, directSubject: boolean): boolean {
  if (directSubject) return true;
  if (envelope.timestamp < client.connected_at) return false;
  return !(envelope.routing.type === "broadcast" && envelope.from_uuid === client.uuid);
}

export class InboxStore {
  readonly #jsm: JetStreamManager;

  private constructor(jsm: JetStreamManager) {
    this.#jsm = jsm;
  }

  /** Creates the stream, or binds to it. `replicas`: 1 for one server, 3 for a cluster. */
  static open(nc: NatsConnection, replicas: number): Promise<InboxStore> {
    return retryJetStream(
      "bind the inbox stream",
      async () => {
        const jsm = await jetstreamManager(nc, { timeout: JETSTREAM_API_TIMEOUT_MS });
        const existing = await jsm.streams.info(StreamName.Inbox).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
          return undefined;
        });
        // A stream made before no_ack was set would answer requests on client subjects.
        if (existing && !existing.config.no_ack) await jsm.streams.update(StreamName.Inbox, { ...existing.config, no_ack: true });
        if (!existing) {
          await jsm.streams.add({
            name: StreamName.Inbox,
            subjects: [...INBOX_STREAM_SUBJECTS],
            retention: RetentionPolicy.Limits,
            storage: StorageType.File,
            num_replicas: replicas,
            max_age: nanos(RECORD_RETENTION_MS),
            max_msgs_per_subject: INBOX_MESSAGES_PER_SUBJECT,
            max_bytes: INBOX_STREAM_MAX_BYTES,
            // A full inbox drops its oldest messages, never the sender's new one.
            discard: DiscardPolicy.Old,
            // Stored without a reply: a request on a client subject (the gateway asks the peer
            // running a job to cancel it there) must get the peer's answer, not a JetStream ack.
            no_ack: true,
          });
        }
        return new InboxStore(jsm);
      },
      BIND_DEADLINE_MS,
    );
  }

  /** The stream sequence a cursor of this inbox stands at; throws InboxCursorError. */
  async positionOf(userId: string, clientUuid: string, cursor: string): Promise<number> {
    const match = /^(\d{1,16})\.([0-9a-f]{12})$/u.exec(cursor);
    if (!match) throw new InboxCursorError("not an inbox cursor (use one a read returned, or leave it out to read from the start)");
    if (match[2] !== tagOf(userId, clientUuid)) throw new InboxCursorError("this cursor belongs to another inbox");
    const sequence = Number(match[1]);
    if (sequence > 0) {
      const last = await this.#lastSequence();
      if (sequence > last) throw new InboxCursorError(`the cursor is past the end of the inbox (nothing was stored after ${last})`);
    }
    return sequence;
  }

  async #lastSequence(): Promise<number> {
    const info = await this.#jsm.streams.info(StreamName.Inbox);
    return info.state.last_seq;
  }

  /**
   * Up to `limit` messages of `client`'s inbox after stream sequence `after`, oldest first.
   * Each subject the client hears on is walked with direct gets (`next_by_subj`), and the
   * walks are merged by sequence: a page costs about one get per message.
   */
  async read(userId: string, client: ClientRecord, after: number, limit: number): Promise<InboxPage> {
    const tag = tagOf(userId, client.uuid);
    const direct = subjectForClient(userId, client.uuid);
    const heads = new Map<string, Promise<StoredHead | null>>();
    const next = (subject: string, from: number) => heads.set(subject, this.#nextOn(subject, from));
    for (const subject of inboxSubjectsOf(userId, client)) next(subject, after + 1);
    const messages: InboxMessage[] = [];
    let position = after;
    for (let looks = 0; ; looks += 1) {
      const candidates = (await Promise.all([...heads].map(async ([subject, head]) => ({ subject, head: await head })))).filter(
        (candidate): candidate is { subject: string; head: StoredHead } => candidate.head !== null,
      );
      if (candidates.length === 0) return { messages, next_cursor: `${position}.${tag}`, has_more: false };
      if (messages.length >= limit || looks >= MAX_LOOKS_PER_READ) return { messages, next_cursor: `${position}.${tag}`, has_more: true };
      const first = candidates.reduce((a, b) => (a.head.seq <= b.head.seq ? a : b));
      next(first.subject, first.head.seq + 1);
      position = first.head.seq;
      if (first.head.envelope && inboxReaches(client, first.head.envelope, first.subject === direct)) {
        messages.push({ cursor: `${first.head.seq}.${tag}`, envelope: first.head.envelope });
      }
    }
  }

  async #nextOn(subject: string, from: number): Promise<StoredHead | null> {
    // nats-server's MSG.GET takes `next_by_subj` with `seq` (the first match at or after it);
    // the client's type lists only `seq` and `last_by_subj`, and sends the query as it is.
    const message = await this.#jsm.streams.getMessage(StreamName.Inbox, { seq: from, next_by_subj: subject } as never);
    if (!message) return null;
    let envelope: Envelope | undefined;
    try {
      const parsed = EnvelopeSchema.safeParse(message.json());
      envelope = parsed.success ? parsed.data : undefined;
    } catch {
      envelope = undefined; // not JSON: not a fabric message, skipped
    }
    return { seq: message.seq, envelope };
  }
}

type StoredHead = { seq: number; envelope: Envelope | undefined };
