/**
 * Benchmark: how soon an idle peer takes work again after the NATS node that leads its work
 * dies. A 3-node cluster (R3 stream and buckets), one gateway, one bridge with headless Blender,
 * idle. Each trial kills -9 the node leading the peer's consumer on FABRIC_WORK, then
 * dispatches `execute_code` to the peer every DISPATCH_EVERY_MS (each call a new job with a 3 s timeout)
 * and records, from the kill:
 * - when the consumer has a new leader (asked every 50 ms through the surviving nodes);
 * - when the first of those dispatches completes.
 * The node is started again between trials and the cluster given time to settle.
 *
 * Run with `npx tsx --conditions=fabric-source test/bench/failover.bench.ts`; writes
 * test/bench/reports/failover.md. Nothing here asserts.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { StreamName, consumerForPeer } from "@blender-fabric/protocol";
import { startBridgeProcess, waitFor } from "@blender-fabric/testkit";
import { sleep, startFabric } from "../support/fabric.js";
import { percentile } from "./stats.js";

const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const USER = "bench";
const PEER = "blender-failover";
/** How long a trial dispatches for at most. ms */
const TRIAL_LIMIT_MS = 30_000;
/** A new dispatch starts this often during a trial, whatever the earlier ones are doing. ms */
const DISPATCH_EVERY_MS = 100;
/** Pause after restarting a node, so streams and consumers are current again. ms */
const SETTLE_MS = 8_000;

type Trial = { node: string; leaderAfterMs: number; firstDoneAfterMs: number };

const fabric = await startFabric({ cluster: true, gateways: 1, gatewayEnv: { FABRIC_STALE_AFTER_SECONDS: "30" } });
const bridge = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: USER, uuid: PEER, env: { FABRIC_KV_REPLICAS: "3" } });
const client = await fabric.connect(USER);
const jsm = await jetstreamManager(fabric.nc, { timeout: 1_000 });
const consumer = consumerForPeer(USER, PEER);

const dispatch = () => client.call("blender_execute_code", { target_uuid: PEER, code: "x = 1", _timeout: 3 });

async function consumerLeader(): Promise<string | undefined> {
  try {
    return (await jsm.consumers.info(StreamName.Work, consumer)).cluster?.leader;
  } catch {
    return undefined; // no leader, or the node asked is the one that died
  }
}

async function runTrial(): Promise<Trial> {
  await waitFor("the peer to answer", async () => (await dispatch()).status === "completed", 60_000, 500);
  const leader = await consumerLeader();
  const victim = fabric.natsNodes.find((node) => node.name === leader);
  if (!victim) throw new Error(`no node leads ${consumer} (${leader})`);
  const killedAt = performance.now();
  await victim.kill();

  let leaderAfterMs = Number.NaN;
  let firstDoneAfterMs = Number.NaN;
  const watchLeader = (async () => {
    while (Number.isNaN(leaderAfterMs) && performance.now() - killedAt < TRIAL_LIMIT_MS) {
      const now = await consumerLeader();
      if (now && now !== victim.name) leaderAfterMs = performance.now() - killedAt;
      else await sleep(50);
    }
  })();
  const calls: Promise<void>[] = [];
  while (Number.isNaN(firstDoneAfterMs) && performance.now() - killedAt < TRIAL_LIMIT_MS) {
    calls.push(
      dispatch().then(
        (answer) => {
          if (answer.status === "completed" && Number.isNaN(firstDoneAfterMs)) firstDoneAfterMs = performance.now() - killedAt;
        },
        () => {}, // a transport error while the gateway fails over: the next call tries again
      ),
    );
    await sleep(DISPATCH_EVERY_MS); // pacing, not a wait for a condition: the calls run on meanwhile
  }
  await Promise.all([watchLeader, ...calls]);
  await victim.restart();
  await sleep(SETTLE_MS);
  return { node: victim.name, leaderAfterMs, firstDoneAfterMs };
}

const trials: Trial[] = [];
try {
  for (let index = 0; index < TRIALS; index += 1) {
    const trial = await runTrial();
    trials.push(trial);
    console.log(`trial ${index + 1}: killed ${trial.node}; new consumer leader after ${trial.leaderAfterMs.toFixed(0)} ms, first dispatch completed after ${trial.firstDoneAfterMs.toFixed(0)} ms`);
  }
} finally {
  await bridge.stop();
  await fabric[Symbol.asyncDispose]();
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const taken = trials.map((trial) => trial.firstDoneAfterMs - trial.leaderAfterMs);
const rows = trials
  .map((trial, index) => `| ${index + 1} | ${trial.node} | ${trial.leaderAfterMs.toFixed(0)} | ${trial.firstDoneAfterMs.toFixed(0)} | ${(trial.firstDoneAfterMs - trial.leaderAfterMs).toFixed(0)} |`)
  .join("\n");
const report = `# Benchmark: an idle peer takes work again after its NATS node dies

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}:
a 3-node nats-server cluster (R3), one gateway, one bridge with headless Blender, all on this
machine. Each trial kills -9 the node leading the peer's consumer on FABRIC_WORK, then
dispatches \`execute_code\` to the peer every 100 ms (a new job each, 3 s timeout). Times are
from the kill. The node is restarted between trials.

| trial | node killed | new consumer leader, ms | first dispatch completed, ms | after the new leader, ms |
|---:|---|---:|---:|---:|
${rows}

Work taken again after the new leader: median ${percentile(sorted(taken), 0.5).toFixed(0)} ms, worst ${Math.max(...taken).toFixed(0)} ms.

Why it is short: a peer's pull for its own work lasts 2.5 s, and one that gets no answer
(its pull died with the node) is followed by the next at once, asking the gateway to look up
the consumer afresh (\`packages/engine/src/peer-side/peer-work.ts\`). Before issue 16 a pull lasted 10 s, so
an idle peer could wait that long past the election.
`;
const path = join(dirname(fileURLToPath(import.meta.url)), "reports", "failover.md");
writeFileSync(path, report);
console.log(`report written to ${path}`);
