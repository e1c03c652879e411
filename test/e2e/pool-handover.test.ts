// Issue 17: an on-demand pool that never wastes a place. Real pool, real bridges and headless
// Blender. With FABRIC_POOL_MAX_PEERS=3 and an idle time (60 s) longer than the calls'
// timeouts (25 s), a farm job and four projects share three places: every call completes,
// because the peer idle longest saves its work and hands its place over; waiting jobs say
// why they wait; and work that expired or was cancelled while it waited (the pool stopped
// with SIGSTOP meanwhile) starts no Blender and leaves the stream.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { startPoolProcess, waitFor, type FabricTestClient, type PoolProcess } from "@blender-fabric/testkit";
import { StreamName, subjectForAllGroupWork, subjectForProjectWork } from "@blender-fabric/protocol";
import { startFabric, type Fabric } from "../support/fabric.js";

const CALL_TIMEOUT_SECONDS = 25;
let fabric: Fabric;
let pool: PoolProcess;
let llm: FabricTestClient;
/** Every purpose the pool ever ran a peer for, sampled as the test goes. */
const purposesSeen = new Set<string>();
let sampling: NodeJS.Timeout | undefined;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 1 });
  pool = await startPoolProcess({
    natsUrls: fabric.natsUrls,
    env: {
      FABRIC_POOL_WARM: "0",
      FABRIC_POOL_MAX_PEERS: "3",
      FABRIC_POOL_MAX_PEERS_PER_USER: "5",
      FABRIC_IDLE_SECONDS: "60",
      FABRIC_POOL_STATE_DIR: mkdtempSync(join(tmpdir(), "fabric-pool-")),
    },
  });
  llm = await fabric.connect("ines");
  sampling = setInterval(() => {
    void pool.peers().then((peers) => peers.forEach((peer) => purposesSeen.add(peer.purpose)), () => {});
  }, 100);
});
afterAll(async () => {
  clearInterval(sampling);
  await pool?.stop();
  await fabric?.[Symbol.asyncDispose]();
});

const projectCall = (project: string, code: string) =>
  llm.dispatch("blender_execute_code", { target_uuid: `project:${project}`, code, _timeout: CALL_TIMEOUT_SECONDS });

/** How many messages a lane still holds in the work stream. */
async function messagesOn(subject: string): Promise<number> {
  const jsm = await jetstreamManager(fabric.nc);
  const info = await jsm.streams.info(StreamName.Work, { subjects_filter: subject });
  return Object.values(info.state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
}

const purposeOf = (kind: "project" | "group", id: string) => JSON.stringify(["ines", kind, id]);

test("a farm job and four projects share three places: the peer idle longest hands its place over, and every call completes in time", async () => {
  const farm = await llm.call("blender_farm_map", { script: "print(sum(items))", items: [1], group_id: "stills" });
  expect(farm).toMatchObject({ status: "queued", tasks: 1 });
  expect(await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 40 })).toMatchObject({ status: "completed" });

  for (const project of ["q1", "q2"]) {
    const made = await projectCall(project, `import bpy\nbpy.ops.mesh.primitive_cube_add()\nbpy.context.object.name = 'In_${project}'`);
    expect(made, JSON.stringify(made)).toMatchObject({ status: "completed" });
  }
  expect((await pool.peers()).length).toBe(3); // the farm's peer (idle) and q1's and q2's

  // No place is free: the farm's peer, idle longest, leaves for q3; then q1's for q4.
  for (const project of ["q3", "q4"]) {
    const made = await projectCall(project, "print('here')");
    expect(made, JSON.stringify(made)).toMatchObject({ status: "completed", data: { result: "here\n" } });
  }
  const purposes = (await pool.peers()).map((peer) => peer.purpose).sort();
  expect(purposes).toEqual([purposeOf("project", "q2"), purposeOf("project", "q3"), purposeOf("project", "q4")].sort());

  // q1's peer saved its scene before it made room: q1 comes back with its cube.
  const back = await projectCall("q1", "import bpy\nprint('In_q1' in bpy.data.objects)");
  expect(back, JSON.stringify(back)).toMatchObject({ status: "completed", data: { result: "True\n" } });
});

test("a waiting project's job says why it waits, in its status", async () => {
  // Every place busy with work: a 6-second script on each of the three peers.
  const peers = (await pool.peers()).map((peer) => JSON.parse(peer.purpose)[2] as string);
  const busy = peers.map((project) => projectCall(project, "import time\ntime.sleep(6)\nprint('busy')"));
  await waitFor("all three peers to be busy", async () => {
    const jobs = await llm.call("blender_list_jobs", { status: "running" });
    return (jobs.jobs ?? []).length >= 3;
  }, 20_000, 100);
  const waiting = await llm.call("blender_submit", { command: "execute_code", params: { code: "print('late')" }, target_uuid: "project:q5", deadline_seconds: 60 });
  await waitFor("the waiting job to say why", async () => {
    const status = await llm.call("blender_job_status", { job_id: waiting.job_id });
    return typeof status.progress_message === "string" && status.progress_message.startsWith("waiting for a Blender");
  }, 10_000, 100);
  const status = await llm.call("blender_job_status", { job_id: waiting.job_id });
  expect(status.progress_message).toMatch(/all 3 places of the pool are taken \(FABRIC_POOL_MAX_PEERS\)/u);
  // A call that times out meanwhile says the same in its answer.
  const timedOut = await llm.dispatch("blender_execute_code", { target_uuid: "project:q6", code: "print(1)", _timeout: 2 });
  expect(timedOut.status).toBe("expired");
  expect(timedOut.error).toMatch(/waiting for a Blender: all 3 places of the pool are taken/u);
  for (const call of await Promise.all(busy)) expect(call).toMatchObject({ status: "completed" });
  // Once a peer is idle long enough it makes room, and the job runs.
  expect(await llm.call("blender_job_status", { job_id: waiting.job_id, wait_seconds: 40 })).toMatchObject({ status: "completed" });
});

test("work that expired or was cancelled while the pool was stopped starts no Blender, and leaves the stream", async () => {
  process.kill(pool.pid(), "SIGSTOP");
  try {
    const expiring = await llm.call("blender_submit", { command: "get_scene_info", target_uuid: "project:never", deadline_seconds: 1 });
    expect(expiring).toMatchObject({ status: "queued" });
    const farm = await llm.call("blender_farm_map", { script: "pass", items: [1, 2], chunk_size: 1, group_id: "dropped" });
    expect(await llm.call("blender_job_cancel", { job_id: farm.job_id })).toMatchObject({ job_id: farm.job_id });
    await waitFor("the submitted job to expire", async () => (await llm.call("blender_job_status", { job_id: expiring.job_id })).status === "expired", 10_000, 200);
    expect(await messagesOn(subjectForProjectWork("ines", "never"))).toBe(1);
    expect(await messagesOn(subjectForAllGroupWork("ines", "dropped"))).toBe(2);
  } finally {
    process.kill(pool.pid(), "SIGCONT");
  }
  await waitFor("the pool to delete the dead work", async () => (await messagesOn(subjectForProjectWork("ines", "never"))) === 0 && (await messagesOn(subjectForAllGroupWork("ines", "dropped"))) === 0, 10_000, 100);
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // a look or two more
  expect(purposesSeen.has(purposeOf("project", "never"))).toBe(false);
  expect(purposesSeen.has(purposeOf("group", "dropped"))).toBe(false);
});
