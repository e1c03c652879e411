/** Read-modify-write on one KV key with compare-and-set, retried on conflicting writers. */
import type { KV } from "@nats-io/kv";
import { BusError, BusErrorCode } from "./errors.js";

const MAX_ATTEMPTS = 10;

/**
 * Applies `change` to the current JSON value of `key` (undefined when absent or deleted) and
 * writes the result only if nobody wrote in between; retries otherwise. Returning `undefined`
 * from `change` leaves the key untouched.
 */
export async function updateWithRetry<Next>(
  kv: KV,
  key: string,
  change: (current: unknown) => Next,
): Promise<Next> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    const entry = await kv.get(key);
    const exists = entry !== null && entry.operation === "PUT";
    const next = change(exists ? entry.json() : undefined);
    if (next === undefined) return next;
    try {
      // A deleted key still has a revision (its delete marker), so update works for it too.
      if (entry) await kv.update(key, JSON.stringify(next), entry.revision);
      else await kv.create(key, JSON.stringify(next));
      return next;
    } catch (error) {
      if (attempt === MAX_ATTEMPTS) {
        throw new BusError(BusErrorCode.Conflict, `too many concurrent writers on ${key}`, {
          cause: error,
        });
      }
    }
  }
  throw new BusError(BusErrorCode.Conflict, `unreachable: ${key}`);
}
