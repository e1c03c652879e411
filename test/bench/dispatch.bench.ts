/**
 * Benchmark: dispatch tools end to end against a direct connection to the same addon.
 *
 * One headless Blender runs the addon. A bridge attaches to it (attach mode) and serves the
 * fabric path: MCP call -> gateway -> NATS -> bridge -> Blender -> bridge -> NATS -> gateway
 * -> MCP answer. The benchmark also opens its own connections straight to the addon's socket
 * (the direct path). Both paths measure `get_scene_info` and a trivial `execute_code` at 1
 * and 16 concurrent sessions, and report the addon handler's own time separately, so the
 * fabric's overhead is total minus handler.
 *
 * Run with `npm run bench`; writes test/bench/reports/dispatch.md. Nothing here asserts.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  FabricTestClient,
  findProgram,
  mintToken,
  startBridgeProcess,
  startGatewayProcess,
  startNatsServer,
} from "@blender-fabric/testkit";
// The benchmark drives the addon directly with the bridge's own client and launcher.
import { AddonConnection } from "../../services/bridge/src/addon-connection.js";
import { startBlender } from "../../services/bridge/src/blender-process.js";
import { closedLoops, summarize, type Summary } from "./stats.js";
import { cpuPerCall, sampleFabricCpu, type CpuSample } from "./process-cpu.js";

const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 6_000);
const WARMUP_MS = 1_000;
/** Concurrent sessions per cell (BENCH_SESSIONS, comma-separated). */
const CONCURRENCY_LEVELS = (process.env.BENCH_SESSIONS ?? "1,8,16").split(",").map(Number);
const WORKLOADS = [
  { command: "get_scene_info", params: {} },
  { command: "execute_code", params: { code: "x = 1" } },
] as const;

type Row = { path: string; command: string; sessions: number; handlerP50: number; overheadP50: number; cpu?: CpuSample } & Summary;

const median = (values: number[]) => summarize(values, 1).p50;

async function benchFabric(clients: FabricTestClient[], command: string, params: object, sessions: number): Promise<Row> {
  const handler: number[] = [];
  const overhead: number[] = [];
  const roundTrip = async (session: number) => {
    const before = performance.now();
    const answer = await clients[session]!.call(`blender_${command}`, params as Record<string, unknown>);
    const total = performance.now() - before;
    if (answer.status !== "completed") throw new Error(`${command}: ${JSON.stringify(answer)}`);
    handler.push(answer.handler_ms);
    overhead.push(total - answer.handler_ms);
  };
  await closedLoops(sessions, WARMUP_MS, roundTrip);
  handler.length = 0;
  overhead.length = 0;
  const cpuBefore = sampleFabricCpu();
  const { latencies, elapsedMs } = await closedLoops(sessions, PHASE_MS, roundTrip);
  const cpu = cpuPerCall(cpuBefore, sampleFabricCpu(), latencies.length);
  return { path: "fabric (MCP -> gateway -> NATS -> bridge)", command, sessions, handlerP50: median(handler), overheadP50: median(overhead), cpu, ...summarize(latencies, elapsedMs) };
}

async function benchDirect(connections: AddonConnection[], command: string, params: object, sessions: number): Promise<Row> {
  const handler: number[] = [];
  const overhead: number[] = [];
  const roundTrip = async (session: number) => {
    const before = performance.now();
    const reply = await connections[session]!.request({ type: "command", command, params: params as Record<string, unknown>, job_id: null });
    const total = performance.now() - before;
    if (!reply.ok) throw new Error(`${command}: ${reply.error}`);
    handler.push(reply.duration_ms ?? 0);
    overhead.push(total - (reply.duration_ms ?? 0));
  };
  await closedLoops(sessions, WARMUP_MS, roundTrip);
  handler.length = 0;
  overhead.length = 0;
  const { latencies, elapsedMs } = await closedLoops(sessions, PHASE_MS, roundTrip);
  return { path: "direct (TCP to the addon)", command, sessions, handlerP50: median(handler), overheadP50: median(overhead), ...summarize(latencies, elapsedMs) };
}

function formatTable(rows: Row[]): string {
  const header =
    "| path | command | sessions | calls | p50 ms | p99 ms | calls/s | handler p50 ms | overhead p50 ms | CPU ms per call: gateway / bridge / nats-server |\n" +
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|";
  const cpu = (sample: CpuSample | undefined) =>
    sample ? `${sample.gateway.toFixed(2)} / ${sample.bridge.toFixed(2)} / ${sample["nats-server"].toFixed(2)}` : "";
  const line = (row: Row) =>
    `| ${row.path} | ${row.command} | ${row.sessions} | ${row.count} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ` +
    `${row.throughput.toFixed(0)} | ${row.handlerP50.toFixed(3)} | ${row.overheadP50.toFixed(2)} | ${cpu(row.cpu)} |`;
  return [header, ...rows.map(line)].join("\n");
}

const nats = await startNatsServer();
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn" } });
const blender = await startBlender({ executable: findProgram("blender"), blendFile: "", addonPreferences: "{}", onOutput: () => {} });
const bridge = await startBridgeProcess({
  natsUrls: [nats.url],
  user: "bench",
  uuid: "blender-bench",
  env: {
    FABRIC_MODE: "attach",
    FABRIC_ADDON_PORT: String(blender.port),
    FABRIC_ADDON_TOKEN: blender.token,
  },
});
const maxSessions = Math.max(...CONCURRENCY_LEVELS);
const token = await mintToken({ sub: "bench" });
const clients = await Promise.all(
  Array.from({ length: maxSessions }, (_, index) => FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token, name: `bench-${index}` })),
);
const connections = await Promise.all(
  Array.from({ length: maxSessions }, () => AddonConnection.open("127.0.0.1", blender.port, blender.token)),
);

const rows: Row[] = [];
try {
  for (const { command, params } of WORKLOADS) {
    for (const sessions of CONCURRENCY_LEVELS) {
      const pair = [await benchDirect(connections, command, params, sessions), await benchFabric(clients, command, params, sessions)];
      rows.push(...pair);
      console.log(formatTable(pair));
    }
  }
} finally {
  await Promise.allSettled(clients.map((client) => client.close()));
  for (const connection of connections) connection.close();
  await bridge.stop();
  blender.child.kill("SIGKILL");
  await gateway.stop();
  await nats.stop();
}

const report = `# Benchmark: dispatch tools, fabric path against a direct addon connection

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}.
One headless Blender 3.4 runs the addon; everything (nats-server, one gateway process, the
bridge process, Blender and this benchmark's clients) shares the same machine. Each cell is a
closed loop per session for ${PHASE_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up.

- **fabric**: the MCP SDK client calls \`blender_<command>\` on the gateway; the gateway
  records the job in KV (with its deadline), stores \`command_dispatch\` in the work-queue
  stream \`FABRIC_WORK\`, and waits on the job subject; the bridge (attached to the Blender)
  takes it from its durable consumer through the peer API (the gateway forwards its pull),
  claims the job (compare-and-set queued -> running, served by the gateway), runs it, and
  ends it (the gateway records the end and acknowledges the message).
- **direct**: the benchmark's own TCP connections to the same addon socket, one per session.
- **handler**: the addon handler's own time on Blender's main thread (\`duration_ms\` of the
  reply). **overhead** = round trip − handler, per call; the p50 of that is shown.
- **CPU ms per call**: CPU time (user + system, from /proc) the gateway, bridge and
  nats-server processes spent during the phase, divided by its calls
  (\`test/bench/process-cpu.ts\`). It varies less between runs than calls/s on a shared machine.

Blender runs one command at a time, so at 16 sessions both paths queue behind its main thread.

${formatTable(rows)}

Reproduce with \`npm run bench\` (BENCH_PHASE_MS sets the phase length).
`;
const reportPath = join(dirname(fileURLToPath(import.meta.url)), "reports", "dispatch.md");
writeFileSync(reportPath, report);
console.log(`\nreport written to ${reportPath}`);
