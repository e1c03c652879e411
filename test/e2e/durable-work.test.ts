// Issue 6: durable, fenced work against real bridges, real headless Blender and two real
// gateway replicas. Markers written by the dispatched code show what really ran.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, waitFor, type BridgeProcess } from "@blender-fabric/testkit";
import { sleep, startFabric, type Fabric } from "../support/fabric.js";
import { waitForRunningJob } from "../support/running-job.js";
import { createRunMarkers, type RunMarkers } from "../support/run-markers.js";

const STALE_AFTER_SECONDS = 8;
let fabric: Fabric;
let markers: RunMarkers;
const bridges = new Set<BridgeProcess>();

const startBridge = async (uuid: string) => {
  const bridge = await startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: "dora",
    uuid,
    env: { FABRIC_HEARTBEAT_SECONDS: "0.5", FABRIC_SANDBOX_SHARE: markers.directory },
  });
  bridges.add(bridge);
  return bridge;
};

const markerCode = (token: string, seconds = 0) => markers.code(token, seconds);
const runsOf = (token: string) => markers.runs(token);

beforeAll(async () => {
  markers = createRunMarkers();
  fabric = await startFabric({ gateways: 2, gatewayEnv: { FABRIC_STALE_AFTER_SECONDS: String(STALE_AFTER_SECONDS) } });
});

afterAll(async () => {
  await Promise.allSettled([...bridges].map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
  markers?.remove();
});

test("a bridge killed with one job running and two queued: restarted, the running job is lost, the queued ones complete", async () => {
  const llm = await fabric.connect("dora");
  const first = await startBridge("blender-d2");
  const running = await llm.call("blender_submit", {
    target_uuid: "blender-d2",
    command: "execute_code",
    params: { code: markerCode("d2-running", 30) },
  });
  await waitFor("the first job to run", async () => (await llm.call("blender_job_status", { job_id: running.job_id })).status === "running", 20_000, 50);
  const queued = [];
  for (const token of ["d2-queued-1", "d2-queued-2"]) {
    queued.push(await llm.call("blender_submit", { target_uuid: "blender-d2", command: "execute_code", params: { code: markerCode(token) } }));
  }
  for (const job of queued) expect((await llm.call("blender_job_status", { job_id: job.job_id })).status).toBe("queued");

  await first.kill();
  bridges.delete(first);
  const killedAt = Date.now();
  await startBridge("blender-d2");
  // The new boot normally registers first; on a loaded machine the stale limit may come first.
  const reason =
    Date.now() - killedAt < (STALE_AFTER_SECONDS - 1) * 1000
      ? /^peer blender-d2 restarted while running the job/
      : /^peer blender-d2 (restarted while running the job|went silent)/;

  // Asked twice, the client's requests alternate over both replicas.
  for (let round = 0; round < 2; round += 1) {
    const lost = await llm.call("blender_job_status", { job_id: running.job_id, wait_seconds: 20 });
    expect(lost).toMatchObject({ status: "lost", error: expect.stringMatching(reason) });
    for (const job of queued) {
      expect(await llm.call("blender_job_status", { job_id: job.job_id, wait_seconds: 30 })).toMatchObject({ status: "completed" });
    }
  }
  expect([runsOf("d2-running"), runsOf("d2-queued-1"), runsOf("d2-queued-2")]).toEqual([0, 1, 1]);
  const open = await llm.call("blender_list_jobs", { limit: 500 });
  expect(open.jobs.filter((job: { status: string }) => job.status === "queued" || job.status === "running")).toEqual([]);
});

test("a dispatch sent while its peer is down runs when the peer returns in time; one whose deadline passes first never runs", async () => {
  const llm = await fabric.connect("dora");
  const peer = await startBridge("blender-d3");
  await peer.kill();
  bridges.delete(peer);

  const patient = llm.call("blender_execute_code", { target_uuid: "blender-d3", code: markerCode("d3-in-time"), _timeout: 90 });
  await sleep(1_000);
  await startBridge("blender-d3");
  expect(await patient).toMatchObject({ status: "completed", target_uuid: "blender-d3" });
  expect(runsOf("d3-in-time")).toBe(1);

  const returned = [...bridges].find((bridge) => bridge.uuid === "blender-d3")!;
  await returned.kill();
  bridges.delete(returned);
  const hasty = await llm.call("blender_execute_code", { target_uuid: "blender-d3", code: markerCode("d3-too-late"), _timeout: 2 });
  expect(hasty).toMatchObject({ status: "expired", target_uuid: "blender-d3" });
  expect(hasty.error).toContain("it will never run");
  const back = await startBridge("blender-d3");
  // The expired work reaches the returned peer, which must drop it: prove the peer took work since.
  expect(await llm.call("blender_get_scene_info", { target_uuid: "blender-d3" })).toMatchObject({ status: "completed" });
  await sleep(1_000);
  expect(runsOf("d3-too-late")).toBe(0);
  expect(await llm.call("blender_job_status", { job_id: hasty.job_id })).toMatchObject({ status: "expired" });
  await back.stop();
  bridges.delete(back);
});

test("a bridge paused past the stale limit never runs work whose call already ended", async () => {
  const llm = await fabric.connect("dora");
  const peer = await startBridge("blender-paused");
  peer.pause();
  try {
    await sleep((STALE_AFTER_SECONDS + 1) * 1000);
    const answer = await llm.call("blender_execute_code", { target_uuid: "blender-paused", code: markerCode("d4-paused"), _timeout: 2 });
    expect(answer).toMatchObject({ status: "expired", error: expect.stringMatching(/it went silent \d+ s ago: its bridge is down, paused or cut off/) });
  } finally {
    peer.resume();
  }
  // Awake again, the bridge receives the work, finds it expired and drops it.
  expect(await llm.call("blender_get_scene_info", { target_uuid: "blender-paused", _timeout: 60 })).toMatchObject({ status: "completed" });
  await sleep(1_000);
  expect(runsOf("d4-paused")).toBe(0);
  const jobs = await llm.call("blender_list_jobs", { limit: 500 });
  const unfinished = jobs.jobs.filter((job: { status: string; target_uuid: string }) => job.target_uuid === "blender-paused" && ["queued", "running"].includes(job.status));
  expect(unfinished).toEqual([]);
});

test("the same request_id runs once: twice across replicas, and again after the replica holding the first call was killed", async () => {
  const llm = await fabric.connect("dora");
  await startBridge("blender-idem");
  const args = { target_uuid: "blender-idem", code: markerCode("d5-twice", 1), _request_id: "req-idem-1" };
  const [one, two] = await Promise.all([llm.call("blender_execute_code", args), llm.call("blender_execute_code", args)]);
  expect(one).toMatchObject({ status: "completed" });
  expect(two).toMatchObject({ status: "completed", job_id: one.job_id });
  // blender_submit of the same command and params is the same request; other work is refused.
  const submitted = await llm.call("blender_submit", { target_uuid: "blender-idem", command: "execute_code", params: { code: args.code }, request_id: "req-idem-1" });
  expect(submitted).toMatchObject({ status: "completed", job_id: one.job_id });
  const reused = await llm.call("blender_submit", { target_uuid: "blender-idem", command: "execute_code", params: { code: "pass" }, request_id: "req-idem-1" });
  expect(reused).toMatchObject({ status: "invalid_params", field: "request_id" });
  expect(runsOf("d5-twice")).toBe(1);

  // A call through replica A only; A dies while the code runs; the retry goes to B.
  const [replicaA, replicaB] = fabric.gateways;
  const throughA = await fabric.connect("dora", [replicaA!]);
  // Long enough to be seen running (and killed) even when a loaded machine answers slowly.
  const retryArgs = { target_uuid: "blender-idem", code: markerCode("d5-killed", 8), _request_id: "req-idem-2" };
  const doomed = throughA.call("blender_execute_code", retryArgs).catch((error: unknown) => error);
  await waitForRunningJob(llm, { call: doomed });
  await replicaA!.kill();
  expect(await doomed).toBeInstanceOf(Error);
  const throughB = await fabric.connect("dora", [replicaB!]);
  const retried = await throughB.call("blender_execute_code", retryArgs);
  expect(retried).toMatchObject({ status: "completed" });
  const record = await throughB.call("blender_job_status", { job_id: retried.job_id });
  expect(record).toMatchObject({ status: "completed", request_id: "req-idem-2" });
  expect(runsOf("d5-killed")).toBe(1);
  await replicaA!.restart();

  // Bus messages too: a repeated send_message returns the first answer and sends nothing.
  const message = { target_uuid: "blender-idem", payload: { kind: "note" }, request_id: "req-idem-3" };
  const sent = await llm.call("blender_send_message", message);
  expect(await llm.call("blender_send_message", message)).toEqual(sent);
});
