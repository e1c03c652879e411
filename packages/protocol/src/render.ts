/**
 * `blender_render_frames` (DESIGN.md section 8): a frame range rendered on a farm. It is a
 * farm job like `blender_farm_map` whose items are frame numbers and whose script is the
 * render script below; each frame is written as `frame-0001.png` into the task's output
 * folder, from where the bridge stores it in the Object Store as soon as it exists.
 */
import { z } from "zod";
import { FarmPlacementSchema, MAX_FARM_ITEMS } from "./farm.js";

/** Highest frame number Blender accepts (MAXFRAME). */
export const MAX_FRAME_NUMBER = 1_048_574;

/**
 * Parses a frame list such as "1-100,120" or "1-9x2" (every second frame): comma-separated
 * single frames and inclusive ranges, each range with an optional step. The frames come back
 * sorted and without repeats. Throws an Error that says which part is wrong.
 */
export function parseFrames(text: string): number[] {
  const frames = new Set<number>();
  for (const rawPart of text.split(",")) {
    const part = rawPart.trim();
    const match = /^(\d+)(?:\s*-\s*(\d+)(?:\s*x\s*(\d+))?)?$/u.exec(part);
    if (!match) throw new Error(`"${part}" is not a frame, a range like 1-100, or a stepped range like 1-100x5`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    const step = match[3] === undefined ? 1 : Number(match[3]);
    if (last < first) throw new Error(`range "${part}" ends before it starts`);
    if (last > MAX_FRAME_NUMBER) throw new Error(`frame ${last} is above Blender's highest frame ${MAX_FRAME_NUMBER}`);
    if (step < 1) throw new Error(`range "${part}" has a step below 1`);
    for (let frame = first; frame <= last; frame += step) {
      frames.add(frame);
      if (frames.size > MAX_FARM_ITEMS) throw new Error(`more than ${MAX_FARM_ITEMS} frames`);
    }
  }
  return [...frames].sort((a, b) => a - b);
}

const FramesSchema = z
  .string()
  .min(1)
  .max(10_000)
  .superRefine((text, context) => {
    try {
      parseFrames(text);
    } catch (error) {
      context.addIssue({ code: "custom", message: (error as Error).message });
    }
  })
  .describe('Frames to render: "1-100,120", or a stepped range "1-100x5".');

export const OUTPUT_FORMATS = {
  png: { fileFormat: "PNG", extension: "png", contentType: "image/png" },
  jpeg: { fileFormat: "JPEG", extension: "jpg", contentType: "image/jpeg" },
  exr: { fileFormat: "OPEN_EXR", extension: "exr", contentType: "image/x-exr" },
} as const;

export const RENDER_ENGINES = { cycles: "CYCLES", eevee: "BLENDER_EEVEE", workbench: "BLENDER_WORKBENCH" } as const;

export const RenderSettingsSchema = z.object({
  engine: z.enum(Object.keys(RENDER_ENGINES) as [keyof typeof RENDER_ENGINES]).nullable().default(null).describe("Default: the scene's."),
  samples: z.number().int().min(1).max(65_536).nullable().default(null).describe("Render samples; default: the scene's."),
  resolution_x: z.number().int().min(4).max(65_536).nullable().default(null).describe("Width in pixels; default: the scene's."),
  resolution_y: z.number().int().min(4).max(65_536).nullable().default(null).describe("Height in pixels; default: the scene's."),
  resolution_percentage: z.number().int().min(1).max(100).nullable().default(null).describe("Scale of the resolution, 1-100; default: the scene's."),
  output_format: z.enum(Object.keys(OUTPUT_FORMATS) as [keyof typeof OUTPUT_FORMATS]).default("png").describe("Each frame's file: png, jpeg or exr."),
});
export type RenderSettings = z.infer<typeof RenderSettingsSchema>;

export const RenderFramesInputSchema = RenderSettingsSchema.extend({
  frames: FramesSchema,
  chunk_size: z.number().int().min(1).max(MAX_FARM_ITEMS).default(5).describe("Frames per task."),
  frame_order: z
    .enum(["sequential", "preview_first"])
    .default("sequential")
    .describe("preview_first: the first, last and middle frames go to the first tasks, so the shot can be judged early; then the rest in order."),
  preview_video: z
    .boolean()
    .default(false)
    .describe("When every frame is rendered, also store preview.mp4 (H.264, the frames in order at 24 fps) as one more artifact of the job."),
}).extend(FarmPlacementSchema.shape);

/** Frames in preview-first order: the first, the last and the middle one, then the rest in order. */
export function previewFirst(frames: number[]): number[] {
  const preview = [...new Set([frames[0], frames.at(-1), frames[Math.floor((frames.length - 1) / 2)]])].filter((frame) => frame !== undefined);
  return [...preview, ...frames.filter((frame) => !preview.includes(frame))];
}
export type RenderFramesInput = z.infer<typeof RenderFramesInputSchema>;

/** The artifact name of one rendered frame: `frame-0001.png`. */
export const frameFileName = (frame: number, format: keyof typeof OUTPUT_FORMATS) =>
  `frame-${String(frame).padStart(4, "0")}.${OUTPUT_FORMATS[format].extension}`;

/** The frame number of an artifact file name made by {@link frameFileName}; undefined for others. */
export const frameOfFileName = (fileName: string): number | undefined => {
  const match = /^frame-(\d+)\.(png|jpg|exr)$/u.exec(fileName);
  return match ? Number(match[1]) : undefined;
};

/**
 * The farm script of a render job: `items` are its task's frames. Settings the caller left
 * out keep the scene's own. Cycles renders without denoising: background Blender cannot
 * denoise on every machine, and a farm must not fail on one peer and not another.
 */
export function renderFramesScript(settings: RenderSettings): string {
  const format = OUTPUT_FORMATS[settings.output_format];
  const options = {
    engine: settings.engine ? RENDER_ENGINES[settings.engine] : null,
    samples: settings.samples,
    resolution_x: settings.resolution_x,
    resolution_y: settings.resolution_y,
    resolution_percentage: settings.resolution_percentage,
    file_format: format.fileFormat,
    extension: format.extension,
  };
  return `import json as _json, os as _os
_options = _json.loads(${JSON.stringify(JSON.stringify(options))})
_scene = bpy.context.scene
_render = _scene.render
if _options["engine"]:
    _render.engine = _options["engine"]
if _render.engine == "CYCLES":
    _scene.cycles.use_denoising = False
    if _options["samples"]:
        _scene.cycles.samples = _options["samples"]
elif _options["samples"] and _render.engine in ("BLENDER_EEVEE", "BLENDER_EEVEE_NEXT"):
    _scene.eevee.taa_render_samples = _options["samples"]
for _key in ("resolution_x", "resolution_y", "resolution_percentage"):
    if _options[_key]:
        setattr(_render, _key, _options[_key])
_render.image_settings.file_format = _options["file_format"]
if _scene.camera is None:
    raise RuntimeError("the scene has no camera to render from")
_frames = [int(_frame) for _frame in items]
for _index, _frame in enumerate(_frames):
    report_progress(_index / len(_frames), "rendering frame %d" % _frame)
    try:
        _scene.frame_set(_frame)
        bpy.ops.render.render()
        # Saved under a dot name, then renamed: the bridge stores only whole frames.
        _name = "frame-%04d.%s" % (_frame, _options["extension"])
        bpy.data.images["Render Result"].save_render(filepath=_os.path.join(output_dir, "." + _name))
        _os.replace(_os.path.join(output_dir, "." + _name), _os.path.join(output_dir, _name))
    except Exception as _error:
        # The frame, not only the task: the frames before it are stored already.
        raise RuntimeError("frame %d: %s" % (_frame, _error)) from _error
    report_progress((_index + 1) / len(_frames), "rendered frame %d" % _frame)
print(_json.dumps({"frames": _frames}))
`;
}
