// Issue 3, acceptance 4: a job that outlives its tool timeout is followed to completion with
// blender_job_status from another replica; queued jobs can be cancelled; a running script
// stops at its next report_progress when cancelled.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, waitFor, type BridgeProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let bridge: BridgeProcess;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  bridge = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "quinn", uuid: "blender-solo" });
});

afterAll(async () => {
  await bridge?.stop();
  await fabric?.[Symbol.asyncDispose]();
});

test("a job outliving its timeout is followed to completion from the other replica", async () => {
  const [replicaA, replicaB] = fabric.gateways;
  const onA = await fabric.connect("quinn", [replicaA!]);
  const onB = await fabric.connect("quinn", [replicaB!]);
  const slow = await onA.call("blender_execute_code", {
    code: "import time\ntime.sleep(3)\nprint('slept')",
    _timeout: 0.5,
  });
  expect(slow).toMatchObject({ status: "running", command: "execute_code", target_uuid: "blender-solo" });
  expect(slow.message).toContain("blender_job_status");

  const followed = await onB.call("blender_job_status", { job_id: slow.job_id, wait_seconds: 30 });
  expect(followed).toMatchObject({ status: "completed", job_id: slow.job_id, command: "execute_code", progress: 1 });
  expect(JSON.parse(followed.result)).toEqual({ executed: true, result: "slept\n", stdout: "slept\n", stderr: "" });
  const result = await onA.call("blender_job_result", { job_id: slow.job_id });
  expect(result).toMatchObject({ status: "completed", job_id: slow.job_id, error: "" });
  expect(JSON.parse(result.result).result).toBe("slept\n");
});

test("submit queues behind running work; a queued job can be cancelled", async () => {
  const llm = await fabric.connect("quinn");
  const running = await llm.call("blender_submit", { command: "execute_code", params: { code: "import time\ntime.sleep(2)\nprint('first')" } });
  expect(running).toMatchObject({ status: "queued", command: "execute_code", target_uuid: "blender-solo" });
  const queued = await llm.call("blender_submit", { command: "get_scene_info" });
  await waitFor("the first job to run", async () => (await llm.call("blender_job_status", { job_id: running.job_id })).status === "running", 20_000, 50);
  expect((await llm.call("blender_job_status", { job_id: queued.job_id })).status).toBe("queued");

  expect(await llm.call("blender_job_cancel", { job_id: queued.job_id })).toEqual({ status: "cancelled", job_id: queued.job_id });
  expect(await llm.call("blender_job_status", { job_id: queued.job_id })).toMatchObject({ status: "cancelled" });
  const first = await llm.call("blender_job_status", { job_id: running.job_id, wait_seconds: 30 });
  expect(first.status).toBe("completed");
  // The cancelled job never ran, and a finished job cannot be cancelled.
  expect(await llm.call("blender_job_cancel", { job_id: queued.job_id })).toMatchObject({ status: "not_cancellable", job_status: "cancelled" });
  const listed = await llm.call("blender_list_jobs", { status: "cancelled" });
  expect(listed.jobs.map((job: { job_id: string }) => job.job_id)).toContain(queued.job_id);
  expect(await llm.call("blender_job_status", { job_id: "j-unknown" })).toMatchObject({ status: "not_found" });
});

test("submit validates the command and its params", async () => {
  const llm = await fabric.connect("quinn");
  expect(await llm.call("blender_submit", { command: "format_disk" })).toMatchObject({ status: "invalid_params", field: "command" });
  expect(await llm.call("blender_submit", { command: "get_object_info", params: {} })).toMatchObject({
    status: "invalid_params",
    field: "params.name",
  });
});

test("a running script stops at its next report_progress when cancelled", async () => {
  const llm = await fabric.connect("quinn");
  await llm.call("blender_register_client", { client_uuid: "llm-canceller", client_type: "llm" });
  const sent = await llm.call("blender_send_message", {
    target_uuid: "blender-solo",
    from_uuid: "llm-canceller",
    payload: {
      message_type: "job_dispatch",
      job_id: "job-endless",
      script: "import time\nfor i in range(600):\n    report_progress(i / 600, f'step {i}')\n    time.sleep(0.05)",
    },
  });
  expect(sent.job_id).toBe("job-endless");
  await waitFor("the script to report progress", async () => (await llm.call("blender_job_status", { job_id: "job-endless" })).progress > 0, 20_000, 100);
  expect(await llm.call("blender_job_cancel", { job_id: "job-endless" })).toMatchObject({ status: "cancelling" });
  const ended = await llm.call("blender_job_status", { job_id: "job-endless", wait_seconds: 20 });
  expect(ended.status).toBe("cancelled");
});

test("queued work runs most urgent priority first, then in arrival order", async () => {
  const llm = await fabric.connect("quinn");
  await llm.call("blender_register_client", { client_uuid: "llm-prioritizer", client_type: "llm" });
  const blocker = await llm.call("blender_submit", { command: "execute_code", params: { code: "import time\ntime.sleep(1.5)" } });
  await waitFor("the blocker to run", async () => (await llm.call("blender_job_status", { job_id: blocker.job_id })).status === "running", 20_000, 50);

  const record = (id: string) => `import bpy\nbpy.app.driver_namespace.setdefault('order', []).append('${id}')`;
  const sends: [string, string][] = [["p-debug", "debug"], ["p-emergency", "emergency"], ["p-info", "info"], ["p-emergency-2", "emergency"]];
  for (const [jobId, priority] of sends) {
    await llm.call("blender_send_message", {
      target_uuid: "blender-solo",
      from_uuid: "llm-prioritizer",
      priority,
      payload: { message_type: "job_dispatch", job_id: jobId, script: record(jobId) },
    });
  }
  for (const [jobId] of sends) {
    expect((await llm.call("blender_job_status", { job_id: jobId, wait_seconds: 30 })).status).toBe("completed");
  }
  const order = await llm.dispatch("blender_execute_code", { code: "import bpy\nprint(','.join(bpy.app.driver_namespace['order']))" });
  expect(order.data.result).toBe("p-emergency,p-emergency-2,p-info,p-debug\n");
});

test("a failing script's traceback names its job, and the originator hears of it", async () => {
  const llm = await fabric.connectListening("quinn");
  await llm.call("blender_register_client", { client_uuid: "llm-scripter", client_type: "llm" });
  await llm.call("blender_send_message", {
    target_uuid: "blender-solo",
    from_uuid: "llm-scripter",
    payload: { message_type: "job_dispatch", job_id: "job-broken", script: "x = 1\nraise RuntimeError('kaboom')" },
  });
  const update = await llm.nextNotification((data) => data.payload.kind === "job_update" && data.job_id === "job-broken", 20_000);
  expect(update.data.payload.status).toBe("failed");
  expect(update.data.payload.error).toContain('File "<job_job-broken>", line 2');
  expect(update.data.payload.error).toContain("RuntimeError: kaboom");
});
