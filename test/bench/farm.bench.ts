/**
 * Benchmark: farm scheduling. `blender_farm_map` tasks that sleep 200 ms per item run on 8,
 * then 16 real bridges with headless Blender (sleeping tasks, so two cores do not limit), and
 * the same work is run the way a user would without the farm: a coordinator that keeps one
 * `blender_execute_code` call in flight per peer (scenario 2's pattern, at its best).
 *
 * - scheduling efficiency = ideal makespan (tasks / peers, rounded up, × task time) / measured
 * - next-task start latency: for each peer, the gap between one attempt's end and the start of
 *   its next one (p50 / p99), read from the attempts' own job records
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

const TASK_SECONDS = 0.2;
const TASKS_PER_PEER = 15;
/** Peers per run (BENCH_PEERS, comma-separated). */
const PEER_COUNTS = (process.env.BENCH_PEERS ?? "8,16").split(",").map(Number);
const GROUP = "bench-farm";
const USER = "bench";

type Row = { peers: number; tasks: number; path: string; makespanS: number; idealS: number; efficiency: number; gapP50: string; gapP99: string };

type Attempt = { job_id: string; target_uuid: string };

async function benchFarm(client: FabricTestClient, peers: number): Promise<Row> {
  const tasks = peers * TASKS_PER_PEER;
  const script = `import time\ntime.sleep(${TASK_SECONDS} * len(items))`;
  const started = performance.now();
  const farm = await client.call("blender_farm_map", { script, items: Array.from({ length: tasks }, (_, i) => i), group_id: GROUP });
  let status = await client.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 50 });
  while (status.status !== "completed") {
    if (status.status === "failed") throw new Error(`farm failed: ${status.error}`);
    status = await client.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 50 });
  }
  const makespanS = (performance.now() - started) / 1000;
  // Gaps between consecutive attempts on each peer: end of one to the start of the next.
  const attempts = status.farm.tasks.map((task: { attempts: Attempt[] }) => task.attempts.at(-1)!) as Attempt[];
  type Timed = { target_uuid: string; started_at: number; updated_at: number };
  const records = await Promise.all(attempts.map((attempt) => client.call<Timed>("blender_job_status", { job_id: attempt.job_id })));
  const byPeer = new Map<string, { started_at: number; updated_at: number }[]>();
  for (const record of records) byPeer.set(record.target_uuid, [...(byPeer.get(record.target_uuid) ?? []), record]);
  const gaps: number[] = [];
  for (const runs of byPeer.values()) {
    runs.sort((a, b) => a.started_at - b.started_at);
    for (let index = 1; index < runs.length; index += 1) gaps.push((runs[index]!.started_at - runs[index - 1]!.updated_at) * 1000);
  }
  gaps.sort((a, b) => a - b);
  const idealS = Math.ceil(tasks / peers) * TASK_SECONDS;
  return {
    peers,
    tasks,
    path: "blender_farm_map (peers pull from the group's consumer)",
    makespanS,
    idealS,
    efficiency: idealS / makespanS,
    gapP50: `${percentile(gaps, 0.5).toFixed(1)} ms`,
    gapP99: `${percentile(gaps, 0.99).toFixed(1)} ms`,
  };
}

/** Without the farm: one coordinator keeps one execute_code call in flight per peer. */
async function benchCoordinator(client: FabricTestClient, peerUuids: string[]): Promise<Row> {
  const tasks = peerUuids.length * TASKS_PER_PEER;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    peerUuids.map(async (uuid) => {
      while (next < tasks) {
        next += 1;
        const answer = await client.call("blender_execute_code", { target_uuid: uuid, code: `import time\ntime.sleep(${TASK_SECONDS})` });
        if (answer.status !== "completed") throw new Error(`execute_code: ${JSON.stringify(answer)}`);
      }
    }),
  );
  const makespanS = (performance.now() - started) / 1000;
  const idealS = Math.ceil(tasks / peerUuids.length) * TASK_SECONDS;
  return { peers: peerUuids.length, tasks, path: "coordinator: execute_code per peer", makespanS, idealS, efficiency: idealS / makespanS, gapP50: "–", gapP99: "–" };
}

function formatTable(rows: Row[]): string {
  const header = "| peers | tasks | path | makespan s | ideal s | efficiency | next-task gap p50 | p99 |\n|---:|---:|---|---:|---:|---:|---:|---:|";
  const line = (row: Row) =>
    `| ${row.peers} | ${row.tasks} | ${row.path} | ${row.makespanS.toFixed(2)} | ${row.idealS.toFixed(2)} | ${(row.efficiency * 100).toFixed(0)} % | ${row.gapP50} | ${row.gapP99} |`;
  return [header, ...rows.map(line)].join("\n");
}

const nats = await startNatsServer();
const gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_LOG_LEVEL: "warn" } });
const bridges: BridgeProcess[] = [];
const rows: Row[] = [];
const client = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: USER }), name: "bench-farm" });
try {
  for (const peers of PEER_COUNTS) {
    while (bridges.length < peers) {
      // A few at a time: every Blender start costs CPU on a 2-core machine.
      const batch = Array.from({ length: Math.min(4, peers - bridges.length) }, (_, index) => `blender-bench-${bridges.length + index + 1}`);
      bridges.push(...(await Promise.all(batch.map((uuid) => startBridgeProcess({ natsUrls: [nats.url], user: USER, uuid, groupId: GROUP, readyTimeoutMs: 180_000 })))));
    }
    const pair = [await benchFarm(client, peers), await benchCoordinator(client, bridges.map((bridge) => bridge.uuid))];
    rows.push(...pair);
    console.log(formatTable(pair));
  }
} finally {
  await client.close();
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await gateway.stop();
  await nats.stop();
}

const report = `# Benchmark: farm scheduling

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}.
One nats-server, one gateway and N bridges, each with its own headless Blender 3.4 in the
group \`${GROUP}\`, all on this machine. Every task sleeps ${TASK_SECONDS * 1000} ms in Blender (one item per
task, ${TASKS_PER_PEER} tasks per peer), so the two cores do not limit what is measured: how well
work is spread and how soon an idle peer starts its next task.

- **blender_farm_map**: one call; every idle peer pulls the next task from the group's shared
  consumer on \`FABRIC_WORK\`, claims its attempt, runs it and acknowledges it. Makespan is
  from the call until \`blender_job_status\` reports the farm job completed.
- **coordinator**: what a user does without the farm (scenario 2): one \`blender_execute_code\`
  call in flight per peer, each loop taking the next item, through the same gateway.
- **efficiency** = ideal makespan (tasks ÷ peers, rounded up, × task time) ÷ measured.
- **next-task gap**: per peer, from the end of one attempt (its record's \`updated_at\`) to the
  start of the next (\`started_at\`).

${formatTable(rows)}

Reproduce with \`npx tsx --conditions=fabric-source test/bench/farm.bench.ts\`.
`;
const reportPath = join(dirname(fileURLToPath(import.meta.url)), "reports", "farm.md");
writeFileSync(reportPath, report);
console.log(`\nreport written to ${reportPath}`);
