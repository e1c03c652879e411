// Acceptance 4: the originator gets the job_update notification although every gateway
// replica restarted between dispatch and reply: the job record lives in KV.
import { afterAll, beforeAll, expect, test } from "vitest";
import { Kvm } from "@nats-io/kv";
import { BucketName, keyForJob } from "@blender-fabric/protocol";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

test("job_update reaches the originator across a restart of all replicas", async () => {
  const originator = await fabric.connectListening("ivan");
  const worker = await fabric.connectListening("ivan");
  const bystander = await fabric.connectListening("ivan");
  await originator.call("blender_register_client", { client_uuid: "llm-supervisor", client_type: "llm" });
  await worker.call("blender_register_client", { client_uuid: "blender-sim", client_type: "blender" });
  await bystander.call("blender_register_client", { client_uuid: "llm-bystander", client_type: "llm" });

  const sent = await originator.call("blender_send_message", {
    target_uuid: "blender-sim",
    from_uuid: "llm-supervisor",
    payload: { message_type: "job_dispatch", job_id: "job-bake-001", script: "bake()" },
  });
  expect(sent.job_id).toBe("job-bake-001");
  await worker.nextNotification((data) => data.job_id === "job-bake-001");

  for (const gateway of fabric.gateways) await gateway.kill();
  for (const gateway of fabric.gateways) await gateway.restart();
  // The SDK clients reconnect their GET streams to the restarted replicas on their own.
  await Promise.all([originator, worker, bystander].map((client) => client.waitForStream(fabric.nc, 20_000)));

  const reply = await worker.call("blender_job_update", {
    job_id: "job-bake-001",
    status: "completed",
    result: JSON.stringify({ frames: 120 }),
  });
  expect(reply).toEqual({ status: "ok", delivered: "direct", targets: ["llm-supervisor"] });

  const update = await originator.nextNotification((data) => data.payload.kind === "job_update");
  expect(update.level).toBe("notice");
  expect(update.data).toMatchObject({
    job_id: "job-bake-001",
    from_uuid: "blender-sim",
    routing: { type: "direct", target_uuid: "llm-supervisor" },
    payload: { kind: "job_update", job_id: "job-bake-001", status: "completed", result: '{"frames":120}' },
  });

  // Terminal: the record is closed; a duplicate is still routed but changes nothing.
  const jobs = await new Kvm(fabric.nc).open(BucketName.Jobs);
  const closed = (await jobs.get(keyForJob("ivan", "job-bake-001")))!.json<Record<string, unknown>>();
  expect(closed).toMatchObject({ status: "completed", originator_uuid: "llm-supervisor", kind: "script" });
  await worker.call("blender_job_update", { job_id: "job-bake-001", status: "failed", error: "late" });
  const after = (await jobs.get(keyForJob("ivan", "job-bake-001")))!.json<Record<string, unknown>>();
  expect(after).toMatchObject({ status: "completed", error: "" });
  expect(bystander.received((data) => data.payload.kind === "job_update")).toEqual([]);

  // A job nobody dispatched has no known originator: the update is broadcast.
  const orphan = await worker.call("blender_job_update", { job_id: "job-unknown", status: "running" });
  expect(orphan).toEqual({ status: "ok", delivered: "broadcast", targets: ["llm-bystander", "llm-supervisor"] });
  await bystander.nextNotification((data) => data.job_id === "job-unknown");
});
