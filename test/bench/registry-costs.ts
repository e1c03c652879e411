/**
 * What a big bus costs through the fabric, for the registry and on-demand benchmarks: with
 * N registered peers of one user, `blender_list_available_clients` (a page, and filtered by
 * group) and picking a target (`blender_submit` with `latest`), against reading the user's
 * registry straight from JetStream KV, in the same run.
 */
import type { KV } from "@nats-io/kv";
import { epochSeconds, keyForClient, keyPrefixForUser } from "@blender-fabric/protocol";
import type { FabricTestClient } from "@blender-fabric/testkit";
import { percentile } from "./stats.js";

export type RegistryCostRow = { peers: number; path: string; p50: number; p99: number };

/** p50 and p99 of `runs` calls, one at a time, after one warm-up call. ms */
async function measure(runs: number, operation: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  await operation();
  const latencies: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    await operation();
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/**
 * Registers peers of `userId` straight into KV (as bridges write them; fast enough for
 * 10,000), in 100 groups, up to each size in turn, and measures at each. `afterSize` runs
 * more measurements at a size before the registry grows.
 */
export async function measureRegistryCosts(options: {
  clients: KV;
  llm: FabricTestClient;
  userId: string;
  sizes: number[];
  runs: number;
  afterSize?: (size: number) => Promise<void>;
}): Promise<RegistryCostRow[]> {
  const { clients, llm, userId, runs } = options;
  const rows: RegistryCostRow[] = [];
  let registered = 0;
  for (const size of options.sizes) {
    const writes: Promise<unknown>[] = [];
    for (; registered < size; registered += 1) {
      const now = epochSeconds();
      const record = {
        uuid: `peer-${registered}`, client_type: "blender", label: `peer-${registered}`, is_persistent: true,
        capabilities: ["rendering"], group_id: `group-${registered % 100}`, connected_at: now, last_seen: now + 3600,
      };
      writes.push(clients.put(keyForClient(userId, record.uuid), JSON.stringify(record)));
      if (writes.length >= 500) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const add = (path: string, figures: { p50: number; p99: number }) => {
      rows.push({ peers: size, path, ...figures });
      console.log(`${size} peers  ${path}: p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms`);
    };
    add("blender_list_available_clients (page of 100)", await measure(runs, () => llm.call("blender_list_available_clients")));
    add("blender_list_available_clients (group_id filter)", await measure(runs, () => llm.call("blender_list_available_clients", { group_id: "group-7" })));
    add("blender_submit target latest (pick + record + queue)", await measure(runs, () => llm.call("blender_submit", { command: "get_scene_info", target_uuid: "latest", deadline_seconds: 60 })));
    add("raw KV: list the user's keys, get each", await measure(Math.min(runs, size > 1000 ? 5 : runs), async () => {
      const keys: string[] = [];
      for await (const key of await clients.keys(`${keyPrefixForUser(userId)}>`)) keys.push(key);
      await Promise.all(keys.map((key) => clients.get(key)));
    }));
    await options.afterSize?.(size);
  }
  return rows;
}

export function registryCostTable(rows: RegistryCostRow[]): string {
  return [
    "| peers | path | p50 ms | p99 ms |",
    "|---:|---|---:|---:|",
    ...rows.map((row) => `| ${row.peers} | ${row.path} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} |`),
  ].join("\n");
}
