/**
 * Benchmark: farm scheduling.
 *
 * - submission: one `blender_farm_map` of 10,000 one-item tasks (to a group with no peer, so
 *   only submitting is measured), its status summary's size and time, against what a user
 *   would do without the farm: 10,000 `blender_submit` calls, 16 in flight;
 * - efficiency: tasks that sleep 200 ms per item run on 8, then 16 real bridges with headless
 *   Blender (sleeping tasks, so two cores do not limit), against a coordinator that keeps one
 *   `blender_execute_code` call in flight per peer (scenario 2's pattern, at its best);
 *   efficiency = ideal makespan (tasks / peers, rounded up, × task time) / measured, and the
 *   next-task gap per peer (one attempt's end to the next one's start, p50 / p99);
 * - throughput: no-op tasks (`pass`) on 16 peers: tasks scheduled per second, against the
 *   coordinator running `pass`.
 *
 * Run with `npx tsx --conditions=fabric-source test/bench/farm.bench.ts`; writes
 * test/bench/reports/farm.md. Nothing here asserts.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  FabricTestClient,
  mintToken,
  startBridgeProcess,
  startGatewayProcess,
  startNatsServer,
  type BridgeProcess,
} from "@blender-fabric/testkit";
import { percentile } from "./stats.js";
import { cpuPerCall, sampleFabricCpu, type CpuSample } from "./process-cpu.js";

const TASK_SECONDS = 0.2;
const TASKS_PER_PEER = 15;
/** No-op tasks per peer for the throughput run. */
const NOOP_TASKS_PER_PEER = 100;
/** Peers per run (BENCH_PEERS, comma-separated). */
const PEER_COUNTS = (process.env.BENCH_PEERS ?? "8,16").split(",").map(Number);
const GROUP = "bench-farm";
const USER = "bench";

type Row = {
  peers: number;
  tasks: number;
  path: string;
  makespanS: number;
  idealS: number;
  efficiency: number;
  tasksPerSecond: number;
  gapP50: string;
  gapP99: string;
  /** Where a farm run's time went: its first start, attempts, and the end seen. */
  breakdown?: string;
  /** CPU time per task of each kind of process, and how busy the cores were over the run. */
  cpu: CpuSample;
  busy: number;
};

/** Runs `work`, measuring the CPU the fabric's processes spent per task and the cores' use. */
async function withCpu(tasks: number, work: () => Promise<Omit<Row, "cpu" | "busy">>): Promise<Row> {
  const before = sampleFabricCpu();
  const started = performance.now();
  const row = await work();
  const after = sampleFabricCpu();
  const wallMs = performance.now() - started;
  const spent = Object.keys(after).reduce((sum, name) => sum + after[name as keyof CpuSample] - before[name as keyof CpuSample], 0);
  return { ...row, cpu: cpuPerCall(before, after, tasks), busy: spent / (wallMs * cpus().length) };
}

type Attempt = { job_id: string; target_uuid: string };

/** Every task of a farm job with its attempts, a page of 1,000 at a time. */
async function allTasks(client: FabricTestClient, jobId: string, total: number): Promise<{ attempts: Attempt[] }[]> {
  const tasks: { attempts: Attempt[] }[] = [];
  for (let offset = 0; offset < total; offset += 1_000) {
    const page = await client.call("blender_job_status", { job_id: jobId, tasks_offset: offset, tasks_limit: 1_000 });
    tasks.push(...page.farm.tasks);
  }
  return tasks;
}

type Timed = { target_uuid: string; started_at: number; updated_at: number };

/** Each task's completing attempt's record (times, peer). */
async function attemptRecords(client: FabricTestClient, jobId: string, total: number): Promise<Timed[]> {
  const attempts = (await allTasks(client, jobId, total)).map((task) => task.attempts.at(-1)!);
  const records: Timed[] = [];
  // 64 in flight: thousands of reads.
  for (let start = 0; start < attempts.length; start += 64) {
    records.push(...(await Promise.all(attempts.slice(start, start + 64).map((attempt) => client.call<Timed>("blender_job_status", { job_id: attempt.job_id })))));
  }
  return records;
}

async function waitCompleted(client: FabricTestClient, jobId: string): Promise<void> {
  let status = await client.call("blender_job_status", { job_id: jobId, wait_seconds: 50, tasks_limit: 0 });
  while (status.status !== "completed") {
    if (status.status === "failed") throw new Error(`farm failed: ${status.error}`);
    status = await client.call("blender_job_status", { job_id: jobId, wait_seconds: 50, tasks_limit: 0 });
  }
}

type SubmitRow = { path: string; tasks: number; seconds: number[]; note: string };

/** 10,000 one-item tasks to a group with no peer: how long submitting takes, three times. */
async function benchSubmission(client: FabricTestClient): Promise<SubmitRow[]> {
  const tasks = 10_000;
  const farmSeconds: number[] = [];
  let summary = "";
  for (let run = 0; run < 3; run += 1) {
    const started = performance.now();
    const farm = await client.call("blender_farm_map", { script: "pass", items: Array.from({ length: tasks }, (_, i) => i), group_id: "bench-nobody" });
    farmSeconds.push((performance.now() - started) / 1000);
    const before = performance.now();
    const status = await client.call("blender_job_status", { job_id: farm.job_id, tasks_limit: 0 });
    const paged = await client.call("blender_job_status", { job_id: farm.job_id });
    summary = `status summary ${JSON.stringify(status).length} B in ${(performance.now() - before).toFixed(0)} ms with the default page of 100 tasks: ${JSON.stringify(paged).length} B`;
    await client.call("blender_job_cancel", { job_id: farm.job_id });
  }
  // Without the farm: one blender_submit per item, 16 in flight, to a project no peer serves.
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < tasks) {
        next += 1;
        const answer = await client.call("blender_submit", { command: "execute_code", params: { code: "pass" }, target_uuid: "project:bench-nobody", deadline_seconds: 60 });
        if (answer.status !== "queued") throw new Error(`submit: ${JSON.stringify(answer)}`);
      }
    }),
  );
  const submitSeconds = (performance.now() - started) / 1000;
  return [
    { path: "blender_farm_map, 10,000 tasks (one call)", tasks, seconds: farmSeconds, note: summary },
    { path: "blender_submit × 10,000 (16 in flight)", tasks, seconds: [submitSeconds], note: "what a user does without the farm" },
  ];
}

type Measured = Omit<Row, "cpu" | "busy">;

async function benchFarm(client: FabricTestClient, peers: number, options: { taskSeconds: number; tasksPerPeer: number }): Promise<Measured> {
  const tasks = peers * options.tasksPerPeer;
  const script = options.taskSeconds > 0 ? `import time\ntime.sleep(${options.taskSeconds} * len(items))` : "pass";
  const started = performance.now();
  const submittedAt = Date.now() / 1000;
  const farm = await client.call("blender_farm_map", { script, items: Array.from({ length: tasks }, (_, i) => i), group_id: GROUP });
  await waitCompleted(client, farm.job_id);
  const endSeenAt = Date.now() / 1000;
  const makespanS = (performance.now() - started) / 1000;
  // Gaps between consecutive attempts on each peer: end of one to the start of the next.
  const records = await attemptRecords(client, farm.job_id, tasks);
  const byPeer = new Map<string, { started_at: number; updated_at: number }[]>();
  for (const record of records) byPeer.set(record.target_uuid, [...(byPeer.get(record.target_uuid) ?? []), record]);
  const gaps: number[] = [];
  for (const runs of byPeer.values()) {
    runs.sort((a, b) => a.started_at - b.started_at);
    for (let index = 1; index < runs.length; index += 1) gaps.push((runs[index]!.started_at - runs[index - 1]!.updated_at) * 1000);
  }
  gaps.sort((a, b) => a - b);
  // The scheduling window: first attempt's start to the last one's end.
  const firstStart = Math.min(...records.map((record) => record.started_at));
  const lastEnd = Math.max(...records.map((record) => record.updated_at));
  const windowS = lastEnd - firstStart;
  const durations = records.map((record) => (record.updated_at - record.started_at) * 1000).sort((a, b) => a - b);
  const idealS = Math.ceil(tasks / peers) * options.taskSeconds;
  return {
    peers,
    tasks,
    path: `blender_farm_map, ${options.taskSeconds > 0 ? `${options.taskSeconds * 1000} ms` : "no-op"} tasks`,
    makespanS,
    idealS,
    efficiency: idealS / makespanS,
    tasksPerSecond: tasks / windowS,
    gapP50: `${percentile(gaps, 0.5).toFixed(1)} ms`,
    gapP99: `${percentile(gaps, 0.99).toFixed(1)} ms`,
    breakdown: `first start ${((firstStart - submittedAt) * 1000).toFixed(0)} ms after the call; attempts p50 ${percentile(durations, 0.5).toFixed(0)} ms; end seen ${((endSeenAt - lastEnd) * 1000).toFixed(0)} ms after the last attempt`,
  };
}

/** Without the farm: one coordinator keeps one execute_code call in flight per peer. */
async function benchCoordinator(client: FabricTestClient, peerUuids: string[], options: { taskSeconds: number; tasksPerPeer: number }): Promise<Measured> {
  const tasks = peerUuids.length * options.tasksPerPeer;
  const code = options.taskSeconds > 0 ? `import time\ntime.sleep(${options.taskSeconds})` : "pass";
  let next = 0;
  const started = performance.now();
  await Promise.all(
    peerUuids.map(async (uuid) => {
      while (next < tasks) {
        next += 1;
        const answer = await client.call("blender_execute_code", { target_uuid: uuid, code });
        if (answer.status !== "completed") throw new Error(`execute_code: ${JSON.stringify(answer)}`);
      }
    }),
  );
  const makespanS = (performance.now() - started) / 1000;
  const idealS = Math.ceil(tasks / peerUuids.length) * options.taskSeconds;
  const path = `coordinator: execute_code per peer, ${options.taskSeconds > 0 ? `${options.taskSeconds * 1000} ms` : "no-op"}`;
  return { peers: peerUuids.length, tasks, path, makespanS, idealS, efficiency: idealS / makespanS, tasksPerSecond: tasks / makespanS, gapP50: "–", gapP99: "–" };
}

function formatTable(rows: Row[]): string {
  const header =
    "| peers | tasks | path | makespan s | ideal s | efficiency | tasks/s | next-task gap p50 | p99 | CPU ms/task: gateway | bridges | Blenders | nats-server | cores busy |\n" +
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
  const line = (row: Row) =>
    `| ${row.peers} | ${row.tasks} | ${row.path} | ${row.makespanS.toFixed(2)} | ${row.idealS.toFixed(2)} | ${row.idealS > 0 ? `${(row.efficiency * 100).toFixed(0)} %` : "–"} | ${row.tasksPerSecond.toFixed(0)} | ${row.gapP50} | ${row.gapP99} | ` +
    `${row.cpu.gateway.toFixed(1)} | ${row.cpu.bridge.toFixed(1)} | ${row.cpu.blender.toFixed(1)} | ${row.cpu["nats-server"].toFixed(1)} | ${(row.busy * 100).toFixed(0)} % |`;
  const notes = rows.filter((row) => row.breakdown).map((row) => `- ${row.peers} peers, ${row.path}: ${row.breakdown}.`);
  return [header, ...rows.map(line), "", ...notes].join("\n");
}

function formatSubmission(rows: SubmitRow[]): string {
  const header = "| path | tasks | seconds (each run) | |\n|---|---:|---:|---|";
  return [header, ...rows.map((row) => `| ${row.path} | ${row.tasks} | ${row.seconds.map((value) => value.toFixed(2)).join(", ")} | ${row.note} |`)].join("\n");
}

const nats = await startNatsServer();
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn", FABRIC_MAX_UNFINISHED_JOBS: "100000" } });
const bridges: BridgeProcess[] = [];
const rows: Row[] = [];
let submission: SubmitRow[] = [];
const client = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: USER }), name: "bench-farm" });
try {
  for (const peers of PEER_COUNTS) {
    while (bridges.length < peers) {
      // A few at a time: every Blender start costs CPU on a 2-core machine.
      const batch = Array.from({ length: Math.min(4, peers - bridges.length) }, (_, index) => `blender-bench-${bridges.length + index + 1}`);
      bridges.push(...(await Promise.all(batch.map((uuid) => startBridgeProcess({ natsUrls: [nats.url], user: USER, uuid, groupId: GROUP, readyTimeoutMs: 180_000 })))));
    }
    const sleeping = { taskSeconds: TASK_SECONDS, tasksPerPeer: TASKS_PER_PEER };
    const uuids = bridges.map((bridge) => bridge.uuid);
    const pair = [
      await withCpu(peers * TASKS_PER_PEER, () => benchFarm(client, peers, sleeping)),
      await withCpu(peers * TASKS_PER_PEER, () => benchCoordinator(client, uuids, sleeping)),
    ];
    if (peers === Math.max(...PEER_COUNTS)) {
      const noop = { taskSeconds: 0, tasksPerPeer: NOOP_TASKS_PER_PEER };
      pair.push(await withCpu(peers * NOOP_TASKS_PER_PEER, () => benchFarm(client, peers, noop)), await withCpu(peers * NOOP_TASKS_PER_PEER, () => benchCoordinator(client, uuids, noop)));
    }
    rows.push(...pair);
    console.log(formatTable(pair));
  }
  // Last: the 10,000 blender_submit jobs it leaves wait for their deadline, which would weigh
  // on the runs above.
  submission = await benchSubmission(client);
  console.log(formatSubmission(submission));
} finally {
  await client.close();
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await gateway.stop();
  await nats.stop();
}

const report = `# Benchmark: farm scheduling

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}.
One nats-server, one gateway and N bridges, each with its own headless Blender 3.4 in the
group \`${GROUP}\`, all on this machine.

## Submitting 10,000 tasks

${formatSubmission(submission)}

The farm job's record and 10,000 messages; each task's first attempt is recorded by the peer
that takes it.

## Efficiency and throughput

Every task of the efficiency runs sleeps ${TASK_SECONDS * 1000} ms in Blender (one item per task,
${TASKS_PER_PEER} tasks per peer), so the two cores do not limit what is measured: how well work is
spread and how soon an idle peer starts its next task. The throughput run's tasks are \`pass\`
(${NOOP_TASKS_PER_PEER} per peer).

- **blender_farm_map**: one call; every idle peer pulls the next task from the group's shared
  consumers on \`FABRIC_WORK\`, its attempt is recorded running for it, it runs and acknowledges
  it. Makespan is from the call until \`blender_job_status\` reports the farm job completed.
- **coordinator**: what a user does without the farm (scenario 2): one \`blender_execute_code\`
  call in flight per peer, each loop taking the next item, through the same gateway.
- **efficiency** = ideal makespan (tasks ÷ peers, rounded up, × task time) ÷ measured.
- **tasks/s**: for the farm, tasks ÷ the window from the first attempt's start to the last
  one's end (records' \`started_at\`, \`updated_at\`); for the coordinator, tasks ÷ makespan.
- **next-task gap**: per peer, from the end of one attempt (its record's \`updated_at\`) to the
  start of the next (\`started_at\`).
- **CPU ms/task**: CPU time (user + system, from /proc) each kind of process spent over the
  run, per task; **cores busy**: all of it over the run's wall time × ${cpus().length} cores.

${formatTable(rows)}

Reproduce with \`npx tsx --conditions=fabric-source test/bench/farm.bench.ts\`.
`;
const reportPath = join(dirname(fileURLToPath(import.meta.url)), "reports", "farm.md");
writeFileSync(reportPath, report);
console.log(`\nreport written to ${reportPath}`);
