// Issue 18, item 2: frames cannot be overwritten. A bridge is paused (SIGSTOP) mid-task past
// the stale limit: its attempt is declared lost and the task is rendered again on the other
// peer, and the job completes. Then the paused bridge is resumed and goes on storing the
// frames it rendered. None of that may reach the job's files: every frame the job lists keeps
// the bytes (sha256) of the attempt that completed its task, and reading them never hangs.
// Real nats-server, gateway, two bridges and headless Blender.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { decodeToken } from "@blender-fabric/protocol";
import { mintToken, startBridgeProcess, waitFor, type BridgeProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";
import { makeRedCubeScene } from "../support/render-scene.js";

const GROUP = "fenced";
/** A silent peer's running work is declared lost after this long. Seconds */
const STALE_AFTER_SECONDS = 6;
/** Reading one frame back may take this long at most. ms */
const READ_DEADLINE_MS = 10_000;
type Attempt = { job_id: string; status: string; target_uuid: string };
type Task = { task_id: string; status: string; attempts: Attempt[] };
type Artifact = { name: string; file: string; sha256: string; url: string; stored_at?: string };

let fabric: Fabric;
let workDir: string;
let token: string;
let sceneSha256: string;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "farm-fencing-"));
  const scenePath = join(workDir, "scene.blend");
  fabric = await startFabric({ gateways: 1, gatewayEnv: { FABRIC_STALE_AFTER_SECONDS: String(STALE_AFTER_SECONDS) } });
  await makeRedCubeScene(scenePath);
  const bytes = await readFile(scenePath);
  sceneSha256 = createHash("sha256").update(bytes).digest("hex");
  token = await mintToken({ sub: "fenna" });
  const uploaded = await fetch(`${fabric.gateways[0]!.baseUrl}/blends/${sceneSha256}`, { method: "PUT", body: bytes, headers: { authorization: `Bearer ${token}` } });
  expect(uploaded.ok).toBe(true);
  bridges.push(
    ...(await Promise.all(
      ["fence-a", "fence-b"].map(async (uuid) => {
        const peerDir = await mkdtemp(join(tmpdir(), `${uuid}-`));
        return startBridgeProcess({
          natsUrls: fabric.natsUrls,
          user: "fenna",
          uuid,
          groupId: GROUP,
          env: { TMPDIR: peerDir, FABRIC_BLEND_CACHE: join(peerDir, "blends"), FABRIC_HEARTBEAT_SECONDS: "0.5" },
        });
      }),
    )),
  );
}, 180_000);

afterAll(async () => {
  for (const bridge of bridges) bridge.resume();
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Reads a frame through the gateway; fails the test if it takes longer than the deadline. */
async function readFrame(artifact: Artifact): Promise<string> {
  const response = await fetch(`${fabric.gateways[0]!.baseUrl}${artifact.url}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(READ_DEADLINE_MS),
  });
  expect(response.status, `GET ${artifact.url}`).toBe(200);
  return createHash("sha256").update(Buffer.from(await response.arrayBuffer())).digest("hex");
}

test("a bridge paused past the stale limit mid-task and resumed after the job completed changes none of the job's frames, and no read hangs", async () => {
  const llm = await fabric.connect("fenna");
  const [paused] = bridges;
  // Two frames per task, about a second each: a task is mid-render long enough to pause it.
  const job = await llm.call("blender_render_frames", {
    frames: "1-6", chunk_size: 2, group_id: GROUP, blend: { sha256: sceneSha256 },
    engine: "cycles", samples: 512, resolution_x: 160, resolution_y: 120, resolution_percentage: 100,
  });
  expect(job.job_id).toBeDefined();
  const status = () => llm.call("blender_job_status", { job_id: job.job_id });
  // Paused once its attempt has stored a frame and is rendering the next.
  let victim: Attempt | undefined;
  await waitFor("fence-a to have stored a frame of a running task", async () => {
    const tasks: Task[] = (await status()).farm.tasks;
    const running = tasks.map((task) => task.attempts.at(-1)).find((attempt) => attempt?.status === "running" && attempt.target_uuid === "fence-a");
    if (!running) return false;
    const stored = await llm.call("blender_list_artifacts", { job_id: running.job_id });
    if (stored.total < 1) return false;
    victim = running;
    return true;
  }, 90_000, 50);
  paused!.pause();

  const ended = await llm.call("blender_job_status", { job_id: job.job_id, wait_seconds: 50 });
  expect(ended.status).toBe("completed");
  const tasks: Task[] = ended.farm.tasks;
  const retried = tasks.find((task) => task.attempts.some((attempt) => attempt.job_id === victim!.job_id))!;
  expect(retried.attempts[0]).toMatchObject({ job_id: victim!.job_id, status: "lost", target_uuid: "fence-a" });
  expect(retried.attempts.at(-1)).toMatchObject({ status: "completed", target_uuid: "fence-b" });

  const completing = new Map(tasks.map((task) => [task.task_id, task.attempts.find((attempt) => attempt.status === "completed")!.job_id]));
  const before: Artifact[] = (await llm.call("blender_list_artifacts", { job_id: job.job_id })).artifacts;
  expect(before.map((artifact) => artifact.file)).toEqual(Array.from({ length: 6 }, (_, index) => `frame-${String(index + 1).padStart(4, "0")}.png`));
  // Each listed frame is a file of the attempt that completed its task.
  const attemptOf = (artifact: Artifact) => decodeToken(artifact.name.split("/")[1]!);
  for (const artifact of before) expect([...completing.values()]).toContain(attemptOf(artifact));
  expect(before.map(attemptOf)).not.toContain(victim!.job_id);

  // The paused bridge wakes up: its Blender finishes the frame and the bridge tries to store
  // it. It runs one job at a time, so once a call to it has completed, that attempt is over.
  paused!.resume();
  const awake = await llm.call("blender_execute_code", { target_uuid: "fence-a", code: "print('awake')", _timeout: 60 });
  expect(awake.status).toBe("completed");
  const after: Artifact[] = (await llm.call("blender_list_artifacts", { job_id: job.job_id })).artifacts;
  expect(after.map((artifact) => [artifact.name, artifact.sha256])).toEqual(before.map((artifact) => [artifact.name, artifact.sha256]));
  for (const artifact of after) expect(await readFrame(artifact)).toBe(artifact.sha256);
  // The lost attempt stored nothing once it was declared lost: all it has is older than
  // anything of the attempt that took its task over.
  const lostFiles: Artifact[] = (await llm.call("blender_list_artifacts", { job_id: victim!.job_id })).artifacts;
  expect(lostFiles.length).toBeGreaterThan(0);
  const retriedAt = Math.min(...after.filter((artifact) => attemptOf(artifact) === retried.attempts.at(-1)!.job_id).map((artifact) => Date.parse(artifact.stored_at!)));
  for (const file of lostFiles) expect(Date.parse(file.stored_at!), `${file.file} of the lost attempt`).toBeLessThan(retriedAt);
}, 180_000);
