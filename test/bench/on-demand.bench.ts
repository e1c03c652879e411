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
import { cpus, loadavg, tmpdir } from "node:os";
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

/** The machine's 1-minute load average as the run began: other work slows the cold path, four processes at once, more than Blender alone. */
const LOAD_AT_START = loadavg()[0]!;
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
/** What the pool's bridges ran from: `dist` (a current build) or `source` (tsx). */
const runsFrom = new Set<string>();
/** How many cold starts the pool's standby bridge served (the others spawned a bridge). */
let fromStandby = 0;
let registryRows: RegistryCostRow[] = [];

const dispatch = async (target: string): Promise<string> => {
  const answer = await llm.call("blender_execute_code", { target_uuid: target, code: CODE });
  if (answer.status !== "completed") throw new Error(`${target}: ${JSON.stringify(answer)}`);
  return answer.target_uuid;
};

type LogLine = { time: number; msg: string; uuid?: string; ms?: number; runs_from?: string; standby?: boolean };
const logLines = (text: string): LogLine[] =>
  text.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });

/** The steps of one cold start, in order, each until the next one starts. */
const COLD_STEPS = {
  wake: "call until the pool spawns the bridge (wake, read demand)",
  node: "bridge spawned, or the pool's standby bridge told which peer it is, until it starts Blender",
  blender: "Blender starting until ready (headless Blender and the addon in their sandbox, handshake)",
  scene: "Blender ready until the bridge takes work (scene opened; registration, consumers meanwhile)",
  run: "taking work until answered (pull, claim, run, answer)",
} as const;
type ColdStep = keyof typeof COLD_STEPS | "natsSide";

/** Where one cold start's time went, from the pool's and the new bridge's log lines. ms */
function coldSteps(callStartedAt: number, answeredAt: number, peerUuid: string): Record<ColdStep, number> & { runsFrom: string; standby: boolean } {
  const spawned = logLines(pool.output()).find((line) => line.msg === "starting a peer" && line.uuid === peerUuid)!.time;
  const bridge = logLines(readFileSync(join(poolState, "logs", `${peerUuid}.log`), "utf8"));
  const at = (msg: string) => bridge.find((line) => line.msg === msg)!;
  const blenderReady = at("Blender ready");
  const blenderStarting = blenderReady.time - blenderReady.ms!;
  const takingWork = at("bridge taking work").time;
  return {
    wake: spawned - callStartedAt,
    node: blenderStarting - spawned,
    blender: blenderReady.time - blenderStarting,
    scene: takingWork - blenderReady.time,
    run: answeredAt - takingWork,
    natsSide: at("project scene downloaded").time - spawned,
    runsFrom: at("bridge starting").runs_from ?? "source",
    standby: at("bridge starting").standby === true,
  };
}
const projectPeers = async () =>
  ((await llm.call("blender_list_available_clients")).persistent as { project_id?: string }[]).filter((peer) => peer.project_id);

try {
  const blender = findProgram("blender");
  const ownStart: number[] = [];
  const cold: number[] = [];
  const steps: Record<ColdStep, number[]> = { wake: [], node: [], blender: [], scene: [], run: [], natsSide: [] };
  for (let run = 0; run < COLD_RUNS; run += 1) {
    await waitFor("the project's peer to idle out", async () => (await pool.peers()).length === 0 && (await projectPeers()).length === 0, 60_000, 100);
    // Right before each cold start, so both see the same load on a shared machine.
    ownStart.push(await timed(() => promisify(execFile)(blender, ["-b", "--factory-startup", "--python-expr", CODE])));
    const startedAt = Date.now();
    const started = performance.now();
    const peer = await dispatch("project:bench");
    cold.push(performance.now() - started);
    const { runsFrom: from, standby, ...step } = coldSteps(startedAt, Date.now(), peer);
    runsFrom.add(from);
    if (standby) fromStandby += 1;
    for (const name of Object.keys(steps) as ColdStep[]) steps[name].push(step[name]);
  }
  rows.push(summarizeRuns("Blender's own start: `blender -b --factory-startup --python-expr` (start to exit)", ownStart));
  rows.push(summarizeRuns("cold dispatch: `project:bench` with no peer running (pool starts one; saved scene reopened)", cold));
  for (const [name, path] of Object.entries(COLD_STEPS)) rows.push(summarizeRuns(`… of which: ${path}`, steps[name as ColdStep]));
  rows.push(summarizeRuns("… meanwhile, beside Blender's start: bridge spawned until its NATS side is ready (modules, connect, lease, scene downloaded)", steps.natsSide));
  // What Node itself costs before the bridge's first line runs, as the bridges were started.
  const nodeStart: number[] = [];
  const nodeStartWithoutCaFile: number[] = [];
  const withoutCaFile = { ...process.env, NODE_EXTRA_CA_CERTS: "" };
  for (let run = 0; run < COLD_RUNS; run += 1) {
    nodeStart.push(await timed(() => promisify(execFile)(process.execPath, ["-e", ""])));
    if (process.env.NODE_EXTRA_CA_CERTS) nodeStartWithoutCaFile.push(await timed(() => promisify(execFile)(process.execPath, ["-e", ""], { env: withoutCaFile })));
  }
  rows.push(summarizeRuns("Node's own start: `node -e \"\"` (start to exit), in the bridges' environment", nodeStart));
  if (nodeStartWithoutCaFile.length > 0) rows.push(summarizeRuns("… the same without NODE_EXTRA_CA_CERTS, which this environment sets (Node reads the whole file as it starts)", nodeStartWithoutCaFile));

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
benchmark's MCP client) shares the machine, whose 1-minute load average was
${LOAD_AT_START.toFixed(2)} as the run began and ${loadavg()[0]!.toFixed(2)} as it ended. The call is \`blender_execute_code\` with
\`${CODE.replaceAll("\n", "; ")}\`, answered end to end through MCP.

- **cold**: no peer of the project runs; the pool wakes on the work's publish and starts a
  bridge: it hands the peer's environment to the standby bridge it keeps (a Node process that
  has loaded all of the bridge and waits; services/bridge/src/standby.ts), or spawns one when
  none waits. The bridge starts headless Blender first, from the raw environment, before
  anything else (services/bridge/src/blender-start.ts); meanwhile it loads what it has not
  loaded yet, connects,
  takes the project's lease and downloads the project's saved scene (after the first run).
  Once both are there, Blender opens the scene while the bridge registers and opens its
  consumers; then it takes the work. Between runs the peer idles out
  (FABRIC_IDLE_SECONDS=${IDLE_SECONDS}), saves the scene and leaves.
- The "of which" rows split each cold start into consecutive steps by the pool's and the
  bridge's log lines (millisecond timestamps on one machine); the "meanwhile" row runs beside
  Blender's start, so it is not part of the sum. The pool starts a bridge from the build
  output (\`dist\`) when it is current with the sources (\`npm run build\`), else from source
  under tsx, which costs a few hundred ms more before Blender starts. This run's bridges ran
  from: ${[...runsFrom].join(" and ") || "none"}; ${fromStandby} of ${COLD_RUNS} cold starts were served by the pool's
  standby bridge (FABRIC_POOL_STANDBY=1, the default).
- **Blender's own start** is what starting Blender yourself for the same line costs: the floor
  under any cold start that runs a real Blender. It is measured right before each cold run,
  so the two see the same load.
- Beyond Blender's own start, a cold start spends its time on: the spawn code (and, when no
  standby waits, Node's start, in its own row below); Blender starting more slowly than alone, because the bridge loads the rest
  of itself, connects, takes the lease and downloads the scene on the same cores meanwhile
  (waiting with all of that until Blender is ready would cost more); and the steps after
  Blender is ready, the first job's claim included.
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
