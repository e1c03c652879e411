/**
 * KV writes that ride out a JetStream cluster electing a new stream leader (several seconds
 * of "no responders" or timeouts after a node dies) and concurrent writers.
 */
import type { KV } from "@nats-io/kv";
import { ZodError } from "zod";
import { BusError, BusErrorCode, isStoreFull } from "./errors.js";
import { parseJsonSafely } from "./safe-json.js";

/** How long a write keeps retrying before it reports failure. ms */
const RETRY_DEADLINE_MS = 10_000;
const FIRST_BACKOFF_MS = 25;
const MAX_BACKOFF_MS = 1_000;

/** An answer, not a fault: retrying cannot change it, so retryJetStream passes it on at once. */
export class FinalAnswerError extends Error {
  override name = "FinalAnswerError";
}

/** Runs `operation` until it succeeds or `deadlineMs` passes. */
export async function retryJetStream<T>(
  what: string,
  operation: () => Promise<T>,
  deadlineMs: number = RETRY_DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
    try {
      return await operation();
    } catch (error) {
      // A value that does not validate will not validate on the next attempt either.
      if (error instanceof ZodError || error instanceof FinalAnswerError) throw error;
      // Nor does a full store empty itself: that is a quota, said at once.
      if (isStoreFull(error)) throw new BusError(BusErrorCode.StoreFull, `could not ${what}: the store is full`, { cause: error });
      if (Date.now() + backoff > deadline) {
        throw new BusError(BusErrorCode.Unavailable, `could not ${what}: ${String(error)}`, {
          cause: error,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}

/**
 * Applies `change` to the current JSON value of `key` (undefined when absent or deleted) and
 * writes the result only if nobody wrote in between; otherwise reads again and retries.
 * Returning `undefined` from `change` leaves the key untouched.
 */
export function updateWithRetry<Next>(
  kv: KV,
  key: string,
  change: (current: unknown) => Next,
): Promise<Next> {
  return retryJetStream(`write ${key}`, async () => {
    const entry = await kv.get(key);
    const exists = entry !== null && entry.operation === "PUT";
    const next = change(exists ? parseJsonSafely(entry) : undefined);
    if (next === undefined) return next;
    // A deleted key still has a revision (its delete marker), so update works for it too.
    if (entry) await kv.update(key, JSON.stringify(next), entry.revision);
    else await kv.create(key, JSON.stringify(next));
    return next;
  });
}
