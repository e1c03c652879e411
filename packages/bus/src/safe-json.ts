/**
 * JSON from the network, parsed without throwing. A subscription callback or a KV watch
 * that throws on one malformed message stops the whole NATS reader (nats.js runs callbacks
 * on its socket loop), so every receiver of outside data goes through this.
 */
export function parseJsonSafely(source: { json<T>(): T }): unknown {
  try {
    return source.json();
  } catch {
    return undefined;
  }
}
