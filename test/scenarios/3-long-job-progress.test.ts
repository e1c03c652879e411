// Seed 000, use case 3: a long script reports progress to the supervisor that dispatched it,
// then its terminal job_update.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, type BridgeProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let blender: BridgeProcess;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  blender = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "sim", uuid: "blender-sim" });
});
afterAll(async () => {
  await blender?.stop();
  await fabric?.[Symbol.asyncDispose]();
});

test("progress notifications arrive in order, then the completed job_update", async () => {
  const supervisor = await fabric.connectListening("sim");
  await supervisor.call("blender_register_client", { client_uuid: "llm-supervisor", client_type: "llm" });
  const bystander = await fabric.connectListening("sim");
  await bystander.call("blender_register_client", { client_uuid: "llm-bystander", client_type: "llm" });

  const script = [
    "import bpy, time",
    "for frame in range(1, 6):",
    "    bpy.context.scene.frame_set(frame * 24)",
    "    report_progress(frame / 5, f'frame {frame * 24}')",
    "    time.sleep(0.15)",
    "print('baked', bpy.context.scene.frame_current)",
  ].join("\n");
  await supervisor.call("blender_send_message", {
    target_uuid: "blender-sim",
    from_uuid: "llm-supervisor",
    payload: { message_type: "job_dispatch", job_id: "job-bake-001", script },
  });

  const done = await supervisor.nextNotification((data) => data.payload.kind === "job_update", 30_000);
  expect(done.level).toBe("notice");
  expect(done.data).toMatchObject({
    from_uuid: "blender-sim",
    job_id: "job-bake-001",
    payload: { kind: "job_update", job_id: "job-bake-001", status: "completed", error: "" },
  });
  expect(JSON.parse(done.data.payload.result)).toEqual({ executed: true, result: "baked 120\n" });

  const progress = supervisor.received((data) => data.payload.kind === "progress").map((notification) => notification.data.payload);
  expect(progress.map((event) => event.percent)).toEqual([20, 40, 60, 80, 100]);
  expect(progress.map((event) => event.message)).toEqual(["frame 24", "frame 48", "frame 72", "frame 96", "frame 120"]);
  // The progress and the result went to the originator only.
  expect(bystander.received((data) => data.job_id === "job-bake-001")).toEqual([]);
  const record = await supervisor.call("blender_job_status", { job_id: "job-bake-001" });
  expect(record).toMatchObject({ status: "completed", kind: "script", originator_uuid: "llm-supervisor", progress: 1 });
});
