// Issue 18: the web dashboard in real Chromium (Debian's package, driven by playwright-core)
// against a real gateway, NATS and two headless Blender bridges: sign in, see the peers,
// follow a render the CLI submitted (frames arrive, the last frame shows), pause and resume
// it, cancel another job; another user's job never shows. A screenshot of the dashboard
// mid-render is written to test/output/dashboard-mid-render.png.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { findProgram, mintToken, startBridgeProcess, waitFor, type BridgeProcess } from "@blender-fabric/testkit";
import { runCli } from "../support/cli.js";
import { sleep, startFabric, type Fabric } from "../support/fabric.js";
import { makeRedCubeScene } from "../support/render-scene.js";

const GROUP = "dash";
const PEERS = ["dash-1", "dash-2"];
const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), "..", "output");

let fabric: Fabric;
let browser: Browser;
let workDir: string;
let scenePath: string;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "dashboard-test-"));
  scenePath = join(workDir, "scene.blend");
  fabric = await startFabric({ gateways: 1 });
  const [, started, launched] = await Promise.all([
    makeRedCubeScene(scenePath),
    Promise.all(PEERS.map((uuid) => startBridgeProcess({ natsUrls: fabric.natsUrls, user: "dana", uuid, groupId: GROUP }))),
    chromium.launch({ executablePath: findProgram("chromium"), args: ["--no-sandbox"] }),
  ]);
  bridges.push(...started);
  browser = launched;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const framesDone = async (page: Page) => Number(((await page.getByTestId("frames-done").textContent()) ?? "0").split("/")[0]);

test("sign in, watch a CLI render land frame by frame, pause and resume it, cancel another job; another user's job never shows", async () => {
  const base = fabric.gateways[0]!.baseUrl;
  const token = await mintToken({ sub: "dana" });
  // Eve's job on the same fabric, in a group of the same name.
  const eve = await fabric.connect("eve");
  const evesJob = await eve.call("blender_farm_map", { script: "print(items)", items: [1], group_id: GROUP });

  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  // Unsigned: the sign-in form; a bad token is refused, saying why.
  await page.goto(`${base}/ui`);
  await page.locator("textarea[name=token]").fill("not-a-token");
  await page.getByTestId("sign-in").click();
  await expect.poll(() => page.locator(".error").textContent()).toContain("invalid");
  await page.locator("textarea[name=token]").fill(token);
  await page.getByTestId("sign-in").click();
  await expect.poll(() => page.getByTestId("user").textContent()).toBe("dana");
  for (const peer of PEERS) await expect.poll(() => page.locator(`[data-peer="${peer}"]`).count()).toBe(1);

  // A render from the CLI: 40 tiny Cycles frames, one per task.
  const out = join(workDir, "frames");
  const cli = runCli(
    ["render", scenePath, "--frames", "1-40", "--chunk", "1", "--group", GROUP, "--out", out, "--engine", "cycles", "--samples", "2", "--resolution", "32x24"],
    { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: token },
  );
  await waitFor("the CLI to submit", async () => /job (\S+): 40 frames/.test(cli.output()), 60_000, 100);
  const jobId = /job (\S+): 40 frames/.exec(cli.output())![1]!;
  await page.locator(`tr.job[data-job="${jobId}"]`).click();
  await expect.poll(async () => framesDone(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  await expect.poll(() => page.getByTestId("last-frame").evaluate((image) => (image as unknown as { complete: boolean; naturalWidth: number }).complete && (image as unknown as { naturalWidth: number }).naturalWidth), { timeout: 20_000 }).toBe(32);
  expect(await page.getByTestId("frames").locator("span.d").count()).toBeGreaterThanOrEqual(3);
  await mkdir(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, "dashboard-mid-render.png"), fullPage: true });

  // Pause: what runs finishes, then nothing moves; resume: the render completes.
  await page.getByTestId("pause").click();
  await expect.poll(() => page.getByTestId("job-status").textContent()).toBe("paused");
  const llm = await fabric.connect("dana");
  await waitFor("running frames to finish", async () => ((await llm.call("blender_job_status", { job_id: jobId, tasks_limit: 0 })).farm.tasks_by_status.running ?? 0) === 0, 30_000, 100);
  const stored = (await llm.call("blender_job_status", { job_id: jobId, tasks_limit: 0 })).farm.frames_done as number;
  await expect.poll(() => framesDone(page)).toBe(stored); // the page's next snapshot
  const paused = await framesDone(page);
  // Nothing may move while paused: a window of time is what this checks.
  await sleep(2_500);
  expect(await framesDone(page)).toBe(paused);
  expect(paused).toBeLessThan(40);
  await page.getByTestId("resume").click();
  expect(await cli.exited).toBe(0);
  await expect.poll(() => page.getByTestId("job-status").textContent(), { timeout: 20_000 }).toBe("completed");
  expect(await framesDone(page)).toBe(40);
  expect(await page.getByTestId("frames").locator("span.d").count()).toBe(40);
  // A stored frame's cell links to the frame itself.
  const frameLink = await page.getByTestId("frames").locator("a").nth(6).getAttribute("href");
  const frame = await page.evaluate(async (href) => {
    const response = await fetch(href!);
    return { status: response.status, type: response.headers.get("content-type"), bytes: (await response.arrayBuffer()).byteLength };
  }, frameLink);
  expect(frame).toMatchObject({ status: 200, type: "image/png" });
  expect(frame.bytes).toBeGreaterThan(100);

  // Another job, cancelled from the page: a farm job for a group with no peer waits until then.
  const waiting = await llm.call("blender_farm_map", { script: "print(items)", items: [1, 2], group_id: "nobody-here" });
  await page.locator(`tr.job[data-job="${waiting.job_id}"]`).click();
  await page.getByTestId("cancel").click();
  await expect.poll(() => page.getByTestId("job-status").textContent()).toBe("cancelled");
  expect((await llm.call("blender_job_status", { job_id: waiting.job_id })).status).toBe("cancelled");

  // Only Dana's own: Eve's job is on no list, and asking for it by id finds nothing.
  expect(await page.content()).not.toContain(evesJob.job_id);
  const asked = (await page.evaluate(async (id) => (await fetch(`/ui/api/jobs/${id}`)).json(), evesJob.job_id)) as { status: unknown };
  expect(asked.status).toMatchObject({ status: "not_found" });
  // An action without the dashboard's header (a cross-site form) is refused.
  const forged = await page.evaluate(async (id) => (await fetch(`/ui/api/jobs/${id}/cancel`, { method: "POST" })).status, jobId);
  expect(forged).toBe(403);
  await page.close();
});
