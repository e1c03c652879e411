// The farm's render script (packages/protocol/src/render.ts) in real headless Blender: a
// frame that cannot be rendered or stored fails the task naming that frame, after the frames
// before it were stored whole.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { RenderFramesInputSchema, farmTaskScript, renderFramesScript } from "@blender-fabric/protocol";
import { findProgram } from "@blender-fabric/testkit";

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "render-script-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

test("a frame that cannot be stored fails the render naming that frame; the frame before it is stored", async () => {
  // Frame 2's file name is taken by a folder: its rename fails, frame 1's does not.
  await mkdir(join(folder, "frame-0002.png"));
  const settings = RenderFramesInputSchema.parse({ frames: "1-3", engine: "cycles", samples: 1, resolution_x: 8, resolution_y: 8, resolution_percentage: 100 });
  const script = `import bpy\ndef report_progress(fraction, message=""):\n    pass\n${farmTaskScript({ script: renderFramesScript(settings), items: [1, 2, 3] }, folder)}`;
  const run = await promisify(execFile)(findProgram("blender"), ["-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", script]).then(
    () => ({ code: 0, output: "" }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: `${error.stdout}${error.stderr}` }),
  );
  expect(run.code).toBe(1);
  expect(run.output).toMatch(/RuntimeError: frame 2: /u);
  expect((await readdir(folder)).filter((name) => !name.startsWith(".")).sort()).toEqual(["frame-0001.png", "frame-0002.png"]);
}, 60_000);
