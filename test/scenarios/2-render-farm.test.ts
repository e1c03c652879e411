// Seed 000, use case 2: a coordinator renders frames on a farm of three peers, concurrently.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, type BridgeProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let farm: BridgeProcess[] = [];
const outputs = mkdtempSync(join(tmpdir(), "fabric-farm-"));

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  farm = await Promise.all(
    ["01", "02", "03"].map((number) =>
      startBridgeProcess({
        natsUrls: fabric.natsUrls,
        user: "render-op",
        uuid: `blender-farm-${number}`,
        groupId: "render-cluster",
        capabilities: ["python_execution", "rendering", "gpu"],
        // Blender renders into a folder of the test's: its sandbox must show it.
        env: { FABRIC_SANDBOX_SHARE: outputs },
      }),
    ),
  );
});
afterAll(async () => {
  await Promise.allSettled(farm.map((peer) => peer.stop()));
  await fabric?.[Symbol.asyncDispose]();
});

const renderFrame = (frame: number) =>
  [
    "import bpy",
    "scene = bpy.context.scene",
    "scene.render.engine = 'CYCLES'",
    "scene.cycles.device = 'CPU'",
    "scene.cycles.samples = 1",
    "scene.cycles.use_denoising = False",
    "scene.render.resolution_x = 32",
    "scene.render.resolution_y = 24",
    "scene.render.resolution_percentage = 100",
    `scene.frame_set(${frame})`,
    `scene.render.filepath = ${JSON.stringify(join(outputs, `frame_${frame}.png`))}`,
    "bpy.ops.render.render(write_still=True)",
    "print(scene.frame_current)",
  ].join("\n");

test("the coordinator filters the farm by group and capability and renders one frame per peer", async () => {
  const coordinator = await fabric.connect("render-op");
  await coordinator.call("blender_register_client", { client_uuid: "llm-coordinator", client_type: "llm" });
  // A workstation of the same user that is not part of the farm.
  const listing = await coordinator.call("blender_list_available_clients");
  const peers: string[] = listing.persistent
    .filter((client: { group_id: string; capabilities: string[]; client_type: string }) =>
      client.group_id === "render-cluster" && client.client_type === "blender" && client.capabilities.includes("gpu"),
    )
    .map((client: { uuid: string }) => client.uuid)
    .sort();
  expect(peers).toEqual(["blender-farm-01", "blender-farm-02", "blender-farm-03"]);

  const frames = [41, 42, 43];
  const results = await Promise.all(
    peers.map((uuid, index) => coordinator.dispatch("blender_execute_code", { target_uuid: uuid, code: renderFrame(frames[index]!) })),
  );
  expect(results.map((result) => [result.status, result.target_uuid, result.data.result])).toEqual(
    peers.map((uuid, index) => ["completed", uuid, `${frames[index]}\n`]),
  );
  expect(readdirSync(outputs).sort()).toEqual(["frame_41.png", "frame_42.png", "frame_43.png"]);
  for (const name of readdirSync(outputs)) {
    expect(readFileSync(join(outputs, name)).subarray(1, 4).toString()).toBe("PNG");
  }
});
