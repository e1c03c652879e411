/**
 * Seed 000, use case 1, as a flow both its scenario test and the scale-out test run: a
 * modeler, a shader and a lighter LLM change one scene, each seeing the others' work. `scene`
 * names the Blender they share (nothing: the only live peer; or `project:<id>`).
 */
import { expect } from "vitest";
import type { FabricTestClient } from "@blender-fabric/testkit";

type Listing = { persistent: { uuid: string; project_id?: string }[]; ephemeral: { uuid: string }[] };

/** Runs the flow; returns the peers that answered and the lighter's final client listing. */
export async function runSpecialistsScenario(
  connect: () => Promise<FabricTestClient>,
  scene: { target_uuid?: string },
): Promise<{ answeredBy: string[]; listing: Listing }> {
  const [modeler, shader, lighter] = await Promise.all([connect(), connect(), connect()]);
  await modeler!.call("blender_register_client", { client_uuid: "llm-modeler", client_type: "llm", capabilities: ["modeling", "geometry"] });
  await shader!.call("blender_register_client", { client_uuid: "llm-shader", client_type: "llm", capabilities: ["shading", "materials"] });
  await lighter!.call("blender_register_client", { client_uuid: "llm-lighter", client_type: "llm", capabilities: ["lighting", "hdri"] });
  const answeredBy = new Set<string>();
  const dispatch = async (client: FabricTestClient, tool: string, args: Record<string, unknown> = {}) => {
    const answer = await client.dispatch(tool, { ...scene, ...args });
    answeredBy.add(answer.target_uuid);
    return answer;
  };

  // Modeler: read the scene, add geometry.
  const before = await dispatch(modeler!, "blender_get_scene_info");
  expect(before.data.objects.map((object: { name: string }) => object.name)).toContain("Cube");
  await dispatch(modeler!, "blender_execute_code", {
    code: "import bpy\nbpy.ops.mesh.primitive_uv_sphere_add(location=(0, 3, 1))\nbpy.context.object.name = 'Modeled'",
  });

  // Shader: discover the new object's materials, then build a node graph for it.
  const modeled = await dispatch(shader!, "blender_get_object_info", { name: "Modeled" });
  expect(modeled.data.materials).toEqual([]);
  await dispatch(shader!, "blender_execute_code", {
    code: [
      "import bpy",
      "material = bpy.data.materials.new('Shader_Red')",
      "material.use_nodes = True",
      "material.node_tree.nodes['Principled BSDF'].inputs['Base Color'].default_value = (1, 0, 0, 1)",
      "bpy.data.objects['Modeled'].data.materials.append(material)",
    ].join("\n"),
  });

  // Lighter: find an outdoor HDRI and light the scene with it.
  const hdris = await dispatch(lighter!, "blender_search_polyhaven_assets", { asset_type: "hdris", categories: "outdoor" });
  const [assetId] = Object.keys(hdris.data.assets);
  const downloaded = await dispatch(lighter!, "blender_download_polyhaven_asset", { asset_id: assetId, asset_type: "hdris" });
  expect(downloaded.data.success).toBe(true);

  // Everyone sees the combined scene.
  const shaded = await dispatch(modeler!, "blender_get_object_info", { name: "Modeled" });
  expect(shaded.data.materials).toEqual(["Shader_Red"]);
  const world = await dispatch(shader!, "blender_execute_code", {
    code: "import bpy\nprint(any(n.type == 'TEX_ENVIRONMENT' and n.image for n in bpy.context.scene.world.node_tree.nodes))",
  });
  expect(world.data.result).toBe("True\n");
  const listing = await lighter!.call<Listing>("blender_list_available_clients");
  expect(listing.ephemeral.map((client) => client.uuid).sort()).toEqual(["llm-lighter", "llm-modeler", "llm-shader"]);
  return { answeredBy: [...answeredBy], listing };
}
