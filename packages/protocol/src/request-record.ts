/**
 * An idempotency key in `fabric_requests` (key `<u>.<request_id>`): which job a caller's
 * request became, so a retry with the same `request_id` finds that job instead of starting
 * another. Remembered for REQUEST_ID_RETENTION_SECONDS.
 */
import { createHash } from "node:crypto";
import { z } from "zod";

export const RequestRecordSchema = z.object({
  job_id: z.string(),
  /** The tool that took the request first. */
  tool: z.string(),
  /** A digest of what the request asked for: a key reused for other work is refused. */
  fingerprint: z.string(),
  /** A bus message's answer, returned as it was to a repeat (bus messages are not jobs). */
  answer: z.record(z.string(), z.unknown()).optional(),
  /** Random per claim: tells a claim whose reply was lost from another caller's. */
  claim_id: z.string(),
  /** Seconds since the epoch. */
  created_at: z.number(),
});
export type RequestRecord = z.infer<typeof RequestRecordSchema>;

/** The digest of a request's work (its command and parameters, or a message and its routing). */
export const requestFingerprint = (work: unknown): string =>
  createHash("sha256").update(JSON.stringify(work)).digest("hex").slice(0, 32);
