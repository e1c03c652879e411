// Issue 7 (in progress): blender_farm_map on three real bridges of one group. Tasks go to the
// group's shared consumer on FABRIC_WORK; every idle peer pulls the next one.
import { afterAll, beforeAll, expect, test } from "vitest";
import { createHash } from "node:crypto";
import { mintToken, startBridgeProcess, waitFor, type BridgeProcess } from "@blender-fabric/testkit";
import { runCli } from "../support/cli.js";
import { sleep, startFabric, type Fabric } from "../support/fabric.js";

const PEERS = ["blender-farm-1", "blender-farm-2", "blender-farm-3"];
type Attempt = { job_id: string; status: string; target_uuid: string; error: string };
let fabric: Fabric;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  bridges.push(
    ...(await Promise.all(
      PEERS.map((uuid) => startBridgeProcess({ natsUrls: fabric.natsUrls, user: "fran", uuid, groupId: "farm-a" })),
    )),
  );
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
});

test("farm_map splits items into tasks that every idle peer of the group takes; the farm job ends with them", async () => {
  const llm = await fabric.connect("fran");
  const script = "import time\ntime.sleep(0.5)\nreport_progress(1, 'done')\nprint(sum(items))";
  const submitted = await llm.call("blender_farm_map", { script, items: Array.from({ length: 12 }, (_, i) => i + 1), chunk_size: 2, group_id: "farm-a" });
  expect(submitted).toMatchObject({ status: "queued", group_id: "farm-a", tasks: 6, items: 12 });

  const ended = await llm.call("blender_job_status", { job_id: submitted.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed", kind: "farm", farm: { tasks_total: 6, tasks_by_status: { completed: 6 }, items_total: 12 } });
  // Every peer took work, and each task ran its own chunk, in one attempt.
  const lastAttempts = ended.farm.tasks.map((task: { attempts: Attempt[] }) => task.attempts.at(-1)!);
  expect(ended.farm.tasks.every((task: { attempts: Attempt[] }) => task.attempts.length === 1)).toBe(true);
  expect([...new Set(lastAttempts.map((attempt: Attempt) => attempt.target_uuid))].sort()).toEqual(PEERS);
  const sums = await Promise.all(
    lastAttempts.map(async (attempt: Attempt) => JSON.parse((await llm.call("blender_job_result", { job_id: attempt.job_id })).result).result),
  );
  expect(sums).toEqual(["3\n", "7\n", "11\n", "15\n", "19\n", "23\n"]);
});

test("files a task writes to its output folder become the farm job's artifacts, listed and served to their owner", async () => {
  const llm = await fabric.connect("fran");
  const script = "import os\nopen(os.path.join(output_dir, f'item-{items[0]:02d}.txt'), 'w').write(str(items[0] * 10))";
  const farm = await llm.call("blender_farm_map", { script, items: [1, 2, 3], group_id: "farm-a" });
  expect(await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 })).toMatchObject({ status: "completed" });
  const listed = await llm.call("blender_list_artifacts", { job_id: farm.job_id });
  expect(listed).toMatchObject({ status: "ok", total: 3 });
  expect(listed.artifacts.map((artifact: { file: string }) => artifact.file)).toEqual(["item-01.txt", "item-02.txt", "item-03.txt"]);
  const second = listed.artifacts[1];
  expect(second).toMatchObject({ size: 2, content_type: "text/plain" });
  const response = await fetch(`${fabric.gateways[0]!.baseUrl}${second.url}`, { headers: { authorization: `Bearer ${await mintToken({ sub: "fran" })}` } });
  const body = Buffer.from(await response.arrayBuffer());
  expect(body.toString()).toBe("20");
  expect(createHash("sha256").update(body).digest("hex")).toBe(second.sha256);
  const stranger = await fetch(`${fabric.gateways[0]!.baseUrl}${second.url}`, { headers: { authorization: `Bearer ${await mintToken({ sub: "eve" })}` } });
  expect(stranger.status).toBe(404);
});

test("a dispatch to a farm peer runs before its next farm task", async () => {
  const llm = await fabric.connect("fran");
  const script = "import time\ntime.sleep(0.4)";
  const farm = await llm.call("blender_farm_map", { script, items: Array.from({ length: 9 }, (_, i) => i), chunk_size: 1, group_id: "farm-a" });
  await waitFor("the farm to be running", async () => (await llm.call("blender_job_status", { job_id: farm.job_id })).status === "running", 20_000, 50);
  const answer = await llm.call("blender_get_scene_info", { target_uuid: "blender-farm-1" });
  expect(answer).toMatchObject({ status: "completed" });
  const dispatched = await llm.call("blender_job_status", { job_id: answer.job_id });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed" });
  // No farm task started on that peer between the dispatch's arrival and its start: at most
  // the task already running stood in front of it. That one may have been claimed a moment
  // after the dispatch's record was written (created_at), while the dispatch was still on its
  // way through the stream, so one start inside the window is allowed, never two.
  const taskStarts = await Promise.all(
    ended.farm.tasks
      .map((task: { attempts: Attempt[] }) => task.attempts.at(-1)!)
      .filter((attempt: Attempt) => attempt.target_uuid === "blender-farm-1")
      .map(async (attempt: Attempt) => (await llm.call("blender_job_status", { job_id: attempt.job_id })).started_at as number),
  );
  expect(taskStarts.filter((start) => start > dispatched.created_at && start < dispatched.started_at).length).toBeLessThanOrEqual(1);
});

test("killing a Blender mid-task: the task is tried again on another peer, and its attempts show the failure", async () => {
  const llm = await fabric.connect("fran");
  // Slow on blender-farm-2 only (the bridge passes its environment to Blender), so the other
  // peers are free when the killed task comes back.
  const script = "import os, time\nreport_progress(0.1, 'started')\ntime.sleep(3 if os.environ.get('FABRIC_CLIENT_UUID') == 'blender-farm-2' else 0.2)";
  const farm = await llm.call("blender_farm_map", { script, items: [1, 2, 3, 4, 5, 6], group_id: "farm-a" });
  const victim = bridges[1]!;
  // Inside its 3 s script (it has reported progress), not merely claimed: a Blender killed
  // before the script reaches it is restarted and runs it.
  await waitFor("a task to run inside Blender on blender-farm-2", async () => {
    const status = await llm.call("blender_job_status", { job_id: farm.job_id });
    const running = (status.farm.tasks as { attempts: Attempt[] }[])
      .flatMap((task) => task.attempts)
      .find((attempt) => attempt.status === "running" && attempt.target_uuid === "blender-farm-2");
    return running !== undefined && (await llm.call("blender_job_status", { job_id: running.job_id })).progress_message === "started";
  }, 20_000, 50);
  const blenderPid = victim.blenderPid();
  process.kill(blenderPid, "SIGKILL");

  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed", farm: { tasks_by_status: { completed: 6 } } });
  const retried = ended.farm.tasks.filter((task: { attempts: Attempt[] }) => task.attempts.length > 1);
  expect(retried).toHaveLength(1);
  const [failed, ...later] = retried[0].attempts as Attempt[];
  expect(failed).toMatchObject({ status: "failed", target_uuid: "blender-farm-2", error: expect.stringContaining("SIGKILL") });
  expect(later.at(-1)).toMatchObject({ status: "completed", target_uuid: expect.not.stringMatching(/^blender-farm-2$/) });
  await victim.nextRegistration(blenderPid);
});

test("an attempt that reports no progress for task_timeout_seconds is stopped and its task tried again elsewhere", async () => {
  const llm = await fabric.connect("fran");
  // Stuck on blender-farm-1 only; quick elsewhere.
  const script = "import os, time\ntime.sleep(60 if os.environ.get('FABRIC_CLIENT_UUID') == 'blender-farm-1' else 0.1)";
  const farm = await llm.call("blender_farm_map", { script, items: [1, 2, 3, 4, 5, 6], group_id: "farm-a", task_timeout_seconds: 1.5 });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed", farm: { tasks_by_status: { completed: 6 } } });
  const stuck = (ended.farm.tasks.flatMap((task: { attempts: Attempt[] }) => task.attempts) as Attempt[]).filter(
    (attempt) => attempt.target_uuid === "blender-farm-1",
  );
  expect(stuck.length).toBeGreaterThanOrEqual(1);
  for (const attempt of stuck) {
    expect(attempt).toMatchObject({ status: "failed", error: "timed out: no progress for 1.5 s, so Blender was restarted" });
  }
  await waitFor("blender-farm-1 to be back", async () => (await llm.call("blender_get_scene_info", { target_uuid: "blender-farm-1" })).status === "completed", 30_000, 500);
});

test("a task that fails every attempt fails the farm job after max_attempts, saying why", async () => {
  const llm = await fabric.connect("fran");
  const farm = await llm.call("blender_farm_map", { script: "raise RuntimeError('always broken')", items: [1], max_attempts: 2, group_id: "farm-a" });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "failed", error: expect.stringContaining("1 of 1 tasks did not complete") });
  const [task] = ended.farm.tasks as { status: string; attempts: Attempt[] }[];
  expect(task!.status).toBe("failed");
  expect(task!.attempts.map((attempt) => attempt.status)).toEqual(["failed", "failed"]);
  expect(task!.attempts[1]!.error).toContain("always broken");
});

test("cancelling a farm job mid-way: queued tasks never run, running ones stop, finished ones keep their results", async () => {
  const llm = await fabric.connect("fran");
  // The first items finish at once; the rest report progress for 2 s each.
  const script = "import time\nfor step in range(20 if items[0] >= 3 else 0):\n    report_progress(step / 20, 'working')\n    time.sleep(0.1)\nprint('done', items[0])";
  const farm = await llm.call("blender_farm_map", { script, items: Array.from({ length: 12 }, (_, i) => i), group_id: "farm-a" });
  await waitFor("three tasks to finish and three to run", async () => {
    const status = await llm.call("blender_job_status", { job_id: farm.job_id });
    return (status.farm.tasks_by_status.running ?? 0) === 3 && (status.farm.tasks_by_status.completed ?? 0) === 3;
  }, 20_000, 50);
  expect(await llm.call("blender_job_cancel", { job_id: farm.job_id })).toMatchObject({ status: "cancelled", tasks_stopping: 3 });
  const cancelled = await llm.call("blender_job_status", { job_id: farm.job_id });
  await waitFor("every attempt to end", async () => {
    const status = await llm.call("blender_job_status", { job_id: farm.job_id });
    return status.farm.tasks.every((task: { attempts: Attempt[] }) => task.attempts.every((attempt) => !["queued", "running"].includes(attempt.status)));
  }, 20_000, 200);
  await sleep(1_500); // time for any wrongly started attempt to show
  const after = await llm.call("blender_job_status", { job_id: farm.job_id });
  expect(after.status).toBe("cancelled");
  const attempts = after.farm.tasks.flatMap((task: { attempts: Attempt[] }) => task.attempts) as Attempt[];
  const starts = await Promise.all(attempts.map(async (attempt) => (await llm.call("blender_job_status", { job_id: attempt.job_id })).started_at));
  expect(starts.filter((start) => start !== null && start > cancelled.updated_at)).toEqual([]);
  // Three completed, three stopped running; the six never taken have no attempt and ended with the job.
  expect(after.farm.tasks.map((task: { status: string }) => task.status).sort()).toEqual([...Array(9).fill("cancelled"), ...Array(3).fill("completed")]);
  expect(attempts.map((attempt) => attempt.status).sort()).toEqual([...Array(3).fill("cancelled"), ...Array(3).fill("completed")]);
  for (const attempt of attempts.filter((candidate) => candidate.status === "completed")) {
    expect((await llm.call("blender_job_result", { job_id: attempt.job_id })).result).toContain("done");
  }
});

test("a peer whose attempts keep failing is blocklisted for the job; the others finish it", async () => {
  const llm = await fabric.connect("fran");
  const script = "import os, time\nif os.environ.get('FABRIC_CLIENT_UUID') == 'blender-farm-3':\n    raise RuntimeError('broken renderer')\ntime.sleep(0.2)";
  const farm = await llm.call("blender_farm_map", { script, items: Array.from({ length: 9 }, (_, i) => i), group_id: "farm-a", max_peer_failures: 2 });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed", farm: { blocklisted: ["blender-farm-3"], failures: { "blender-farm-3": 2 } } });
  const attempts = ended.farm.tasks.flatMap((task: { attempts: Attempt[] }) => task.attempts) as Attempt[];
  expect(attempts.filter((attempt) => attempt.target_uuid === "blender-farm-3").map((attempt) => attempt.status)).toEqual(["failed", "failed"]);
  expect(attempts.filter((attempt) => attempt.status === "completed")).toHaveLength(9);
});

test("a farm job for a group with no live peer waits, saying so, and runs when a peer joins", async () => {
  const llm = await fabric.connect("fran");
  const farm = await llm.call("blender_farm_map", { script: "print(items)", items: [1, 2], group_id: "farm-later" });
  await waitFor("the job to say what it waits for", async () => {
    const status = await llm.call("blender_job_status", { job_id: farm.job_id });
    return status.status === "queued" && status.progress_message === "waiting: no live peer in group farm-later";
  }, 10_000, 200);
  const late = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "fran", uuid: "blender-late", groupId: "farm-later" });
  bridges.push(late);
  expect(await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 })).toMatchObject({
    status: "completed",
    farm: { tasks_by_status: { completed: 2 } },
  });
});

test("when every live peer of the group is blocklisted, the farm job fails and says why", async () => {
  const llm = await fabric.connect("fran");
  // farm-later has one peer (blender-late, started by the test before).
  const farm = await llm.call("blender_farm_map", { script: "raise RuntimeError('no')", items: [1, 2], group_id: "farm-later", max_attempts: 5, max_peer_failures: 1 });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "failed", error: expect.stringContaining("no eligible peer left in group farm-later: blender-late") });
});

test("a repeat of a farm_map with its request_id queues nothing again; bad input names the field", async () => {
  const llm = await fabric.connect("fran");
  const args = { script: "pass", items: [1, 2, 3], group_id: "farm-a", request_id: "farm-req-1" };
  const first = await llm.call("blender_farm_map", args);
  const again = await llm.call("blender_farm_map", args);
  expect(again).toMatchObject({ status: "queued", job_id: first.job_id, tasks: 3 });
  expect(await llm.call("blender_job_status", { job_id: first.job_id, wait_seconds: 30 })).toMatchObject({ status: "completed", farm: { tasks_total: 3 } });
  expect(await llm.call("blender_farm_map", { script: "pass", items: [], group_id: "farm-a" })).toMatchObject({ status: "invalid_params", field: "items" });
  expect(await llm.call("blender_farm_map", { script: "pass", items: [1], group_id: "farm.a" })).toMatchObject({ status: "invalid_params", field: "group_id" });
});

test("a farm job needing a capability nobody has waits, saying so; a peer with it joins and runs every task", async () => {
  const llm = await fabric.connect("fran");
  const farm = await llm.call("blender_farm_map", { script: "print(items)", items: [1, 2, 3], group_id: "farm-a", capabilities: ["gpu"] });
  await waitFor("the job to say what it waits for", async () => {
    const status = await llm.call("blender_job_status", { job_id: farm.job_id });
    return status.progress_message === "waiting: no live peer with capabilities [gpu] in group farm-a";
  }, 10_000, 200);
  const gpu = await startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: "fran",
    uuid: "blender-gpu",
    groupId: "farm-a",
    capabilities: ["python_execution", "rendering", "gpu"],
  });
  try {
    const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
    expect(ended).toMatchObject({ status: "completed", progress_message: "" });
    const peers = ended.farm.tasks.flatMap((task: { attempts: Attempt[] }) => task.attempts.map((attempt) => attempt.target_uuid));
    expect(peers).toEqual(["blender-gpu", "blender-gpu", "blender-gpu"]);
  } finally {
    await gpu.stop();
  }
});

test("idle peers take a high-priority farm job's tasks before the rest of a normal one queued earlier", async () => {
  const llm = await fabric.connect("fran");
  const script = "import time\ntime.sleep(0.3)";
  const normal = await llm.call("blender_farm_map", { script, items: Array.from({ length: 15 }, (_, i) => i), group_id: "farm-a" });
  await waitFor("the normal job to be running", async () => (await llm.call("blender_job_status", { job_id: normal.job_id })).status === "running", 20_000, 50);
  const high = await llm.call("blender_farm_map", { script, items: [1, 2, 3], group_id: "farm-a", priority: "high" });
  const highEnded = await llm.call("blender_job_status", { job_id: high.job_id, wait_seconds: 45 });
  const normalEnded = await llm.call("blender_job_status", { job_id: normal.job_id, wait_seconds: 45 });
  expect([highEnded.status, normalEnded.status]).toEqual(["completed", "completed"]);
  const startsOf = (status: Record<string, any>) =>
    Promise.all(
      status.farm.tasks.map(async (task: { attempts: Attempt[] }) => (await llm.call("blender_job_status", { job_id: task.attempts.at(-1)!.job_id })).started_at as number),
    );
  const lastHighStart = Math.max(...(await startsOf(highEnded)));
  const normalStarts = await startsOf(normalEnded);
  // Normal tasks were still waiting when the high job came, and none of them started while
  // high tasks waited, beyond one per peer whose pull was already on its way.
  expect(normalStarts.filter((start) => start > lastHighStart).length).toBeGreaterThan(0);
  expect(normalStarts.filter((start) => start > highEnded.created_at && start < lastHighStart).length).toBeLessThanOrEqual(PEERS.length);
});

test("two users' farm jobs on one NATS, in groups of the same name, never take each other's tasks, artifacts or status", async () => {
  const gina = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "gina", uuid: "blender-gina-1", groupId: "farm-a" });
  try {
    const fran = await fabric.connect("fran");
    const other = await fabric.connect("gina");
    const script = "import os\nopen(os.path.join(output_dir, f'{items[0]}.txt'), 'w').write(os.environ['FABRIC_CLIENT_UUID'])";
    const [franJob, ginaJob] = await Promise.all([
      fran.call("blender_farm_map", { script, items: ["f1", "f2", "f3", "f4", "f5", "f6"], group_id: "farm-a" }),
      other.call("blender_farm_map", { script, items: ["g1", "g2", "g3"], group_id: "farm-a" }),
    ]);
    const [franEnded, ginaEnded] = await Promise.all([
      fran.call("blender_job_status", { job_id: franJob.job_id, wait_seconds: 45 }),
      other.call("blender_job_status", { job_id: ginaJob.job_id, wait_seconds: 45 }),
    ]);
    expect([franEnded.status, ginaEnded.status]).toEqual(["completed", "completed"]);
    const peersOf = (status: Record<string, any>) => new Set(status.farm.tasks.map((task: { attempts: Attempt[] }) => task.attempts.at(-1)!.target_uuid));
    expect([...peersOf(ginaEnded)]).toEqual(["blender-gina-1"]);
    expect([...peersOf(franEnded)].every((peer) => PEERS.includes(peer as string))).toBe(true);
    // Each sees only their own job and files.
    expect(await fran.call("blender_job_status", { job_id: ginaJob.job_id })).toMatchObject({ status: "not_found" });
    expect(await fran.call("blender_list_artifacts", { job_id: ginaJob.job_id })).toMatchObject({ total: 0 });
    const ginaFiles = await other.call("blender_list_artifacts", { job_id: ginaJob.job_id });
    expect(ginaFiles.artifacts.map((artifact: { file: string }) => artifact.file)).toEqual(["g1.txt", "g2.txt", "g3.txt"]);
    const url = `${fabric.gateways[0]!.baseUrl}${ginaFiles.artifacts[0].url}`;
    expect((await fetch(url, { headers: { authorization: `Bearer ${await mintToken({ sub: "fran" })}` } })).status).toBe(404);
    expect(await (await fetch(url, { headers: { authorization: `Bearer ${await mintToken({ sub: "gina" })}` } })).text()).toBe("blender-gina-1");
  } finally {
    await gina.stop();
  }
});

test("a farm job with capabilities and no group runs on any farm worker of the user that has them, or waits saying what for", async () => {
  const llm = await fabric.connect("fran");
  const farm = await llm.call("blender_farm_map", { script: "print(items)", items: [1, 2, 3, 4, 5, 6], capabilities: ["rendering"] });
  expect(farm).toMatchObject({ status: "queued", group_id: null, tasks: 6 });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed", farm: { tasks_by_status: { completed: 6 } } });
  // Fran's farm workers ran them, whatever their group (earlier tests here started more than PEERS).
  const fransPeers = (await llm.call("blender_list_available_clients", { include_stale: true })).persistent.map((client: { uuid: string }) => client.uuid);
  const peers = ended.farm.tasks.map((task: { attempts: Attempt[] }) => task.attempts.at(-1)!.target_uuid);
  expect(peers.every((peer: string) => fransPeers.includes(peer) && peer !== "blender-gina-1")).toBe(true);

  const waiting = await llm.call("blender_farm_map", { script: "print(items)", items: [1], capabilities: ["quantum"] });
  await waitFor("the job to say what it waits for", async () => {
    const status = await llm.call("blender_job_status", { job_id: waiting.job_id });
    return status.progress_message === "waiting: no live peer with capabilities [quantum] among your farm workers";
  }, 20_000, 100);
  expect(await llm.call("blender_job_cancel", { job_id: waiting.job_id })).toMatchObject({ status: "cancelled" });
});

test("a farm bridge told SIGTERM mid-task finishes its task before it goes: the attempt is not spent", async () => {
  const llm = await fabric.connect("fran");
  const leaving = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "fran", uuid: "blender-farm-leaving", groupId: "farm-drain" });
  const farm = await llm.call("blender_farm_map", { script: "import time\ntime.sleep(3)\nprint('finished')", items: [1], group_id: "farm-drain", max_attempts: 1 });
  await waitFor("the task to run", async () => (await llm.call("blender_job_status", { job_id: farm.job_id })).status === "running", 20_000, 100);
  await leaving.stop(30_000); // SIGTERM, as a cluster scaling in sends it
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 20 });
  expect(ended).toMatchObject({ status: "completed", farm: { tasks_by_status: { completed: 1 } } });
  expect(ended.farm.tasks[0].attempts).toHaveLength(1);
  expect(ended.farm.tasks[0].attempts[0]).toMatchObject({ status: "completed", target_uuid: "blender-farm-leaving" });
});

test("pause: running attempts finish and no task starts; resume publishes the rest and the job completes, each task once", async () => {
  const llm = await fabric.connect("fran");
  // Long enough that the job is still going when the CLI (a process of its own) has started.
  const farm = await llm.call("blender_farm_map", { script: "import time\ntime.sleep(0.8)", items: Array.from({ length: 18 }, (_, i) => i), group_id: "farm-a" });
  const status = async () => (await llm.call("blender_job_status", { job_id: farm.job_id, tasks_limit: 0 })).farm;
  await waitFor("three tasks to complete", async () => ((await status()).tasks_by_status.completed ?? 0) >= 3, 30_000, 50);
  // From the CLI, as an operator would.
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "fran" }) };
  const pause = runCli(["pause", farm.job_id], env);
  expect(await pause.exited).toBe(0);
  expect(pause.output()).toContain(`job ${farm.job_id}: ok. No task starts a new attempt`);
  const again = runCli(["pause", farm.job_id], env);
  expect(await again.exited).toBe(1);
  expect(again.errors()).toContain("not_controllable (running): the job is paused already");
  // What ran when the pause came finishes; then nothing moves.
  await waitFor("running attempts to finish", async () => ((await status()).tasks_by_status.running ?? 0) === 0, 20_000, 100);
  const paused = await status();
  // Nothing may move while paused: a window of time is what this checks.
  await sleep(2_000);
  const later = await status();
  expect(later).toMatchObject({ paused: true, tasks_by_status: paused.tasks_by_status, eta_seconds: null });
  expect(later.tasks_by_status.queued).toBeGreaterThan(0);
  expect(later.tasks).toEqual([]);

  const resumed = runCli(["resume", farm.job_id], env);
  expect(await resumed.exited).toBe(0);
  expect(resumed.output()).toContain(`${later.tasks_by_status.queued} task(s) published again`);
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed", farm: { paused: false, tasks_by_status: { completed: 18 }, items_done: 18 } });
  expect(ended.farm.tasks.every((task: { attempts: Attempt[] }) => task.attempts.length === 1)).toBe(true);
  // An ended job takes no controls.
  expect(await llm.call("blender_farm_control", { job_id: farm.job_id, action: "resume" })).toMatchObject({ status: "not_controllable", error: "the job has ended (completed)" });
});

test("requeue_failed: a failed farm job runs again, its failed task gets more attempts and completes; bad controls name the field", async () => {
  const llm = await fabric.connect("fran");
  // Item 2 fails until a time a few seconds away (Blender's files are sandboxed; clocks are shared).
  const readyAt = Date.now() / 1000 + 4;
  const script = `import time\nif items[0] == 2 and time.time() < ${readyAt}:\n    raise RuntimeError('not yet')`;
  const farm = await llm.call("blender_farm_map", { script, items: [1, 2, 3], group_id: "farm-a", max_attempts: 1 });
  const failed = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(failed).toMatchObject({ status: "failed", farm: { tasks_by_status: { completed: 2, failed: 1 }, failed_attempts: 1, recent_failures: [{ error: expect.stringContaining("not yet") }] } });

  await sleep(Math.max(0, readyAt * 1000 - Date.now() + 100));
  expect(await llm.call("blender_farm_control", { job_id: farm.job_id, action: "requeue_failed" })).toMatchObject({ status: "ok", job_status: "queued", tasks_published: 1 });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "completed", error: "", farm: { tasks_by_status: { completed: 3 } } });
  expect(ended.farm.tasks[1].attempts.map((attempt: Attempt) => attempt.status)).toEqual(["failed", "completed"]);
  expect(await llm.call("blender_farm_control", { job_id: farm.job_id, action: "set_priority" })).toMatchObject({ status: "invalid_params", field: "priority" });
  expect(await llm.call("blender_farm_control", { job_id: "j-nope", action: "pause" })).toMatchObject({ status: "not_found" });
});

test("set_priority moves a job's waiting tasks: raised to high, a low job queued last runs before a normal one", async () => {
  const llm = await fabric.connect("fran");
  const script = "import time\ntime.sleep(0.1)";
  const normal = await llm.call("blender_farm_map", { script, items: [1, 2, 3, 4], group_id: "farm-prio" });
  const low = await llm.call("blender_farm_map", { script, items: [1, 2, 3, 4], group_id: "farm-prio", priority: "low" });
  const raise = runCli(["priority", low.job_id, "high"], { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "fran" }) });
  expect(await raise.exited).toBe(0);
  expect(raise.output()).toContain("moved to priority high. 4 task(s) published again");
  // The group's only peer starts after both jobs were queued: it takes them in priority order.
  const peer = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "fran", uuid: "blender-farm-prio", groupId: "farm-prio" });
  try {
    const ends = await Promise.all([low, normal].map((job) => llm.call("blender_job_status", { job_id: job.job_id, wait_seconds: 45 })));
    for (const ended of ends) expect(ended).toMatchObject({ status: "completed", farm: { tasks_by_status: { completed: 4 } } });
    const startedAt = async (ended: Record<string, any>) =>
      Promise.all((ended.farm.tasks as { attempts: Attempt[] }[]).map(async (task) => (await llm.call("blender_job_status", { job_id: task.attempts.at(-1)!.job_id })).started_at as number));
    const [lowStarts, normalStarts] = await Promise.all(ends.map(startedAt));
    expect(Math.max(...lowStarts!)).toBeLessThanOrEqual(Math.min(...normalStarts!));
    // The copies left on the low lane ran nothing: each task made one attempt.
    expect(ends[0]!.farm.tasks.every((task: { attempts: Attempt[] }) => task.attempts.length === 1)).toBe(true);
    expect(ends[0]!.farm.priority).toBe("high");
  } finally {
    await peer.stop();
  }
});
