/**
 * The keys of a KV bucket that match a filter, read from the stream's subject list: one
 * STREAM.INFO request (paged by the client for long lists), a snapshot of the moment it is
 * answered.
 *
 * Why not `kv.keys()`: it lists through an ordered consumer that ends when a delivered
 * message reports nothing pending, or at the first idle heartbeat. While one of the matching
 * keys is written faster than the consumer delivers (a job reporting progress every 100 ms on
 * a loaded machine), something is always pending and the consumer is never idle, so the
 * listing never ends; `blender_list_jobs` hung for as long as such a job ran.
 *
 * Deleted and purged keys keep their marker message, so they are listed here too; readers
 * skip them when they read the value.
 */
import type { JetStreamManager } from "@nats-io/jetstream";

/** Keys of `bucket` matching `filter` (a key pattern: `*` one token, `>` the rest). */
export async function listKvKeys(jsm: JetStreamManager, bucket: string, filter: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}${filter}` });
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
}
