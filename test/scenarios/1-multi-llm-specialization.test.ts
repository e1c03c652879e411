// Seed 000, use case 1: a modeler, a shader and a lighter LLM work on one Blender scene.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, startPolyHavenFixture, type BridgeProcess, type PolyHavenFixture } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let polyhaven: PolyHavenFixture;
let blender: BridgeProcess;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  polyhaven = await startPolyHavenFixture();
  blender = await startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: "studio",
    uuid: "blender-main",
    capabilities: ["python_execution", "modeling", "rendering"],
    addonPreferences: { enable_polyhaven: true, polyhaven_base_url: polyhaven.url },
  });
});
afterAll(async () => {
  await blender?.stop();
  await polyhaven?.close();
  await fabric?.[Symbol.asyncDispose]();
});

test("three specialists change one scene, each seeing the others' work", async () => {
  const [modeler, shader, lighter] = await Promise.all(["modeler", "shader", "lighter"].map(() => fabric.connect("studio")));
  await modeler!.call("blender_register_client", { client_uuid: "llm-modeler", client_type: "llm", capabilities: ["modeling", "geometry"] });
  await shader!.call("blender_register_client", { client_uuid: "llm-shader", client_type: "llm", capabilities: ["shading", "materials"] });
  await lighter!.call("blender_register_client", { client_uuid: "llm-lighter", client_type: "llm", capabilities: ["lighting", "hdri"] });

  // Modeler: read the scene, add geometry.
  const before = await modeler!.dispatch("blender_get_scene_info");
  expect(before.data.objects.map((object: { name: string }) => object.name)).toContain("Cube");
  await modeler!.dispatch("blender_execute_code", {
    code: "import bpy\nbpy.ops.mesh.primitive_uv_sphere_add(location=(0, 3, 1))\nbpy.context.object.name = 'Modeled'",
  });

  // Shader: discover the new object's materials, then build a node graph for it.
  const modeled = await shader!.dispatch("blender_get_object_info", { name: "Modeled" });
  expect(modeled.data.materials).toEqual([]);
  await shader!.dispatch("blender_execute_code", {
    code: [
      "import bpy",
      "material = bpy.data.materials.new('Shader_Red')",
      "material.use_nodes = True",
      "material.node_tree.nodes['Principled BSDF'].inputs['Base Color'].default_value = (1, 0, 0, 1)",
      "bpy.data.objects['Modeled'].data.materials.append(material)",
    ].join("\n"),
  });

  // Lighter: find an outdoor HDRI and light the scene with it.
  const hdris = await lighter!.dispatch("blender_search_polyhaven_assets", { asset_type: "hdris", categories: "outdoor" });
  const [assetId] = Object.keys(hdris.data.assets);
  const downloaded = await lighter!.dispatch("blender_download_polyhaven_asset", { asset_id: assetId, asset_type: "hdris" });
  expect(downloaded.data.success).toBe(true);

  // Everyone sees the combined scene.
  const shaded = await modeler!.dispatch("blender_get_object_info", { name: "Modeled" });
  expect(shaded.data.materials).toEqual(["Shader_Red"]);
  const world = await shader!.dispatch("blender_execute_code", {
    code: "import bpy\nprint(any(n.type == 'TEX_ENVIRONMENT' and n.image for n in bpy.context.scene.world.node_tree.nodes))",
  });
  expect(world.data.result).toBe("True\n");
  const listing = await lighter!.call("blender_list_available_clients");
  expect(listing.ephemeral.map((client: { uuid: string }) => client.uuid).sort()).toEqual(["llm-lighter", "llm-modeler", "llm-shader"]);
  expect(listing.persistent.map((client: { uuid: string }) => client.uuid)).toEqual(["blender-main"]);
});
