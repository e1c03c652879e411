// Issue 3, acceptance 3: Blender dies mid-job -> that job fails with a clear error (not a
// hang), the bridge brings Blender back, the next call succeeds. A dead bridge makes its
// peer stale, and `latest` stops picking it.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, waitFor, type BridgeProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";
import { waitForRunningJob } from "../support/running-job.js";

let fabric: Fabric;
const bridges: BridgeProcess[] = [];
const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2, gatewayEnv: { FABRIC_STALE_AFTER_SECONDS: "2" } });
  const start = (uuid: string) =>
    startBridgeProcess({ natsUrls: fabric.natsUrls, user: "pete", uuid, env: { FABRIC_HEARTBEAT_SECONDS: "0.5" } });
  bridges.push(await start("blender-old"));
  bridges.push(await start("blender-new"));
});

afterAll(async () => {
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
});

test("killing Blender mid-job fails the job with a clear error; the bridge restarts Blender", async () => {
  const llm = await fabric.connect("pete");
  const [oldBridge] = bridges;
  const firstPid = oldBridge!.blenderPid();
  const call = llm.dispatch("blender_execute_code", {
    target_uuid: "blender-old",
    code: "import time\nprint('working')\ntime.sleep(60)",
    _timeout: 120,
  });
  // Kill Blender once the job is running in it.
  await waitForRunningJob(llm, { call });
  // Work queued behind the doomed job must survive the crash.
  const queued = await llm.call("blender_submit", { target_uuid: "blender-old", command: "get_scene_info" });
  expect((await llm.call("blender_job_status", { job_id: queued.job_id })).status).toBe("queued");
  process.kill(firstPid, "SIGKILL");

  const failed = await call;
  expect(failed.status).toBe("failed");
  expect(failed.error).toContain("Blender went away while running execute_code");
  expect(failed.error).toContain("SIGKILL");
  const record = await llm.call("blender_job_status", { job_id: failed.job_id });
  expect(record).toMatchObject({ status: "failed", error: failed.error });

  const secondPid = await oldBridge!.nextRegistration(firstPid);
  expect(secondPid).not.toBe(firstPid);
  const survivor = await llm.call("blender_job_status", { job_id: queued.job_id, wait_seconds: 30 });
  expect(survivor).toMatchObject({ status: "completed", target_uuid: "blender-old" });
  const after = await llm.dispatch("blender_execute_code", { target_uuid: "blender-old", code: "print(2 + 2)" });
  expect(after).toMatchObject({ status: "completed", data: { result: "4\n" } });
  const listed = await llm.call("blender_list_available_clients");
  expect(listed.persistent.find((client: { uuid: string }) => client.uuid === "blender-old").pid).toBe(secondPid);
});

test("a killed bridge goes stale and `latest` no longer picks it; its Blender exits", async () => {
  const llm = await fabric.connect("pete");
  expect(await llm.call("blender_get_scene_info", { target_uuid: "latest" })).toMatchObject({ target_uuid: "blender-new" });
  const newBridge = bridges[1]!;
  const orphanPid = newBridge.blenderPid();
  // A job running on the peer when its bridge dies can never finish.
  const doomed = await llm.call("blender_submit", { target_uuid: "blender-new", command: "execute_code", params: { code: "import time\ntime.sleep(60)" } });
  await waitFor("the doomed job to run", async () => (await llm.call("blender_job_status", { job_id: doomed.job_id })).status === "running", 20_000, 50);
  await newBridge.kill();

  await waitFor("blender-new to go stale", async () => {
    const listing = await llm.call("blender_list_available_clients", { include_stale: true });
    return listing.persistent.find((client: { uuid: string }) => client.uuid === "blender-new")?.stale === true;
  }, 20_000, 200);
  // The reaper settles it within a sweep of the peer going stale.
  await waitFor("the doomed job to be settled", async () => (await llm.call("blender_job_status", { job_id: doomed.job_id })).status === "lost", 5_000, 200);
  expect((await llm.call("blender_job_status", { job_id: doomed.job_id })).error).toBe(
    "peer blender-new went silent for more than 2 s while running the job",
  );
  const visible = await llm.call("blender_list_available_clients");
  expect(visible.persistent.map((client: { uuid: string }) => client.uuid)).toEqual(["blender-old"]);
  expect(await llm.call("blender_get_scene_info", { target_uuid: "latest" })).toMatchObject({
    status: "completed",
    target_uuid: "blender-old",
  });
  // With one live peer left, no target is needed any more.
  expect(await llm.call("blender_get_scene_info")).toMatchObject({ status: "completed", target_uuid: "blender-old" });
  await waitFor("the orphaned Blender to exit", () => !isRunning(orphanPid), 20_000, 200);
  // Named explicitly, the dead peer is still addressed; work it does not start in time expires.
  const unanswered = await llm.call("blender_get_scene_info", { target_uuid: "blender-new", _timeout: 1 });
  expect(unanswered).toMatchObject({ status: "expired", target_uuid: "blender-new", error: expect.stringMatching(/it went silent \d+ s ago|it is not registered|live and idle but did not take it/) });
});
