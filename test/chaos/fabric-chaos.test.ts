// Issue 6, acceptance 6: a 3-node NATS cluster, 2 gateways, 2 bridges and 4 sessions of mixed
// dispatch and bus traffic while, on a schedule, a gateway, a Blender, a NATS node and a
// bridge are killed -9 and a bridge is paused for 20 s. Bounded: about two and a half minutes.
import { afterAll, beforeAll, expect, test } from "vitest";
import { Kvm } from "@nats-io/kv";
import { BucketName, JobRecordSchema, isTerminalJobStatus, type JobRecord } from "@blender-fabric/protocol";
import { startBridgeProcess, waitFor, type BridgeProcess, type FabricTestClient } from "@blender-fabric/testkit";
import { sleep, startFabric, type Fabric } from "../support/fabric.js";
import { createRunMarkers, type RunMarkers } from "../support/run-markers.js";

/** How long the traffic runs; the schedule of faults fits inside. ms */
const TRAFFIC_MS = 90_000;
/** Every dispatch's `_timeout`. Seconds. */
const CALL_TIMEOUT_SECONDS = 12;
/** How much longer than its timeout a call may take. ms */
const CALL_GRACE_MS = 5_000;
const USER = "chaos";

let fabric: Fabric;
let markers: RunMarkers;
const bridges = new Map<string, BridgeProcess>();

const startBridge = async (uuid: string) => {
  const bridge = await startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: USER,
    uuid,
    env: { FABRIC_HEARTBEAT_SECONDS: "1", FABRIC_KV_REPLICAS: "3", FABRIC_SANDBOX_SHARE: markers.directory },
  });
  bridges.set(uuid, bridge);
  return bridge;
};

beforeAll(async () => {
  markers = createRunMarkers();
  fabric = await startFabric({ cluster: true, gateways: 2, gatewayEnv: { FABRIC_STALE_AFTER_SECONDS: "8" } });
  await Promise.all([startBridge("blender-c1"), startBridge("blender-c2")]);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([...bridges.values()].map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
  markers?.remove();
});

type Attempt = { ms: number; outcome: string };
type Call = { token: string; attempts: Attempt[]; answer?: Record<string, any> };

/** Dispatches until the traffic ends; a transport error is retried with the same request_id. */
async function dispatchTraffic(client: FabricTestClient, name: string, until: number, calls: Call[]) {
  for (let index = 0; Date.now() < until; index += 1) {
    const call: Call = { token: `${name}-${index}`, attempts: [] };
    calls.push(call);
    const args = {
      target_uuid: index % 2 === 0 ? "blender-c1" : "blender-c2",
      code: markers.code(call.token, 0.3),
      _timeout: CALL_TIMEOUT_SECONDS,
      _request_id: call.token,
    };
    for (let attempt = 0; attempt < 4 && !call.answer; attempt += 1) {
      const started = Date.now();
      try {
        const answer = await client.call("blender_execute_code", args);
        call.answer = answer;
        call.attempts.push({ ms: Date.now() - started, outcome: String(answer.status) });
      } catch (error) {
        call.attempts.push({ ms: Date.now() - started, outcome: `error: ${String(error).slice(0, 120)}` });
        await sleep(300);
      }
    }
  }
}

/** Bus messages between two sessions of replica B, numbered so a gap shows. */
async function busTraffic(sender: FabricTestClient, until: number, sent: number[]) {
  for (let seq = 0; Date.now() < until; seq += 1) {
    const answer = await sender.call("blender_send_message", { target_uuid: "llm-ear", from_uuid: null, payload: { seq } });
    if (answer.status === "ok") sent.push(seq);
    await sleep(100);
  }
}

async function readJobRecords(): Promise<JobRecord[]> {
  const jobs = await new Kvm(fabric.nc).open(BucketName.Jobs);
  const records: JobRecord[] = [];
  for await (const key of await jobs.keys()) {
    const entry = await jobs.get(key);
    const parsed = entry?.operation === "PUT" ? JobRecordSchema.safeParse(entry.json()) : undefined;
    if (parsed?.success && parsed.data.kind !== "message") records.push(parsed.data);
  }
  return records;
}

test("killing a gateway, a Blender, a NATS node and a bridge, and pausing a bridge, loses and doubles nothing", async () => {
  const [gatewayA, gatewayB] = fabric.gateways as [typeof fabric.gateways[0], typeof fabric.gateways[0]];
  // Bus traffic stays on replica B, and the NATS node that dies is not B's: a core-NATS
  // message to a connection that loses its node is at-most-once (README, delivery guarantees).
  const ear = await fabric.connectListening(USER, [gatewayB]);
  await ear.call("blender_register_client", { client_uuid: "llm-ear", client_type: "llm" });
  const mouth = await fabric.connect(USER, [gatewayB]);
  const workers = [await fabric.connect(USER), await fabric.connect(USER)];
  const natsServerOfB = ((await (await fetch(`${gatewayB.baseUrl}/readyz`)).json()) as { nats_server: string }).nats_server;
  const victimNode = fabric.natsNodes.find((node) => node.name !== natsServerOfB)!;

  const faults: string[] = [];
  const note = (what: string) => faults.push(`${new Date().toISOString()} ${what}`);
  const schedule = async () => {
    await sleep(8_000);
    note("kill gateway A");
    await gatewayA.kill();
    await sleep(4_000);
    await gatewayA.restart();
    note("gateway A back");
    await sleep(6_000);
    note("kill Blender of blender-c1");
    process.kill(bridges.get("blender-c1")!.blenderPid(), "SIGKILL");
    await sleep(8_000);
    note(`kill NATS node ${victimNode.name}`);
    await victimNode.kill();
    await sleep(6_000);
    await victimNode.restart();
    note(`NATS node ${victimNode.name} back`);
    await sleep(8_000);
    note("kill bridge blender-c2");
    await bridges.get("blender-c2")!.kill();
    await startBridge("blender-c2");
    note("bridge blender-c2 back");
    await sleep(6_000);
    note("pause bridge blender-c1 for 20 s");
    const paused = bridges.get("blender-c1")!;
    paused.pause();
    await sleep(20_000);
    paused.resume();
    note("bridge blender-c1 resumed");
  };

  const until = Date.now() + TRAFFIC_MS;
  const calls: Call[] = [];
  const sent: number[] = [];
  await Promise.all([
    schedule(),
    ...workers.map((client, index) => dispatchTraffic(client, `w${index}`, until, calls)),
    busTraffic(mouth, until, sent),
  ]);

  // No call outlived its timeout by more than the grace.
  const attempts = calls.flatMap((call) => call.attempts.map((attempt) => ({ token: call.token, ...attempt })));
  const slow = attempts.filter((attempt) => attempt.ms > CALL_TIMEOUT_SECONDS * 1000 + CALL_GRACE_MS);
  expect(slow, faults.join("\n")).toEqual([]);
  expect(calls.length).toBeGreaterThan(20);

  // Every job record ends terminal, soon.
  let unfinished: JobRecord[] = [];
  await waitFor("every job to end", async () => {
    unfinished = (await readJobRecords()).filter((record) => !isTerminalJobStatus(record.status));
    return unfinished.length === 0;
  }, 40_000, 500).catch(() => {});
  expect(unfinished.map((record) => `${record.job_id} ${record.status} on ${record.target_uuid}`)).toEqual([]);

  // No job ran twice, and every job reported completed really ran.
  const counts = markers.counts();
  expect([...counts].filter(([, count]) => count > 1)).toEqual([]);
  const completedNotRun = calls.filter((call) => call.answer?.status === "completed" && counts.get(call.token) !== 1);
  expect(completedNotRun.map((call) => call.token)).toEqual([]);
  // Work that expired or timed out never ran afterwards.
  const endedUnrun = calls.filter((call) => ["expired", "timeout"].includes(String(call.answer?.status)) && counts.has(call.token));
  expect(endedUnrun.map((call) => call.token)).toEqual([]);

  // No bus notification was lost.
  await waitFor("every bus message to arrive", () => {
    const seen = new Set(ear.received((data) => typeof data.payload.seq === "number").map((n) => n.data.payload.seq as number));
    return sent.every((seq) => seen.has(seq));
  }, 10_000, 200).catch(() => {});
  const seen = new Set(ear.received((data) => typeof data.payload.seq === "number").map((n) => n.data.payload.seq as number));
  expect(sent.filter((seq) => !seen.has(seq))).toEqual([]);
  expect(sent.length).toBeGreaterThan(100);

  const outcomes = new Map<string, number>();
  for (const attempt of attempts) outcomes.set(attempt.outcome.split(":")[0]!, (outcomes.get(attempt.outcome.split(":")[0]!) ?? 0) + 1);
  const unhappy = calls.filter((call) => call.answer && call.answer.status !== "completed");
  console.log(unhappy.map((call) => `${call.token} ${call.answer!.status} on ${call.answer!.target_uuid}: ${call.answer!.error}`).join("\n"));
  console.log(`chaos: ${calls.length} dispatches, ${sent.length} bus messages; attempts by outcome ${JSON.stringify(Object.fromEntries(outcomes))}\n${faults.join("\n")}`);
}, 240_000);
