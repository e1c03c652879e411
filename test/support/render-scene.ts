/**
 * Scenes and pictures for render-farm tests: a .blend made by real Blender, and PNG pixels
 * read back (pngjs) to check what a frame shows.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { PNG } from "pngjs";
import { findProgram } from "@blender-fabric/testkit";

const run = promisify(execFile);

export type SceneOptions = {
  frames?: number;
  /** Render settings stored in the file (what `blender -b scene.blend -a` renders with). */
  resolution?: [number, number];
  samples?: number;
  /** Where `-a` writes frames (Blender's render.filepath). */
  outputPath?: string;
  /** false: no camera, so every render of it fails. */
  camera?: boolean;
};

/**
 * Saves a scene to `path`: a red emissive cube filling the middle of the view, a camera
 * looking at it, a light, a dark world, frames 1 to 24 (or `frames`), Cycles without denoising.
 */
export async function makeRedCubeScene(path: string, options: SceneOptions = {}): Promise<void> {
  const [width, height] = options.resolution ?? [32, 24];
  const script = `
import bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, ${options.frames ?? 24}
bpy.ops.mesh.primitive_cube_add(size=2, location=(0, 0, 0))
cube = bpy.context.active_object
material = bpy.data.materials.new("Red")
material.use_nodes = True
nodes = material.node_tree.nodes
nodes.clear()
emission = nodes.new("ShaderNodeEmission")
emission.inputs["Color"].default_value = (1, 0, 0, 1)
output = nodes.new("ShaderNodeOutputMaterial")
material.node_tree.links.new(emission.outputs[0], output.inputs[0])
cube.data.materials.append(material)
cube.keyframe_insert("rotation_euler", frame=1)
cube.rotation_euler[2] = 1.0
cube.keyframe_insert("rotation_euler", frame=24)
if ${options.camera === false ? "False" : "True"}:
    bpy.ops.object.camera_add(location=(0, -6, 0), rotation=(1.5708, 0, 0))
    scene.camera = bpy.context.active_object
bpy.ops.object.light_add(type="POINT", location=(2, -3, 3))
world = bpy.data.worlds.new("Dark")
world.color = (0.02, 0.02, 0.02)
scene.world = world
scene.render.engine = "CYCLES"
scene.cycles.samples = ${options.samples ?? 2}
scene.cycles.use_denoising = False
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = ${width}, ${height}, 100
scene.render.image_settings.file_format = "PNG"
scene.render.filepath = ${JSON.stringify(options.outputPath ?? "//frames/frame-")}
bpy.ops.wm.save_as_mainfile(filepath=${JSON.stringify(path)})
`;
  await run(findProgram("blender"), ["-b", "--factory-startup", "--python-expr", script], { timeout: 120_000 });
}

export type Picture = { width: number; height: number; pixel(x: number, y: number): [number, number, number] };

export async function readPng(source: string | Buffer): Promise<Picture> {
  const png = PNG.sync.read(typeof source === "string" ? await readFile(source) : source);
  return {
    width: png.width,
    height: png.height,
    pixel(x, y) {
      const offset = (png.width * y + x) << 2;
      return [png.data[offset]!, png.data[offset + 1]!, png.data[offset + 2]!];
    },
  };
}

/** Whether one channel clearly dominates the pixel (e.g. "red": r well above g and b). */
export const dominant = ([r, g, b]: [number, number, number]): "red" | "green" | "blue" | "none" => {
  if (r > 2 * g + 20 && r > 2 * b + 20) return "red";
  if (g > 2 * r + 20 && g > 2 * b + 20) return "green";
  if (b > 2 * r + 20 && b > 2 * g + 20) return "blue";
  return "none";
};
