/**
 * Idempotent retries: the first request with a `request_id` claims the key in KV
 * `fabric_requests`; a repeat (on any replica, after any crash) reads the job it became.
 * Keys are scoped to the user, so two users' request ids never meet.
 */
import { randomUUID } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { RequestRecordSchema, epochSeconds, keyForRequest, type RequestRecord } from "@blender-fabric/protocol";
import { FinalAnswerError, parseJsonSafely, retryJetStream } from "@blender-fabric/bus";

/** The first use of a key (`first: true`), or the record an earlier use left. */
export type RequestClaim = { first: boolean; record: RequestRecord };

class KeyTaken extends FinalAnswerError {}

export class RequestLedger {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Claims `requestId` for a new job; a key already claimed returns the earlier record. */
  async claim(userId: string, requestId: string, fields: Omit<RequestRecord, "created_at" | "claim_id">): Promise<RequestClaim> {
    const key = keyForRequest(userId, requestId);
    const record: RequestRecord = { ...fields, claim_id: randomUUID(), created_at: epochSeconds() };
    return retryJetStream("claim a request id", async () => {
      try {
        await this.#kv.create(key, JSON.stringify(record));
        return { first: true, record };
      } catch (error) {
        const entry = await this.#kv.get(key);
        const earlier = entry?.operation === "PUT" ? RequestRecordSchema.safeParse(parseJsonSafely(entry)) : undefined;
        // Our own create whose reply was lost reads back as ours.
        if (earlier?.success) return { first: earlier.data.claim_id === record.claim_id, record: earlier.data };
        if (entry) throw new KeyTaken(`request id ${requestId} holds an unreadable record`, { cause: error });
        throw error; // not a conflict: JetStream trouble, retried
      }
    });
  }
}
