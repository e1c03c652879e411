/**
 * Benchmark: what a big bus costs. With 10 and with 10,000 registered peers of one user,
 * measured through the fabric:
 * - `blender_list_available_clients` (one page of 100, and filtered by group);
 * - picking a target: `blender_submit` with `target_uuid: "latest"` (pick, record, queue; the
 *   picked peers are registrations only, so the job waits in the stream and runs nowhere);
 * and, in the same run, what a user would do instead: read the user's registry straight from
 * JetStream KV (list the keys, get each). At 10 peers it also runs closed loops of concurrent
 * MCP sessions calling the list and `blender_send_message` (direct to a peer, which reads the
 * registry the same way), and counts the stream-info requests the gateway sends to the
 * registry's stream per call: the read-your-writes check each registry read waits for.
 * Last, on a 3-node cluster (R3 bucket, where that check goes to the stream leader), three
 * registries, one per node, read a user's 10 peers in closed loops: the bus without a gateway.
 *
 * Run with `npx tsx --conditions=fabric-source test/bench/registry.bench.ts`; writes
 * test/bench/reports/registry.md. Nothing here asserts a timing. The on-demand benchmark
 * measures the same list and pick costs beside cold and warm dispatch through the pool.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { BucketName } from "@blender-fabric/protocol";
import { ClientRegistry, openFabricBuckets } from "@blender-fabric/bus";
import { FabricTestClient, mintToken, startGatewayProcess, startNatsCluster, startNatsServer } from "@blender-fabric/testkit";
import { closedLoops, summarize, type Summary } from "./stats.js";
import { measureRegistryCosts, registryCostTable, type RegistryCostRow } from "./registry-costs.js";

const USER = "bench";
const SIZES = [10, 10_000];
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
/** How long each concurrent phase runs, after a warm-up of a third of it. ms */
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 4_000);
const CONCURRENCY_LEVELS = [1, 16];
/** Closed loops per registry in the cluster phase. */
const CLUSTER_LOOPS = [1, 16];
/** The subject of a stream-info request for the registry's stream. */
const STREAM_INFO_SUBJECT = `$JS.API.STREAM.INFO.KV_${BucketName.Clients}`;

type ConcurrentRow = { path: string; sessions: number; streamInfoPerCall: number } & Summary;
type ClusterRow = { loops: number; streamInfoPerCall: number } & Summary;

const nats = await startNatsServer();
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn" } });
const nc = await connect({ servers: nats.url });
const clients = await new Kvm(nc).open(BucketName.Clients);
const llm = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: USER }), name: "bench-registry" });
let rows: RegistryCostRow[] = [];
const concurrentRows: ConcurrentRow[] = [];

/** Closed loops of `sessions` MCP sessions calling `tool`; counts stream-info requests meanwhile. */
async function concurrentCalls(path: string, tool: string, args: Record<string, unknown>, sessions: number): Promise<ConcurrentRow> {
  const callers = await Promise.all(
    Array.from({ length: sessions }, async (_, index) =>
      FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: USER }), name: `bench-concurrent-${index}` }),
    ),
  );
  const call = async (session: number) => {
    await callers[session]!.call(tool, args);
  };
  await closedLoops(sessions, PHASE_MS / 3, call);
  let streamInfos = 0;
  // A core subscription sees every request published to the subject, as the server does.
  const counter = nc.subscribe(STREAM_INFO_SUBJECT, {
    callback: () => {
      streamInfos += 1;
    },
  });
  await nc.flush();
  const { latencies, elapsedMs } = await closedLoops(sessions, PHASE_MS, call);
  await nc.flush();
  counter.unsubscribe();
  await Promise.all(callers.map((caller) => caller.close()));
  const row = { path, sessions, streamInfoPerCall: streamInfos / latencies.length, ...summarize(latencies, elapsedMs) };
  console.log(
    `${sessions} sessions  ${path}: p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, ${row.throughput.toFixed(0)} calls/s, ` +
      `${row.streamInfoPerCall.toFixed(2)} stream-info requests per call`,
  );
  return row;
}

try {
  rows = await measureRegistryCosts({
    clients,
    llm,
    userId: USER,
    sizes: SIZES,
    runs: RUNS,
    afterSize: async (size) => {
      if (size !== SIZES[0]) return;
      for (const sessions of CONCURRENCY_LEVELS) {
        concurrentRows.push(await concurrentCalls("blender_list_available_clients", "blender_list_available_clients", {}, sessions));
        concurrentRows.push(
          await concurrentCalls("blender_send_message (direct to a peer)", "blender_send_message", { target_uuid: "peer-0", payload: { bench: true } }, sessions),
        );
      }
    },
  });
} finally {
  await llm.close();
  await nc.close();
  await gateway.stop();
  await nats.stop();
}

/** Registry reads on a 3-node cluster: one registry per node, `loops` closed loops of list() each. */
async function clusterReads(): Promise<ClusterRow[]> {
  const cluster = await startNatsCluster(3);
  const connections = await Promise.all(cluster.urls.map((url) => connect({ servers: url })));
  const registries: ClientRegistry[] = [];
  try {
    for (const connection of connections) {
      registries.push(await ClientRegistry.open((await openFabricBuckets(connection, 3, ["clients"])).clients));
    }
    for (let index = 0; index < SIZES[0]!; index += 1) {
      await registries[0]!.register(USER, { uuid: `peer-${index}`, client_type: "blender" });
    }
    const observer = connections[0]!;
    let streamInfos = 0;
    observer.subscribe(STREAM_INFO_SUBJECT, {
      callback: () => {
        streamInfos += 1;
      },
    });
    const read = async (session: number) => {
      await registries[session % registries.length]!.list(USER);
    };
    const clusterRows: ClusterRow[] = [];
    for (const loops of CLUSTER_LOOPS) {
      const sessions = loops * registries.length;
      await closedLoops(sessions, PHASE_MS / 3, read);
      await observer.flush();
      streamInfos = 0;
      const { latencies, elapsedMs } = await closedLoops(sessions, PHASE_MS, read);
      await observer.flush();
      const row = { loops, streamInfoPerCall: streamInfos / latencies.length, ...summarize(latencies, elapsedMs) };
      console.log(
        `cluster, ${loops} loops per registry: p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, ` +
          `${row.throughput.toFixed(0)} lists/s, ${row.streamInfoPerCall.toFixed(2)} stream-info requests per list`,
      );
      clusterRows.push(row);
    }
    return clusterRows;
  } finally {
    for (const registry of registries) registry.stop();
    await Promise.all(connections.map((connection) => connection.close()));
    await cluster.stop();
  }
}

const clusterTable = [
  "| loops per registry | lists | p50 ms | p99 ms | lists/s | stream-info requests per list |",
  "|---:|---:|---:|---:|---:|---:|",
  ...(await clusterReads()).map(
    (row) =>
      `| ${row.loops} | ${row.count} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.throughput.toFixed(0)} | ${row.streamInfoPerCall.toFixed(2)} |`,
  ),
].join("\n");

const table = registryCostTable(rows);
const concurrentTable = [
  "| path | sessions | calls | p50 ms | p99 ms | calls/s | stream-info requests per call |",
  "|---|---:|---:|---:|---:|---:|---:|",
  ...concurrentRows.map(
    (row) =>
      `| ${row.path} | ${row.sessions} | ${row.count} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.throughput.toFixed(0)} | ${row.streamInfoPerCall.toFixed(2)} |`,
  ),
].join("\n");
const report = `# Benchmark: the registry with 10 and 10,000 peers

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}.
One nats-server and one gateway; the peers are registrations of one user (as a bridge writes
them), in 100 groups. ${RUNS} calls per row, one at a time, after one warm-up call.

- **blender_list_available_clients**: served from the gateway's KV mirror after a read-your-writes
  sync (a JetStream stream-info round trip, shared by the reads waiting at the same time),
  filtered, sorted and cut to one page.
- **blender_submit with \`latest\`**: picks the most recently connected live peer from the mirror,
  writes the job record and queues the work.
- **raw KV**: what a program without the fabric does to see the same registry: list the keys
  with the user's prefix and get each one.

${table}

With ${SIZES[0]} peers, closed loops of concurrent MCP sessions for ${PHASE_MS / 1000} s each (after a
warm-up of a third of that); a send goes to one registered peer (it reads the registry the
same way, then publishes to a subject nobody listens on). The last column counts the
stream-info requests for the registry's stream that the server saw, per call.

${concurrentTable}

On a 3-node cluster (R3 bucket), three \`ClientRegistry\` instances, one connected to each node,
run closed loops of \`list()\` of a user with ${SIZES[0]} peers (no gateway, no MCP), ${PHASE_MS / 1000} s per row.
Each list waits for the read-your-writes check, which the stream leader answers.

${clusterTable}

Reproduce with \`npx tsx --conditions=fabric-source test/bench/registry.bench.ts\`.
`;
writeFileSync(join(dirname(fileURLToPath(import.meta.url)), "reports", "registry.md"), report);
console.log(`\n${table}\n\n${concurrentTable}\n\n${clusterTable}`);
