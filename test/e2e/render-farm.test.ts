// Issue 7: the render farm on three real bridges with real headless Blender. Each peer has
// its own temporary folder (TMPDIR, its blend cache); no path is shared between them, so
// scenes and frames can only travel through the Object Store.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findProgram, mintToken, startBridgeProcess, waitFor, type BridgeProcess } from "@blender-fabric/testkit";
import { runCli } from "../support/cli.js";
import { sleep, startFabric, type Fabric } from "../support/fabric.js";
import { dominant, makeRedCubeScene, readPng } from "../support/render-scene.js";

const PEERS = ["render-1", "render-2", "render-3"];
const GROUP = "render-cluster";
/** Cycles, tiny and quick: what every render here uses. */
const TINY = { engine: "cycles", samples: 2, resolution_x: 32, resolution_y: 24, resolution_percentage: 100 };
const TINY_CLI = ["--engine", "cycles", "--samples", "2", "--resolution", "32x24"];
type Attempt = { job_id: string; status: string; target_uuid: string; error: string };

let fabric: Fabric;
let workDir: string;
let scenePath: string;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "render-farm-test-"));
  scenePath = join(workDir, "scene.blend");
  fabric = await startFabric({ gateways: 2 });
  const [, started] = await Promise.all([
    makeRedCubeScene(scenePath),
    Promise.all(
      PEERS.map(async (uuid) => {
        const peerDir = await mkdtemp(join(tmpdir(), `${uuid}-`));
        return startBridgeProcess({
          natsUrls: fabric.natsUrls,
          user: "rena",
          uuid,
          groupId: GROUP,
          env: { TMPDIR: peerDir, FABRIC_BLEND_CACHE: join(peerDir, "blends") },
        });
      }),
    ),
  ]);
  bridges.push(...started);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const sceneSha256 = async () => createHash("sha256").update(await readFile(scenePath)).digest("hex");

const lastAttempts = (status: Record<string, any>): Attempt[] => status.farm.tasks.map((task: { attempts: Attempt[] }) => task.attempts.at(-1)!);

test("the CLI renders a .blend on the farm: 24 frames of the right size in the Object Store and in --out, from every peer", async () => {
  const out = join(workDir, "frames");
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "rena" }) };
  const cli = runCli(
    [
      "render", scenePath, "--frames", "1-24", "--chunk", "4", "--group", GROUP, "--out", out,
      "--engine", "cycles", "--samples", "2", "--resolution", "32x24",
    ],
    env,
  );
  const code = await cli.exited;
  expect(cli.errors()).toBe("");
  expect(code).toBe(0);
  const jobId = /job (\S+): 24 frames in 6 tasks/.exec(cli.output())?.[1];
  expect(jobId).toBeDefined();
  expect(cli.output()).toContain("completed: 24/24 frames");
  // Progress never went backwards.
  const shown = [...cli.output().matchAll(/frames (\d+)\/24/g)].map((match) => Number(match[1]));
  expect(shown.length).toBeGreaterThan(0);
  expect(shown).toEqual([...shown].sort((a, b) => a - b));

  const names = Array.from({ length: 24 }, (_, index) => `frame-${String(index + 1).padStart(4, "0")}.png`);
  expect((await readdir(out)).sort()).toEqual(names);
  for (const name of names) {
    const picture = await readPng(join(out, name));
    expect([picture.width, picture.height]).toEqual([32, 24]);
    expect(dominant(picture.pixel(16, 12))).toBe("red"); // the cube, in the middle of the view
  }
  const llm = await fabric.connect("rena");
  const listed = await llm.call("blender_list_artifacts", { job_id: jobId });
  expect(listed.artifacts.map((artifact: { file: string }) => artifact.file)).toEqual(names);
  const status = await llm.call("blender_job_status", { job_id: jobId });
  expect(status).toMatchObject({ status: "completed", farm: { frames_done: 24, frames_total: 24, last_frame: { file: expect.stringMatching(/^frame-\d{4}\.png$/) } } });
  expect([...new Set(lastAttempts(status).map((attempt) => attempt.target_uuid))].sort()).toEqual(PEERS);
}, 240_000);

test("the CLI's jobs shows a farm job as one row with its frames done; its attempts only with --attempts", async () => {
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "rena" }) };
  const jobs = runCli(["jobs", "--limit", "50"], env);
  expect(await jobs.exited).toBe(0);
  expect(jobs.output()).toMatch(/^(\S+)\s+farm\s+render_frames\s+completed\s+frames 24\/24\s+group render-cluster/mu);
  expect(jobs.output()).not.toContain("attempt of");
  const farmJob = /^(\S+)\s+farm\s+render_frames\s+completed\s+frames 24\/24/mu.exec(jobs.output())![1]!;
  const withAttempts = runCli(["jobs", "--limit", "50", "--attempts"], env);
  expect(await withAttempts.exited).toBe(0);
  expect(withAttempts.output().match(new RegExp(`attempt of ${farmJob}`, "gu"))?.length).toBeGreaterThanOrEqual(6);
});

test("the CLI exits non-zero and says why when the render fails", async () => {
  const broken = join(workDir, "no-camera.blend");
  await makeRedCubeScene(broken, { camera: false });
  const env = { FABRIC_URL: fabric.gateways[1]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "rena" }) };
  const cli = runCli(["render", broken, "--frames", "1-2", "--group", GROUP, "--out", join(workDir, "none"), "--max-attempts", "1"], env);
  expect(await cli.exited).toBe(1);
  expect(cli.output()).toMatch(/failed attempt on render-\d: .*the scene has no camera/);
  expect(cli.errors()).toMatch(/^blender-fabric: the render failed: /);
}, 120_000);

test("a second job on the same .blend downloads it to no peer again", async () => {
  const llm = await fabric.connect("rena");
  const sha256 = await sceneSha256(); // the first test's CLI uploaded it
  const job = await llm.call("blender_render_frames", { frames: "1-12", chunk_size: 1, group_id: GROUP, blend: { sha256 }, ...TINY });
  expect(job).toMatchObject({ status: "queued", tasks: 12, frames: 12, blend: { sha256 } });
  const ended = await llm.call("blender_job_status", { job_id: job.job_id, wait_seconds: 50 });
  expect(ended).toMatchObject({ status: "completed", farm: { frames_done: 12 } });
  const sources = await Promise.all(
    lastAttempts(ended).map(async (attempt) => JSON.parse((await llm.call("blender_job_result", { job_id: attempt.job_id })).result).blend),
  );
  expect(new Set(sources)).toEqual(new Set(["cache"]));
}, 120_000);

test("snapshot_of renders a scene an LLM built interactively on one peer, on the whole group", async () => {
  const llm = await fabric.connect("rena");
  // A green emissive plane right in front of render-2's camera, in its open (unsaved) scene.
  const code = [
    "import bpy, mathutils",
    "camera = bpy.context.scene.camera",
    "bpy.ops.mesh.primitive_plane_add(size=40)",
    "plane = bpy.context.active_object",
    "plane.name = 'GreenWall'",
    "plane.matrix_world = camera.matrix_world @ mathutils.Matrix.Translation((0, 0, -3))",
    "material = bpy.data.materials.new('Green')",
    "material.use_nodes = True",
    "nodes = material.node_tree.nodes",
    "nodes.clear()",
    "emission = nodes.new('ShaderNodeEmission')",
    "emission.inputs['Color'].default_value = (0, 1, 0, 1)",
    "output = nodes.new('ShaderNodeOutputMaterial')",
    "material.node_tree.links.new(emission.outputs[0], output.inputs[0])",
    "plane.data.materials.append(material)",
  ].join("\n");
  expect(await llm.call("blender_execute_code", { code, target_uuid: "render-2" })).toMatchObject({ status: "completed" });
  const job = await llm.call("blender_render_frames", { frames: "1-6", chunk_size: 1, group_id: GROUP, blend: { snapshot_of: "render-2" }, ...TINY });
  expect(job).toMatchObject({ status: "queued", frames: 6, blend: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  const ended = await llm.call("blender_job_status", { job_id: job.job_id, wait_seconds: 50 });
  expect(ended).toMatchObject({ status: "completed", farm: { frames_done: 6 } });
  // Peers other than render-2 rendered some of it: the scene travelled.
  expect(lastAttempts(ended).some((attempt) => attempt.target_uuid !== "render-2")).toBe(true);
  const token = await mintToken({ sub: "rena" });
  const listed = await llm.call("blender_list_artifacts", { job_id: job.job_id });
  expect(listed.total).toBe(6);
  for (const artifact of listed.artifacts as { url: string }[]) {
    const response = await fetch(`${fabric.gateways[1]!.baseUrl}${artifact.url}`, { headers: { authorization: `Bearer ${token}` } });
    const picture = await readPng(Buffer.from(await response.arrayBuffer()));
    expect(dominant(picture.pixel(16, 12))).toBe("green");
  }
  // The preview is the last frame, as an image block beside the JSON.
  const result = await llm.client.callTool({ name: "blender_job_status", arguments: { job_id: job.job_id, include_preview: true } });
  const [, image] = result.content as [unknown, { type: string; data: string; mimeType: string }];
  expect(image).toMatchObject({ type: "image", mimeType: "image/png" });
  const preview = await readPng(Buffer.from(image.data, "base64"));
  expect([preview.width, preview.height]).toEqual([32, 24]);
}, 120_000);

test("uploads are checked against their hash and kept per user; a render of an unknown hash names the field", async () => {
  const token = await mintToken({ sub: "rena" });
  const base = fabric.gateways[0]!.baseUrl;
  const wrong = await fetch(`${base}/blends/${"0".repeat(64)}`, { method: "PUT", body: "not a blend", headers: { authorization: `Bearer ${token}` } });
  expect(wrong.status).toBe(400);
  expect(await wrong.json()).toMatchObject({ field: "sha256" });
  // The right hash of something that is not a Blender file: refused, naming the body.
  const text = Buffer.from("not a blend at all");
  const textSha = createHash("sha256").update(text).digest("hex");
  const notBlend = await fetch(`${base}/blends/${textSha}`, { method: "PUT", body: text, headers: { authorization: `Bearer ${token}` } });
  expect(notBlend.status).toBe(400);
  expect(await notBlend.json()).toMatchObject({ field: "body", error: expect.stringContaining("not a .blend") });
  expect((await fetch(`${base}/blends/${textSha}`, { method: "HEAD", headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  expect((await fetch(`${base}/blends/${"0".repeat(64)}`, { method: "PUT", body: "x" })).status).toBe(401);
  expect((await fetch(`${base}/blends/not-a-hash`, { method: "HEAD", headers: { authorization: `Bearer ${token}` } })).status).toBe(400);
  const rena = await fabric.connect("rena");
  const sha256 = await sceneSha256();
  expect((await fetch(`${base}/blends/${sha256}`, { method: "HEAD", headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  const other = await mintToken({ sub: "otto" });
  expect((await fetch(`${base}/blends/${sha256}`, { method: "HEAD", headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
  const otto = await fabric.connect("otto");
  const refused = await otto.call("blender_render_frames", { frames: "1-2", group_id: GROUP, blend: { sha256 } });
  expect(refused).toMatchObject({ status: "invalid_params", field: "blend.sha256" });
  const badFrames = await rena.call("blender_render_frames", { frames: "5-1", group_id: GROUP });
  expect(badFrames).toMatchObject({ status: "invalid_params", field: "frames" });
});

test("killing a Blender mid-render: its task is rendered again on another peer, the job completes, its attempts show the failure", async () => {
  const llm = await fabric.connect("rena");
  // Heavier frames (about a second each), so a chunk is still rendering when its Blender dies.
  const job = await llm.call("blender_render_frames", {
    frames: "1-9", chunk_size: 3, group_id: GROUP, blend: { sha256: await sceneSha256() },
    ...TINY, samples: 256, resolution_x: 160, resolution_y: 120,
  });
  const victim = bridges[0]!;
  // Rendering inside Blender, not only claimed: an attempt is running from its record's write,
  // before its script reaches Blender, and a Blender killed then is restarted before it runs.
  await waitFor("a chunk to render on render-1", async () => {
    const status = await llm.call("blender_job_status", { job_id: job.job_id });
    const running = lastAttempts(status).find((attempt) => attempt?.status === "running" && attempt.target_uuid === "render-1");
    if (!running) return false;
    return /^render(ing|ed) frame/u.test((await llm.call("blender_job_status", { job_id: running.job_id })).progress_message ?? "");
  }, 60_000, 50);
  const blenderPid = victim.blenderPid();
  process.kill(blenderPid, "SIGKILL");

  const ended = await llm.call("blender_job_status", { job_id: job.job_id, wait_seconds: 50 });
  expect(ended).toMatchObject({ status: "completed", farm: { frames_done: 9, tasks_by_status: { completed: 3 } } });
  const retried = ended.farm.tasks.filter((task: { attempts: Attempt[] }) => task.attempts.length > 1);
  expect(retried).toHaveLength(1);
  expect(retried[0].attempts[0]).toMatchObject({ status: "failed", target_uuid: "render-1", error: expect.stringContaining("SIGKILL") });
  expect(retried[0].attempts.at(-1)).toMatchObject({ status: "completed" });
  await victim.nextRegistration(blenderPid);
}, 120_000);

test("a peer whose Blender cannot render is blocklisted for the job after max_peer_failures; the others finish it", async () => {
  // A real Blender, started through a wrapper that breaks bpy.ops.render before the addon loads.
  const wrapperDir = await mkdtemp(join(tmpdir(), "render-broken-"));
  const wrapper = join(wrapperDir, "broken-blender");
  const breakRendering = join(wrapperDir, "break_rendering.py");
  await writeFile(
    breakRendering,
    "import bpy, types\n\ndef _broken(*args, **kwargs):\n    raise RuntimeError('this peer cannot render: its renderer is broken')\n\n" +
      "bpy.ops.render = types.SimpleNamespace(render=_broken)\n",
  );
  await writeFile(
    wrapper,
    `#!/bin/bash\n# All arguments but the last two (--python headless.py), the break, then those two.\n` +
      `exec ${JSON.stringify(findProgram("blender"))} "\${@:1:$#-2}" --python ${JSON.stringify(breakRendering)} "\${@: -2}"\n`,
  );
  await chmod(wrapper, 0o755);
  const broken = await startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: "rena",
    uuid: "render-broken",
    groupId: GROUP,
    env: { TMPDIR: wrapperDir, FABRIC_BLEND_CACHE: join(wrapperDir, "blends"), FABRIC_BLENDER: wrapper },
  });
  try {
    const llm = await fabric.connect("rena");
    const probe = await llm.call("blender_execute_code", { code: "bpy.ops.render.render()", target_uuid: "render-broken" });
    expect(probe).toMatchObject({ status: "failed", error: expect.stringContaining("its renderer is broken") });
    // Frames slow enough (a few hundred ms) that every peer, the broken one too, takes some.
    const job = await llm.call("blender_render_frames", {
      frames: "1-16", chunk_size: 1, group_id: GROUP, blend: { sha256: await sceneSha256() }, max_peer_failures: 2,
      ...TINY, samples: 128, resolution_x: 96, resolution_y: 72,
    });
    const ended = await llm.call("blender_job_status", { job_id: job.job_id, wait_seconds: 50 });
    expect(ended).toMatchObject({ status: "completed", farm: { frames_done: 16, blocklisted: ["render-broken"], failures: { "render-broken": 2 } } });
    const attempts = ended.farm.tasks.flatMap((task: { attempts: Attempt[] }) => task.attempts) as Attempt[];
    const onBroken = attempts.filter((attempt) => attempt.target_uuid === "render-broken");
    expect(onBroken.map((attempt) => attempt.status)).toEqual(["failed", "failed"]);
    expect(onBroken[0]!.error).toContain("its renderer is broken");
  } finally {
    await broken.stop();
    await rm(wrapperDir, { recursive: true, force: true });
  }
}, 120_000);

test("cancelling a render mid-job: pending frames never render, running tasks stop, finished frames stay listed", async () => {
  const llm = await fabric.connect("rena");
  const job = await llm.call("blender_render_frames", {
    frames: "1-30", chunk_size: 1, group_id: GROUP, blend: { sha256: await sceneSha256() },
    ...TINY, samples: 256, resolution_x: 96, resolution_y: 72,
  });
  await waitFor("a few frames to be stored", async () => (await llm.call("blender_job_status", { job_id: job.job_id })).farm.frames_done >= 3, 60_000, 50);
  expect(await llm.call("blender_job_cancel", { job_id: job.job_id })).toMatchObject({ status: "cancelled" });
  await waitFor("every attempt to end", async () => {
    const status = await llm.call("blender_job_status", { job_id: job.job_id });
    return lastAttempts(status).every((attempt) => attempt === undefined || !["queued", "running"].includes(attempt.status));
  }, 30_000, 100);
  const ended = await llm.call("blender_job_status", { job_id: job.job_id });
  await sleep(1_500); // time for any wrongly started attempt to show
  const later = await llm.call("blender_job_status", { job_id: job.job_id });
  expect(later.status).toBe("cancelled");
  expect(later.farm.frames_done).toBe(ended.farm.frames_done);
  expect(later.farm.frames_done).toBeGreaterThanOrEqual(3);
  expect(later.farm.frames_done).toBeLessThan(30);
  // Every task either rendered its frame before the cancel, or never started after it.
  const statuses = later.farm.tasks.map((task: { status: string }) => task.status);
  expect(statuses.filter((status: string) => status === "cancelled").length).toBeGreaterThan(0);
  const listed = await llm.call("blender_list_artifacts", { job_id: job.job_id });
  expect(listed.total).toBe(later.farm.frames_done);
}, 120_000);

test("the CLI says why a render waits, takes --priority, and Ctrl-C cancels the job (exit 130)", async () => {
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "rena" }) };
  const cli = runCli(["render", scenePath, "--frames", "1-4", "--group", "nobody-here", "--priority", "high", "--out", join(workDir, "waiting")], env);
  await waitFor("the CLI to say why the job waits", () => /is waiting: no live peer.*nobody-here/u.test(cli.output()), 30_000, 100);
  const jobId = /job (\S+): 4 frames/u.exec(cli.output())![1]!;
  const llm = await fabric.connect("rena");
  const waiting = await llm.call("blender_job_status", { job_id: jobId });
  expect(waiting.status).toBe("queued");
  cli.child.kill("SIGINT");
  expect(await cli.exited).toBe(130);
  expect(cli.output()).toContain(`Ctrl-C: cancelling job ${jobId}`);
  const ended = await llm.call("blender_job_status", { job_id: jobId });
  expect(ended.status).toBe("cancelled");
  expect(ended.farm.priority).toBe("high");
  // While running tasks finish their frame after the cancel, a second Ctrl-C stops following
  // at once, and says the job may still be finishing.
  const impatient = runCli(
    ["render", scenePath, "--frames", "1-30", "--chunk", "1", "--group", GROUP, "--engine", "cycles", "--samples", "512", "--resolution", "160x120", "--out", join(workDir, "impatient")],
    env,
  );
  await waitFor("a frame to land", () => /frames [1-9]\d*\/30/u.test(impatient.output()), 60_000, 50);
  const impatientJob = /job (\S+): 30 frames/u.exec(impatient.output())![1]!;
  impatient.child.kill("SIGINT");
  await waitFor("the cancel to be asked", () => impatient.output().includes("Ctrl-C: cancelling"), 5_000, 10);
  impatient.child.kill("SIGINT");
  expect(await impatient.exited).toBe(130);
  expect(impatient.output()).toContain(`Ctrl-C again: stopped following job ${impatientJob}`);
  expect((await llm.call("blender_job_status", { job_id: impatientJob, wait_seconds: 30 })).status).toBe("cancelled");
  const refused = runCli(["render", scenePath, "--frames", "1", "--priority", "urgent"], env);
  expect(await refused.exited).not.toBe(0);
  expect(refused.errors()).toMatch(/--priority.*urgent|Allowed choices/u);
}, 90_000);

test("a render whose CLI is killed -9 before any task started expires after --owner-timeout; while the CLI follows it, it waits", async () => {
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "rena" }) };
  const cli = runCli(["render", scenePath, "--frames", "1-4", "--chunk", "2", "--group", "nobody-either", "--owner-timeout", "5", "--out", join(workDir, "orphan")], env);
  await waitFor("the CLI to follow its waiting job", () => /is waiting: no live peer/u.test(cli.output()), 30_000, 100);
  const jobId = /job (\S+): 4 frames/u.exec(cli.output())![1]!;
  const llm = await fabric.connect("rena");
  // Listing does not count as following; only the CLI's status polls do.
  type Listed = { job_id: string; status: string; created_at: number; updated_at: number };
  const listed = async () => ((await llm.call("blender_list_jobs", { limit: 100 })).jobs as Listed[]).find((job) => job.job_id === jobId);
  // The CLI's polls note the job as followed (updated_at moves): past the owner timeout, it still waits.
  await waitFor("the followed job to be noted past its owner timeout", async () => {
    const job = await listed();
    return job !== undefined && job.updated_at - job.created_at > 5;
  }, 20_000, 200);
  expect((await listed())?.status).toBe("queued");
  cli.child.kill("SIGKILL");
  await cli.exited;
  await waitFor("the unfollowed job to expire", async () => (await listed())?.status === "expired", 20_000, 200);
  const ended = await llm.call("blender_job_status", { job_id: jobId });
  expect(ended).toMatchObject({ status: "expired", error: expect.stringContaining("owner_timeout_seconds") });
  // No peer ever took a task, so none has an attempt; each ended with its job.
  expect(ended.farm.tasks.map((task: { status: string; attempts: Attempt[] }) => [task.status, task.attempts.length])).toEqual([["expired", 0], ["expired", 0]]);
}, 90_000);

test("--preview-first puts the first, last and middle frames in the first tasks", async () => {
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "rena" }) };
  const cli = runCli(["render", scenePath, "--frames", "1-9", "--chunk", "1", "--group", GROUP, "--preview-first", ...TINY_CLI, "--out", join(workDir, "preview")], env);
  expect(await cli.exited).toBe(0);
  const jobId = /job (\S+): 9 frames/u.exec(cli.output())![1]!;
  const llm = await fabric.connect("rena");
  const status = await llm.call("blender_job_status", { job_id: jobId });
  // Task i's frame, from the files of the attempt that completed it (tasks are listed in order).
  const frameOfTask = async (task: { attempts: Attempt[] }) => {
    const files = await llm.call("blender_list_artifacts", { job_id: task.attempts.at(-1)!.job_id });
    return files.artifacts.map((artifact: { file: string }) => artifact.file);
  };
  const firstThree = await Promise.all(status.farm.tasks.slice(0, 3).map(frameOfTask));
  expect(firstThree).toEqual([["frame-0001.png"], ["frame-0009.png"], ["frame-0005.png"]]);
}, 120_000);

test("--preview-video: the job completes with preview.mp4 of its frames in order, downloaded beside them", async () => {
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "rena" }) };
  const out = join(workDir, "with-video");
  const cli = runCli(["render", scenePath, "--frames", "1-7", "--chunk", "2", "--group", GROUP, "--preview-video", ...TINY_CLI, "--out", out], env);
  expect(await cli.exited).toBe(0);
  const jobId = /job (\S+): 7 frames/u.exec(cli.output())![1]!;
  const llm = await fabric.connect("rena");
  const status = await llm.call("blender_job_status", { job_id: jobId, tasks_limit: 0 });
  expect(status).toMatchObject({ status: "completed", farm: { frames_done: 7, preview_video: "stored" } });
  const listed = await llm.call("blender_list_artifacts", { job_id: jobId });
  expect(listed.artifacts.map((artifact: { file: string }) => artifact.file)).toContain("preview.mp4");
  expect(listed.artifacts.find((artifact: { file: string }) => artifact.file === "preview.mp4")).toMatchObject({ content_type: "video/mp4" });
  // A real H.264 video of the 7 frames, at the render's size (32x24).
  const probe = spawnSync(findProgram("ffprobe"), ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json", join(out, "preview.mp4")], { encoding: "utf8" });
  expect(JSON.parse(probe.stdout).streams[0]).toMatchObject({ codec_name: "h264", width: 32, height: 24, nb_read_frames: "7" });
}, 120_000);
