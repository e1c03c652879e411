/**
 * Read-your-writes for notification streams. After a tool changes which clients a session
 * holds (register, unregister, setLevel), it asks the replica holding that session's GET
 * stream to resubscribe, and waits for its answer, so a message sent right after
 * `blender_register_client` returns is never published to a subject nobody listens to yet.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { subjectForSessionSync } from "@blender-fabric/protocol";

/** How long a tool waits for the stream holder to resubscribe. ms */
const SYNC_TIMEOUT_MS = 2_000;

/** Resolves true when a stream holder answered, false when the session holds no stream. */
export async function requestSessionSync(nc: NatsConnection, sessionId: string): Promise<boolean> {
  try {
    await nc.request(subjectForSessionSync(sessionId), "", { timeout: SYNC_TIMEOUT_MS });
    return true;
  } catch {
    // No responders: nobody holds a stream for this session right now; the next GET
    // stream reads the session record when it opens, so nothing is lost.
    return false;
  }
}
