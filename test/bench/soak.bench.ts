/**
 * Benchmark: how the job store grows under sustained mixed traffic, and how the reaper's
 * retention bounds it (issue 16, bounded state).
 *
 * One nats-server, one gateway, one bridge with real headless Blender. Four MCP sessions run
 * closed loops of a mixed load (a dispatch `get_scene_info`, `blender_list_available_clients`,
 * `blender_send_message` with a `from_uuid`, so each makes a job record too) for
 * BENCH_SOAK_SECONDS, twice in the same run:
 * - **kept a day**: finished dispatches stay for the bucket's 24 h (the behaviour before
 *   the retention, and still that of jobs with a request id);
 * - **retention**: finished dispatches are purged BENCH_RETENTION_SECONDS after they end (the
 *   gateway's FABRIC_FINISHED_JOB_RETENTION_SECONDS; 600 s by default, shorter here so the
 *   plateau shows within the run).
 * It reports the `KV_fabric_jobs` stream's bytes and messages per 1,000 calls at the end of
 * the load and again once the retention has passed. Nothing here asserts.
 *
 * Run with `npx tsx --conditions=fabric-source test/bench/soak.bench.ts`; writes
 * test/bench/reports/soak.md.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { BucketName } from "@blender-fabric/protocol";
import { FabricTestClient, mintToken, startBridgeProcess, startGatewayProcess, startNatsServer } from "@blender-fabric/testkit";
import { closedLoops } from "./stats.js";

const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 45);
const RETENTION_SECONDS = Number(process.env.BENCH_RETENTION_SECONDS ?? 15);
const SESSIONS = 4;

type Row = { mode: string; calls: number; callsPerSecond: number; bytesAfterLoad: number; bytesAfterRetention: number; messagesAfterRetention: number };

async function soak(mode: string, retentionSeconds: number): Promise<Row> {
  const nats = await startNatsServer();
  const gateway = await startGatewayProcess({
    natsUrls: [nats.url],
    env: { FABRIC_LOG_LEVEL: "warn", FABRIC_FINISHED_JOB_RETENTION_SECONDS: String(retentionSeconds) },
  });
  const bridge = await startBridgeProcess({ natsUrls: [nats.url], user: "soak", uuid: "blender-soak" });
  const nc = await connect({ servers: nats.url });
  const token = await mintToken({ sub: "soak" });
  const clients = await Promise.all(Array.from({ length: SESSIONS }, (_, index) => FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token, name: `soak-${index}` })));
  const jobsStream = async () => (await (await jetstreamManager(nc)).streams.info(`KV_${BucketName.Jobs}`)).state;
  try {
    let turn = 0;
    const calls = [
      (client: FabricTestClient) => client.call("blender_get_scene_info", { target_uuid: "blender-soak" }),
      (client: FabricTestClient) => client.call("blender_list_available_clients", {}),
      (client: FabricTestClient) => client.call("blender_send_message", { from_uuid: "llm-soak", target_uuid: "llm-elsewhere", payload: { kind: "note", n: turn } }),
    ];
    const { latencies, elapsedMs } = await closedLoops(SESSIONS, SOAK_SECONDS * 1000, async (session) => {
      turn += 1;
      const answer = await calls[turn % calls.length]!(clients[session]!);
      if (answer.status !== "completed" && answer.status !== "ok") throw new Error(JSON.stringify(answer));
    });
    const afterLoad = await jobsStream();
    // Past the retention, and a reaper sweep or two (a day's retention is not waited for).
    const waits = retentionSeconds < 3_600;
    if (waits) await new Promise((resolve) => setTimeout(resolve, retentionSeconds * 1000 + 3_000));
    const afterRetention = waits ? await jobsStream() : afterLoad;
    return {
      mode,
      calls: latencies.length,
      callsPerSecond: (latencies.length / elapsedMs) * 1000,
      bytesAfterLoad: afterLoad.bytes,
      bytesAfterRetention: afterRetention.bytes,
      messagesAfterRetention: afterRetention.messages,
    };
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await nc.close();
    await bridge.stop();
    await gateway.stop();
    await nats.stop();
  }
}

const perThousand = (value: number, calls: number) => ((value / calls) * 1000).toFixed(0);

function formatTable(rows: Row[]): string {
  const header =
    "| finished dispatches | calls | calls/s | KV_fabric_jobs bytes after the load | per 1,000 calls | bytes once the retention passed | per 1,000 calls | records left |\n" +
    "|---|---:|---:|---:|---:|---:|---:|---:|";
  const line = (row: Row) =>
    `| ${row.mode} | ${row.calls} | ${row.callsPerSecond.toFixed(0)} | ${row.bytesAfterLoad} | ${perThousand(row.bytesAfterLoad, row.calls)} | ` +
    `${row.bytesAfterRetention} | ${perThousand(row.bytesAfterRetention, row.calls)} | ${row.messagesAfterRetention} |`;
  return [header, ...rows.map(line)].join("\n");
}

const rows = [await soak("kept a day (no retention)", 86_400), await soak(`purged ${RETENTION_SECONDS} s after they end`, RETENTION_SECONDS)];
console.log(formatTable(rows));

const report = `# Benchmark: job store growth under a soak, with and without the reaper's retention

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}.
One nats-server, one gateway, one bridge with headless Blender 3.4, all on this machine.
${SESSIONS} MCP sessions run closed loops for ${SOAK_SECONDS} s of a mixed load: the dispatch
\`get_scene_info\`, \`blender_list_available_clients\`, and \`blender_send_message\` with a
\`from_uuid\` (a job record of kind \`message\`, kept 24 h). The second row purges finished
dispatches ${RETENTION_SECONDS} s after they end (production default: 600 s,
\`FABRIC_FINISHED_JOB_RETENTION_SECONDS\`), the first keeps them for the bucket's 24 h.
"Once the retention passed" is read ${RETENTION_SECONDS + 3} s after the load ended.

${formatTable(rows)}

What stays with the retention is the message records (24 h, needed to route
\`blender_job_update\` back) and a purge marker per forgotten dispatch (NATS keeps one small
message per purged key until the bucket's max age). Every bucket also has a byte limit
(\`packages/bus/src/buckets.ts\`), so even traffic outside these kinds cannot grow the store
without bound.

Reproduce with \`npx tsx --conditions=fabric-source test/bench/soak.bench.ts\`
(BENCH_SOAK_SECONDS, BENCH_RETENTION_SECONDS).
`;
const reportPath = join(dirname(fileURLToPath(import.meta.url)), "reports", "soak.md");
writeFileSync(reportPath, report);
console.log(`\nreport written to ${reportPath}`);
