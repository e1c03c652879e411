/**
 * Benchmark: what a big bus costs. With 10 and with 10,000 registered peers of one user,
 * measured through the fabric:
 * - `blender_list_available_clients` (one page of 100, and filtered by group);
 * - picking a target: `blender_submit` with `target_uuid: "latest"` (pick, record, queue; the
 *   picked peers are registrations only, so the job waits in the stream and runs nowhere);
 * and, in the same run, what a user would do instead: read the user's registry straight from
 * JetStream KV (list the keys, get each).
 *
 * Run with `npx tsx --conditions=fabric-source test/bench/registry.bench.ts`; writes
 * test/bench/reports/registry.md. Nothing here asserts a timing. (Issue 9's on-demand
 * benchmark will add cold and warm dispatch through the pool.)
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { BucketName, epochSeconds, keyForClient, keyPrefixForUser } from "@blender-fabric/protocol";
import { FabricTestClient, mintToken, startGatewayProcess, startNatsServer } from "@blender-fabric/testkit";
import { percentile } from "./stats.js";

const USER = "bench";
const SIZES = [10, 10_000];
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

type Row = { peers: number; path: string; p50: number; p99: number };

async function measure(runs: number, operation: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  await operation(); // warm-up
  const latencies: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    await operation();
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

const nats = await startNatsServer();
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn" } });
const nc = await connect({ servers: nats.url });
const clients = await new Kvm(nc).open(BucketName.Clients);
const llm = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: USER }), name: "bench-registry" });
const rows: Row[] = [];
try {
  let registered = 0;
  for (const size of SIZES) {
    // Registrations as a bridge writes them, straight into KV (fast enough for 10,000).
    const writes: Promise<unknown>[] = [];
    for (; registered < size; registered += 1) {
      const now = epochSeconds();
      const record = {
        uuid: `peer-${registered}`, client_type: "blender", label: `peer-${registered}`, is_persistent: true,
        capabilities: ["rendering"], group_id: `group-${registered % 100}`, connected_at: now, last_seen: now + 3600,
      };
      writes.push(clients.put(keyForClient(USER, record.uuid), JSON.stringify(record)));
      if (writes.length >= 500) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const add = (path: string, figures: { p50: number; p99: number }) => {
      rows.push({ peers: size, path, ...figures });
      console.log(`${size} peers  ${path}: p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms`);
    };
    add("blender_list_available_clients (page of 100)", await measure(RUNS, () => llm.call("blender_list_available_clients")));
    add("blender_list_available_clients (group_id filter)", await measure(RUNS, () => llm.call("blender_list_available_clients", { group_id: "group-7" })));
    add("blender_submit target latest (pick + record + queue)", await measure(RUNS, () => llm.call("blender_submit", { command: "get_scene_info", target_uuid: "latest", deadline_seconds: 60 })));
    add("raw KV: list the user's keys, get each", await measure(Math.min(RUNS, size > 1000 ? 5 : RUNS), async () => {
      const keys: string[] = [];
      for await (const key of await clients.keys(`${keyPrefixForUser(USER)}>`)) keys.push(key);
      await Promise.all(keys.map((key) => clients.get(key)));
    }));
  }
} finally {
  await llm.close();
  await nc.close();
  await gateway.stop();
  await nats.stop();
}

const table = [
  "| peers | path | p50 ms | p99 ms |",
  "|---:|---|---:|---:|",
  ...rows.map((row) => `| ${row.peers} | ${row.path} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} |`),
].join("\n");
const report = `# Benchmark: the registry with 10 and 10,000 peers

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}.
One nats-server and one gateway; the peers are registrations of one user (as a bridge writes
them), in 100 groups. ${RUNS} calls per row, one at a time, after one warm-up call.

- **blender_list_available_clients**: served from the gateway's KV mirror after a read-your-writes
  sync (one JetStream stream-info round trip), filtered, sorted and cut to one page.
- **blender_submit with \`latest\`**: picks the most recently connected live peer from the mirror,
  writes the job record and queues the work.
- **raw KV**: what a program without the fabric does to see the same registry: list the keys
  with the user's prefix and get each one.

${table}

Reproduce with \`npx tsx --conditions=fabric-source test/bench/registry.bench.ts\`.
`;
writeFileSync(join(dirname(fileURLToPath(import.meta.url)), "reports", "registry.md"), report);
console.log(`\n${table}`);
