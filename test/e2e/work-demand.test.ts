// Issue 9: the demand signal the pool and KEDA scale on, read on a real nats-server with no
// peer running: work waiting for a project, a group (its shared consumers exist before any
// peer of the group has run, so KEDA reads a real pending count) and the farm pool.
import { afterAll, beforeAll, expect, test } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { capabilitiesWanted, readWorkDemand } from "@blender-fabric/bus";
import { FARM_PRIORITIES, StreamName, consumerForGroup } from "@blender-fabric/protocol";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 1 });
});
afterAll(async () => {
  await fabric?.[Symbol.asyncDispose]();
});

test("work nobody serves is demand: per project, per group (consumers made at submission) and for the farm pool", async () => {
  const llm = await fabric.connect("dora");
  const jsm = await jetstreamManager(fabric.nc);
  expect(await readWorkDemand(jsm)).toEqual([]);

  const farm = await llm.call("blender_farm_map", { script: "print(items)", items: [1, 2, 3, 4], chunk_size: 1, group_id: "night-shift", capabilities: ["gpu"] });
  expect(farm).toMatchObject({ status: "queued", tasks: 4 });
  await llm.call("blender_farm_map", { script: "print(items)", items: [1, 2], chunk_size: 1, priority: "high" });
  const queued = await llm.call("blender_submit", { command: "get_scene_info", target_uuid: "project:atlas", deadline_seconds: 60 });
  expect(queued).toMatchObject({ status: "queued" });

  for (const priority of FARM_PRIORITIES) {
    const info = await jsm.consumers.info(StreamName.Work, consumerForGroup("dora", "night-shift", priority));
    expect(info.num_pending).toBe(priority === "normal" ? 4 : 0);
  }
  const demand = await readWorkDemand(jsm);
  expect(demand).toHaveLength(3);
  expect(demand).toEqual(expect.arrayContaining([
    { kind: "group", userId: "dora", groupId: "night-shift", messages: 4 },
    { kind: "farm", userId: "dora", messages: 2 },
    { kind: "project", userId: "dora", projectId: "atlas", messages: 1 },
  ]));
  const group = demand.find((wanted) => wanted.kind === "group")!;
  expect(await capabilitiesWanted(jsm, group)).toEqual(["gpu"]);

  // A job for a project nobody serves says why when its deadline passes.
  const ended = await llm.call("blender_get_scene_info", { target_uuid: "project:nobody-home", _timeout: 1 });
  expect(ended.status).toBe("expired");
  expect(ended.error).toMatch(/no peer of project nobody-home took it/u);
});
