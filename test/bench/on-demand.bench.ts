/**
 * Benchmark: Blender on demand (seed 004). Through the fabric, with the pool:
 * - cold dispatch: `blender_execute_code` to `project:<id>` while no peer of the project runs,
 *   until the answer (the pool sees the work, starts a bridge, Blender starts and opens the
 *   project's saved scene, the job runs); the peer then idles out before the next run;
 * - warm dispatch: the same call while the project's peer runs;
 * and, in the same run, what a user would do instead:
 * - start Blender themselves for the same one-liner (`blender -b --factory-startup
 *   --python-expr ...`, start to exit), Blender's own start time;
 * - keep a Blender running all the time and dispatch to it by uuid (a hand-started bridge).
 * Last, what finding a peer costs on a big bus: list and pick with 10 and 10,000 registered
 * peers, against reading the registry straight from KV (registry-costs.ts).
 *
 * Run with `npx tsx --conditions=fabric-source test/bench/on-demand.bench.ts`; writes
 * test/bench/reports/on-demand.md. Nothing here asserts a timing.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  FabricTestClient,
  findProgram,
  mintToken,
  startBridgeProcess,
  startGatewayProcess,
  startNatsServer,
  startPoolProcess,
  waitFor,
} from "@blender-fabric/testkit";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { BucketName } from "@blender-fabric/protocol";
import { percentile } from "./stats.js";
import { measureRegistryCosts, registryCostTable, type RegistryCostRow } from "./registry-costs.js";

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 12);
const REGISTRY_RUNS = Number(process.env.BENCH_RUNS ?? 30);
/** Another user's bus, so its registrations are not the pool's concern. */
const REGISTRY_USER = "bench-big-bus";
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 100);
const USER = "bench";
const CODE = "import bpy\nprint(len(bpy.data.objects))";
/** A project peer idles out this soon, so cold runs follow each other quickly. Seconds */
const IDLE_SECONDS = 1;

type Row = { path: string; runs: number; p50: number; p99: number; min: number; max: number };

function summarizeRuns(path: string, latencies: number[]): Row {
  const sorted = [...latencies].sort((a, b) => a - b);
  const row = { path, runs: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), min: sorted[0]!, max: sorted.at(-1)! };
  console.log(`${path}: p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms (${row.runs} runs)`);
  return row;
}

async function timed(operation: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await operation();
  return performance.now() - started;
}

const nats = await startNatsServer();
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn" } });
const poolState = mkdtempSync(join(tmpdir(), "bench-pool-"));
const pool = await startPoolProcess({
  natsUrls: [nats.url],
  // info: the pool's and the bridges' log lines time each cold start's steps.
  env: { FABRIC_POOL_WARM: "0", FABRIC_IDLE_SECONDS: String(IDLE_SECONDS), FABRIC_LOG_LEVEL: "info", FABRIC_POOL_STATE_DIR: poolState },
});
const alwaysOn = await startBridgeProcess({ natsUrls: [nats.url], user: USER, uuid: "blender-always-on" });
const llm = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: USER }), name: "bench-on-demand" });
const rows: Row[] = [];
let registryRows: RegistryCostRow[] = [];

const dispatch = async (target: string): Promise<string> => {
  const answer = await llm.call("blender_execute_code", { target_uuid: target, code: CODE });
  if (answer.status !== "completed") throw new Error(`${target}: ${JSON.stringify(answer)}`);
  return answer.target_uuid;
};

type LogLine = { time: number; msg: string; uuid?: string };
const logLines = (text: string): LogLine[] =>
  text.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });

/** Where one cold start's time went, from the pool's and the new bridge's log lines. ms */
function coldSteps(callStartedAt: number, answeredAt: number, peerUuid: string) {
  const spawned = logLines(pool.output()).find((line) => line.msg === "starting a peer" && line.uuid === peerUuid)!.time;
  const ready = logLines(readFileSync(join(poolState, "logs", `${peerUuid}.log`), "utf8")).find((line) => line.msg === "bridge ready")!.time;
  return { wake: spawned - callStartedAt, boot: ready - spawned, run: answeredAt - ready };
}
const projectPeers = async () =>
  ((await llm.call("blender_list_available_clients")).persistent as { project_id?: string }[]).filter((peer) => peer.project_id);

try {
  const blender = findProgram("blender");
  const ownStart: number[] = [];
  for (let run = 0; run < COLD_RUNS; run += 1) {
    ownStart.push(await timed(() => promisify(execFile)(blender, ["-b", "--factory-startup", "--python-expr", CODE])));
  }
  rows.push(summarizeRuns("Blender's own start: `blender -b --factory-startup --python-expr` (start to exit)", ownStart));

  const cold: number[] = [];
  const steps = { wake: [] as number[], boot: [] as number[], run: [] as number[] };
  for (let run = 0; run < COLD_RUNS; run += 1) {
    await waitFor("the project's peer to idle out", async () => (await pool.peers()).length === 0 && (await projectPeers()).length === 0, 60_000, 100);
    const startedAt = Date.now();
    const started = performance.now();
    const peer = await dispatch("project:bench");
    cold.push(performance.now() - started);
    const step = coldSteps(startedAt, Date.now(), peer);
    steps.wake.push(step.wake);
    steps.boot.push(step.boot);
    steps.run.push(step.run);
  }
  rows.push(summarizeRuns("cold dispatch: `project:bench` with no peer running (pool starts one; saved scene reopened)", cold));
  rows.push(summarizeRuns("… of which: call until the pool spawns the bridge (wake, read demand)", steps.wake));
  rows.push(summarizeRuns("… of which: bridge spawned until registered (Node, NATS, Blender, scene)", steps.boot));
  rows.push(summarizeRuns("… of which: registered until answered (take work, claim, run, answer)", steps.run));

  const warm: number[] = [];
  await dispatch("project:bench");
  for (let run = 0; run < WARM_RUNS; run += 1) warm.push(await timed(() => dispatch("project:bench")));
  rows.push(summarizeRuns("warm dispatch: `project:bench` while its peer runs", warm));

  const direct: number[] = [];
  await dispatch(alwaysOn.uuid);
  for (let run = 0; run < WARM_RUNS; run += 1) direct.push(await timed(() => dispatch(alwaysOn.uuid)));
  rows.push(summarizeRuns("always-on peer by uuid (a bridge started by hand)", direct));

  const nc = await connect({ servers: nats.url });
  const bigBus = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: REGISTRY_USER }), name: "bench-big-bus" });
  try {
    const clients = await new Kvm(nc).open(BucketName.Clients);
    registryRows = await measureRegistryCosts({ clients, llm: bigBus, userId: REGISTRY_USER, sizes: [10, 10_000], runs: REGISTRY_RUNS });
  } finally {
    await bigBus.close();
    await nc.close();
  }
} finally {
  await llm.close();
  await alwaysOn.stop();
  await pool.stop();
  await gateway.stop();
  await nats.stop();
}

const table = [
  "| path | runs | p50 ms | p99 ms | min ms | max ms |",
  "|---|---:|---:|---:|---:|---:|",
  ...rows.map((row) => `| ${row.path} | ${row.runs} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.min.toFixed(1)} | ${row.max.toFixed(1)} |`),
].join("\n");
const report = `# Benchmark: Blender on demand

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, Blender 3.4 (Debian).
Everything (nats-server, one gateway process, the pool, its bridges and Blenders, and this
benchmark's MCP client) shares the machine. The call is \`blender_execute_code\` with
\`${CODE.replaceAll("\n", "; ")}\`, answered end to end through MCP.

- **cold**: no peer of the project runs; the pool wakes on the work's publish, starts a bridge
  with headless Blender, which downloads and opens the project's saved scene (after the first
  run), registers and takes the work. Between runs the peer idles out (FABRIC_IDLE_SECONDS=${IDLE_SECONDS}),
  saves the scene and leaves.
- The three "of which" rows split each cold start by the pool's and the bridge's log lines
  (millisecond timestamps on one machine). The bridge runs from source under tsx here, as in
  \`npm start\`; a built image runs \`dist\`, whose modules loaded about 0.2 s faster in a separate measurement (not part of this run).
- **Blender's own start** is what starting Blender yourself for the same line costs: the floor
  under any cold start that runs a real Blender.
- **warm** and **always-on**: sequential calls to a running peer, through its project's subject
  and by uuid.

${table}

Finding a peer on a big bus: ${REGISTRY_RUNS} calls per row, one at a time, with 10 and then 10,000
registered peers of one user (100 groups), through the same gateway; **raw KV** is what a
program without the fabric does to see the same registry (list the user's keys, get each).

${registryCostTable(registryRows)}

Reproduce with \`npx tsx --conditions=fabric-source test/bench/on-demand.bench.ts\` (BENCH_COLD_RUNS, BENCH_WARM_RUNS).
`;
const reportPath = join(dirname(fileURLToPath(import.meta.url)), "reports", "on-demand.md");
writeFileSync(reportPath, report);
console.log(`\nreport written to ${reportPath}`);
