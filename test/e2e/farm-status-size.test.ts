// Issue 18: a farm job's status stays small however many tasks it has, on two replicas, and
// the CLI's job controls answer from a terminal. No Blender: the tasks wait for a group with
// no peer, which is all a status needs.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mintToken, type FabricTestClient } from "@blender-fabric/testkit";
import { runCli } from "../support/cli.js";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let llm: FabricTestClient;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2, gatewayEnv: { FABRIC_MAX_UNFINISHED_JOBS: "20000" } });
  llm = await fabric.connect("sami");
}, 60_000);

afterAll(async () => {
  await fabric?.[Symbol.asyncDispose]();
});

test("the status of a 10,000-task job is a summary under 50 kB (under 2 kB alone) on either replica; tasks come in pages", async () => {
  const farm = await llm.call("blender_farm_map", { script: "pass", items: Array.from({ length: 10_000 }, (_, i) => i), group_id: "nobody-here" });
  expect(farm).toMatchObject({ status: "queued", tasks: 10_000, items: 10_000 });
  // The session alternates replicas: each answers from its own tally.
  for (let call = 0; call < 2; call += 1) {
    const status = await llm.call("blender_job_status", { job_id: farm.job_id });
    expect(JSON.stringify(status).length).toBeLessThan(50_000);
    expect(status.farm).toMatchObject({ tasks_total: 10_000, items_total: 10_000, items_done: 0, tasks_by_status: { queued: 10_000 }, tasks_offset: 0 });
    expect(status.farm.tasks).toHaveLength(100);
    const summary = await llm.call("blender_job_status", { job_id: farm.job_id, tasks_limit: 0 });
    expect(JSON.stringify(summary).length).toBeLessThan(2_000);
    expect(summary.farm.tasks).toEqual([]);
  }
  const last = await llm.call("blender_job_status", { job_id: farm.job_id, tasks_offset: 9_998, tasks_limit: 1_000 });
  expect(last.farm.tasks.map((task: { task_id: string }) => task.task_id)).toEqual([`${farm.job_id}-t9999`, `${farm.job_id}-t10000`]);
  expect(await llm.call("blender_job_status", { job_id: farm.job_id, tasks_limit: 1_001 })).toMatchObject({ status: "invalid_params", field: "tasks_limit" });
  // Listed as one row, with its size, whatever its tasks.
  const listed = (await llm.call("blender_list_jobs", {})).jobs.find((job: { job_id: string }) => job.job_id === farm.job_id);
  expect(listed).toMatchObject({ kind: "farm", tasks_total: 10_000, items_total: 10_000, status: "queued" });

  // The CLI: a job that is not failed has nothing to requeue; cancel ends it, every task with it.
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "sami" }) };
  const requeue = runCli(["requeue", farm.job_id], env);
  expect(await requeue.exited).toBe(1);
  expect(requeue.errors()).toContain("not_controllable (queued): no task has failed every attempt it had: nothing to requeue");
  const cancel = runCli(["cancel", farm.job_id], env);
  expect(await cancel.exited).toBe(0);
  expect(cancel.output()).toContain(`job ${farm.job_id}: cancelled`);
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, tasks_limit: 0 });
  expect(ended).toMatchObject({ status: "cancelled", farm: { tasks_by_status: { cancelled: 10_000 } } });
  const again = runCli(["pause", farm.job_id], env);
  expect(await again.exited).toBe(1);
  expect(again.errors()).toContain("not_controllable (cancelled): the job has ended (cancelled)");
  const unknown = runCli(["priority", farm.job_id, "urgent"], env);
  expect(await unknown.exited).toBe(1);
  expect(unknown.errors()).toContain("priority: expected high, normal or low, not urgent");
}, 120_000);
