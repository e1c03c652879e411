// Seed 000, use case 4: a mirror LLM watches a sculpting peer and replays its changes on a
// preview peer of the same group.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, type BridgeProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let peers: BridgeProcess[] = [];

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  peers = await Promise.all(
    ["blender-sculpt", "blender-preview"].map((uuid) =>
      startBridgeProcess({ natsUrls: fabric.natsUrls, user: "mirror", uuid, groupId: "studio-1" }),
    ),
  );
});
afterAll(async () => {
  await Promise.allSettled(peers.map((peer) => peer.stop()));
  await fabric?.[Symbol.asyncDispose]();
});

const ADD_SUZANNE = "import bpy\nbpy.ops.mesh.primitive_monkey_add(location=(0, 0, 0))\nbpy.context.object.name = 'Suzanne'";

test("a change on the sculpting peer is detected and mirrored to the preview peer", async () => {
  const mirror = await fabric.connect("mirror");
  for (const target of ["blender-sculpt", "blender-preview"]) {
    expect((await mirror.dispatch("blender_execute_code", { target_uuid: target, code: ADD_SUZANNE })).status).toBe("completed");
  }
  // The artist moves Suzanne on the sculpting workstation.
  await mirror.dispatch("blender_execute_code", {
    target_uuid: "blender-sculpt",
    code: "import bpy\nbpy.data.objects['Suzanne'].location = (1.2, 0, 0)",
  });

  // The mirror polls both peers and replays every difference.
  const locationsOf = async (target: string) => {
    const scene = await mirror.dispatch("blender_get_scene_info", { target_uuid: target });
    const browsed = await mirror.dispatch("blender_browse_data", { target_uuid: target, collection: "objects" });
    expect(browsed.data.total).toBe(scene.data.object_count);
    return new Map<string, number[]>(scene.data.objects.map((object: { name: string; location: number[] }) => [object.name, object.location]));
  };
  const sculpt = await locationsOf("blender-sculpt");
  const preview = await locationsOf("blender-preview");
  const deltas = [...sculpt].filter(([name, location]) => JSON.stringify(preview.get(name)) !== JSON.stringify(location));
  expect(deltas).toEqual([["Suzanne", [1.2, 0, 0]]]);
  for (const [name, location] of deltas) {
    await mirror.dispatch("blender_execute_code", {
      target_uuid: "blender-preview",
      code: `import bpy\nbpy.data.objects[${JSON.stringify(name)}].location = (${location.join(", ")})`,
    });
  }

  const mirrored = await mirror.dispatch("blender_get_object_info", { target_uuid: "blender-preview", name: "Suzanne" });
  expect(mirrored.data.location).toEqual([1.2, 0, 0]);
  expect(await locationsOf("blender-preview")).toEqual(await locationsOf("blender-sculpt"));
});
