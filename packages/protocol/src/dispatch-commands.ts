/**
 * The 24 Blender commands behind the dispatch tools (seed 001, DESIGN.md section 5): each
 * command's parameters (the addon's keyword arguments), its tier and its timeout. The
 * gateway turns each into a `blender_<command>` tool; `blender_submit` validates against
 * the same schemas. addon/PROTOCOL.md is the addon side of this table.
 */
import { z } from "zod";

/** Default waits of the dispatch tools, in seconds. */
export const TIMEOUT_TIERS = { fast: 15, default: 30, medium: 60, long: 180 } as const;
export type TimeoutTier = keyof typeof TIMEOUT_TIERS;

export type DispatchCommand = {
  /** The addon command; the tool is `blender_<name>`. */
  name: string;
  description: string;
  /** 1 always on, 2 status probes, 3 gated by an addon preference. */
  tier: 1 | 2 | 3;
  timeout: TimeoutTier;
  /** MCP hints (annotations): it only looks; it may change or remove what is there (not only add); it reaches a service outside the fabric. */
  readOnly?: boolean;
  destructive?: boolean;
  openWorld?: boolean;
  /** Leaves the open scene as it was though it is not read-only (it writes elsewhere). Default: readOnly. */
  keepsScene?: boolean;
  params: z.ZodObject;
};

const page = z.number().int().min(1).default(1).describe("Page number, from 1.");
const pageSize = z.number().int().min(1).max(500).default(50).describe("Items per page (at most 500).");
const noParams = z.object({});

const command = (definition: DispatchCommand) => definition;

export const DISPATCH_COMMANDS: readonly DispatchCommand[] = [
  command({
    name: "get_scene_info",
    description: "The current scene: name, objects with type and location, materials, frame range, render engine.",
    tier: 1,
    timeout: "default",
    readOnly: true,
    params: noParams,
  }),
  command({
    name: "get_object_info",
    description: "One object: type, transform, visibility, parent, materials, mesh counts, world bounding box.",
    tier: 1,
    timeout: "default",
    readOnly: true,
    params: z.object({ name: z.string().min(1).describe("The object's name, e.g. Cube.") }),
  }),
  command({
    name: "browse_data",
    description:
      "Page through a bpy.data collection (objects, meshes, materials, cameras, lights, collections, images, ...) or show one item.",
    tier: 1,
    timeout: "default",
    readOnly: true,
    params: z.object({
      collection: z.string().min(1).describe("The bpy.data collection, e.g. objects, meshes, materials."),
      item_name: z.string().nullable().default(null).describe("One item of it to show; default: a page of the collection."),
      page,
      page_size: pageSize,
      detail_level: z.enum(["summary", "full"]).default("summary").describe("summary: names and types; full: every property."),
    }),
  }),
  command({
    name: "execute_code",
    description: "Run Python in Blender with bpy, bmesh and mathutils; returns captured stdout. One undo step.",
    tier: 1,
    timeout: "medium",
    destructive: true,
    params: z.object({ code: z.string().min(1).describe("Python run in Blender with bpy imported; what it prints is the result. report_progress(fraction, message) reports progress.") }),
  }),
  command({
    name: "get_viewport_screenshot",
    description:
      "An image of the viewport (in background Blender: a render of the scene camera). The answer carries the picture " +
      "itself as an MCP image content block after its JSON text; the file also goes to the artifact store, and the " +
      "result links to it. With filepath, Blender also writes the file there on its own machine.",
    tier: 1,
    timeout: "medium",
    // Not read-only: `filepath` writes (and may replace) a file where Blender runs; the scene stays as it was.
    readOnly: false,
    destructive: true,
    keepsScene: true,
    params: z.object({
      filepath: z
        .string()
        .nullable()
        .default(null)
        .describe("Also write the image to this path on the machine where Blender runs (replacing a file there). Default: only the artifact store."),
      max_size: z.number().int().min(16).max(4096).default(800).describe("Longest side of the image, in pixels."),
      format: z.enum(["png", "jpg"]).default("png").describe("Image format."),
    }),
  }),
  command({
    name: "get_console_output",
    description: "Blender's captured console lines, filtered by level, paginated.",
    tier: 1,
    timeout: "default",
    readOnly: true,
    params: z.object({ level: z.enum(["all", "info", "warning", "error"]).default("all").describe("Only lines of this level (all: every line)."), page, page_size: pageSize }),
  }),
  command({
    name: "console_operations",
    description: "Console maintenance: clear, stats, or search (params.query).",
    tier: 1,
    timeout: "default",
    destructive: true,
    params: z.object({
      operation: z.enum(["clear", "stats", "search"]).describe("clear the captured lines, count them (stats), or search them (params.query)."),
      params: z.record(z.string(), z.unknown()).nullable().default(null).describe("For search: {query}."),
    }),
  }),
  ...(["polyhaven", "hyper3d", "sketchfab"] as const).map((service) =>
    command({
      name: `get_${service}_status`,
      description: `Whether the ${service} integration is enabled in the addon preferences: {enabled, message}.`,
      tier: 2,
      timeout: "fast",
      readOnly: true,
      params: noParams,
    }),
  ),
  command({
    name: "msgbus_subscribe_rna",
    description: "Subscribe to changes of an RNA property (bpy.msgbus). Gated: enable_msgbus.",
    tier: 3,
    timeout: "default",
    params: z.object({
      data_path: z.string().min(1).describe("The RNA path to watch, e.g. bpy.context.object.location."),
      owner: z.string().default("fabric").describe("Who owns the subscription (clear them by owner)."),
    }),
  }),
  command({
    name: "msgbus_publish_rna",
    description: "Publish a change notification for an RNA property. Gated: enable_msgbus.",
    tier: 3,
    timeout: "default",
    params: z.object({ data_path: z.string().min(1).describe("The RNA path whose subscribers are notified.") }),
  }),
  command({
    name: "msgbus_get_notifications",
    description: "Notifications received by msgbus subscriptions. Gated: enable_msgbus.",
    tier: 3,
    timeout: "default",
    readOnly: true,
    params: z.object({
      owner: z.string().nullable().default(null).describe("Only this owner's notifications; default: every owner's."),
      clear: z.boolean().default(true).describe("Remove the notifications returned."),
    }),
  }),
  command({
    name: "msgbus_list_subscriptions",
    description: "Active msgbus subscriptions. Gated: enable_msgbus.",
    tier: 3,
    timeout: "default",
    readOnly: true,
    params: noParams,
  }),
  command({
    name: "msgbus_clear_by_owner",
    description: "Remove the msgbus subscriptions of one owner. Gated: enable_msgbus.",
    tier: 3,
    timeout: "default",
    destructive: true,
    params: z.object({ owner: z.string().min(1).describe("The owner whose subscriptions are removed.") }),
  }),
  command({
    name: "get_polyhaven_categories",
    description: "PolyHaven categories of an asset type. Gated: enable_polyhaven.",
    tier: 3,
    timeout: "default",
    readOnly: true, openWorld: true,
    params: z.object({ asset_type: z.enum(["hdris", "textures", "models", "all"]).default("hdris").describe("Which kind of Poly Haven asset.") }),
  }),
  command({
    name: "search_polyhaven_assets",
    description: "Search PolyHaven assets by type and categories. Gated: enable_polyhaven.",
    tier: 3,
    timeout: "default",
    readOnly: true, openWorld: true,
    params: z.object({
      asset_type: z.enum(["hdris", "textures", "models", "all"]).default("all").describe("Which kind of Poly Haven asset."),
      categories: z.string().nullable().default(null).describe("Comma-separated categories to narrow the search."),
    }),
  }),
  command({
    name: "download_polyhaven_asset",
    description: "Download a PolyHaven asset and import it (HDRI as world, texture as material, model). Gated: enable_polyhaven.",
    tier: 3,
    timeout: "long",
    openWorld: true,
    params: z.object({
      asset_id: z.string().min(1).describe("The Poly Haven asset id."),
      asset_type: z.enum(["hdris", "textures", "models"]).describe("Its kind."),
      resolution: z.string().default("1k").describe("1k, 2k, 4k, …"),
      file_format: z.string().nullable().default(null).describe("e.g. hdr, exr, jpg, gltf; default: the kind's usual one."),
    }),
  }),
  command({
    name: "set_texture",
    description: "Apply a downloaded PolyHaven texture to an object. Gated: enable_polyhaven.",
    tier: 3,
    timeout: "default",
    destructive: true, openWorld: true,
    params: z.object({
      object_name: z.string().min(1).describe("The object that gets the texture."),
      texture_id: z.string().min(1).describe("A Poly Haven texture id downloaded before."),
    }),
  }),
  command({
    name: "create_rodin_job",
    description: "Start a Hyper3D Rodin generation from a text prompt or images. Gated: enable_hyper3d.",
    tier: 3,
    timeout: "medium",
    openWorld: true,
    params: z.object({
      text_prompt: z.string().nullable().default(null).describe("What to generate, in words."),
      images: z.array(z.string()).nullable().default(null).describe("Reference images (URLs or base64)."),
      bbox_condition: z.array(z.number()).nullable().default(null).describe("Bounding box ratio [x, y, z]."),
    }),
  }),
  command({
    name: "poll_rodin_job_status",
    description: "Status of a Hyper3D Rodin generation. Gated: enable_hyper3d.",
    tier: 3,
    timeout: "default",
    readOnly: true, openWorld: true,
    params: z.object({
      subscription_key: z.string().nullable().default(null).describe("The Rodin job's subscription key (main site)."),
      request_id: z.string().nullable().default(null).describe("The Rodin job's request id (fal.ai)."),
    }),
  }),
  command({
    name: "import_generated_asset",
    description: "Import a finished Hyper3D Rodin asset. Gated: enable_hyper3d.",
    tier: 3,
    timeout: "long",
    openWorld: true,
    params: z.object({
      name: z.string().min(1).describe("Name of the imported object."),
      task_uuid: z.string().nullable().default(null).describe("The finished Rodin task (main site)."),
      request_id: z.string().nullable().default(null).describe("The finished Rodin request (fal.ai)."),
    }),
  }),
  command({
    name: "search_sketchfab_models",
    description: "Search Sketchfab models. Gated: enable_sketchfab.",
    tier: 3,
    timeout: "medium",
    readOnly: true, openWorld: true,
    params: z.object({
      query: z.string().min(1).describe("Words to search for."),
      categories: z.string().nullable().default(null).describe("Comma-separated categories to narrow the search."),
      count: z.number().int().min(1).max(100).default(20).describe("How many results."),
      downloadable: z.boolean().default(true).describe("Only models that can be downloaded."),
    }),
  }),
  command({
    name: "download_sketchfab_model",
    description: "Download and import a Sketchfab model. Gated: enable_sketchfab.",
    tier: 3,
    timeout: "long",
    openWorld: true,
    params: z.object({ uid: z.string().min(1).describe("The Sketchfab model uid (from the search).") }),
  }),
];

export const DISPATCH_COMMAND_NAMES = DISPATCH_COMMANDS.map((entry) => entry.name);

export const findDispatchCommand = (name: string) => DISPATCH_COMMANDS.find((entry) => entry.name === name);
