// Issue 9 (Blender on demand, seed 004): the pool starts real bridges with headless Blender
// when work waits for a project or a farm group that no live peer serves, and they exit when
// idle (scale to zero); a project's scene survives in the Object Store between its peers.
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, startPoolProcess, waitFor, isProcessGone, processEntries, type FabricTestClient, type PoolProcess } from "@blender-fabric/testkit";
import { Kvm } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import { BlendStore } from "@blender-fabric/bus";
import { BucketName, StreamName, consumerForProject, keyForProject } from "@blender-fabric/protocol";
import { startFabric, type Fabric } from "../support/fabric.js";
import { waitForRunningJob } from "../support/running-job.js";

/** Short, so scale to zero happens within a test. Seconds */
const IDLE_SECONDS = 3;
/**
 * The pool's tenant quota: fewer than the 3 places its 4 leave for farm work (one is kept for
 * projects), so without the quota one user's burst would take all 3.
 */
const PEERS_PER_USER = 2;
let fabric: Fabric;
let pool: PoolProcess;
let llm: FabricTestClient;
const poolState = mkdtempSync(join(tmpdir(), "fabric-pool-"));

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  pool = await startPoolProcess({
    natsUrls: fabric.natsUrls,
    env: {
      FABRIC_POOL_WARM: "0",
      FABRIC_POOL_MAX_PEERS: "4",
      FABRIC_POOL_MAX_PEERS_PER_USER: String(PEERS_PER_USER),
      FABRIC_IDLE_SECONDS: String(IDLE_SECONDS),
      FABRIC_POOL_STATE_DIR: poolState,
    },
  });
  llm = await fabric.connect("olga");
});
afterAll(async () => {
  await pool?.stop();
  await fabric?.[Symbol.asyncDispose]();
});

/** The user's live Blender peers, as an LLM lists them. */
async function liveBlenders(): Promise<{ uuid: string; project_id?: string; group_id: string | null }[]> {
  const listing = await llm.call("blender_list_available_clients");
  return listing.persistent;
}

/** The pool's peers once none is still starting (its supervisor polls readiness every 100 ms). */
async function runningPeers() {
  await waitFor("the pool's peers to be running", async () => (await pool.peers()).every((peer) => peer.state === "running"), 10_000, 50);
  return pool.peers();
}

/** The pid of the bridge process of `uuid` (its environment names it), or 0. */
function bridgePidOf(uuid: string): number {
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/u.test(name))) {
    const pid = Number(entry);
    const cmdline = processEntries(pid, "cmdline").join(" ");
    if (/node|tsx/u.test(cmdline) && processEntries(pid, "environ").includes(`FABRIC_CLIENT_UUID=${uuid}`)) return pid;
  }
  return 0;
}

/** The pool's standby bridges: its children that wait to become a peer (started with FABRIC_STANDBY). */
function standbysOf(poolPid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/u.test(name))
    .map(Number)
    .filter((pid) => parentOf(pid) === poolPid && processEntries(pid, "environ").includes("FABRIC_STANDBY=true"));
}

function parentOf(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)$/mu.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The `bridge starting` line a peer of the pool logged. */
function startLine(uuid: string): { standby?: boolean } {
  const line = readFileSync(join(poolState, "logs", `${uuid}.log`), "utf8").split("\n").find((entry) => entry.includes('"bridge starting"'));
  return JSON.parse(line!) as { standby?: boolean };
}

/** Blender processes below `pid` (through bubblewrap, if sandboxed). */
function blendersOf(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/u.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const below = (child: number): boolean => {
    for (let at = parents.get(child); at !== undefined && at > 1; at = parents.get(at)) if (at === pid) return true;
    return false;
  };
  return [...parents.keys()].filter((child) => below(child) && processEntries(child, "cmdline").some((part) => /blender$/u.test(part)));
}

async function scaledToZero(): Promise<void> {
  await waitFor("the pool to scale to zero", async () => (await pool.peers()).length === 0 && (await liveBlenders()).length === 0, 30_000, 200);
}

test("a project's first call starts its peer; the peer leaves when idle and its scene comes back with the next one", async () => {
  expect(await pool.peers()).toEqual([]);
  expect(await liveBlenders()).toEqual([]);

  const first = await llm.dispatch("blender_execute_code", {
    target_uuid: "project:p1",
    code: "import bpy\nbpy.ops.mesh.primitive_monkey_add()\nbpy.context.object.name = 'MadeInP1'\nprint(len(bpy.data.objects))",
  });
  expect(first.status).toBe("completed");
  expect(first.target_uuid).toMatch(/^blender-p1-/u); // the answer names the peer, not the project
  const [started] = await runningPeers();
  expect(started).toMatchObject({ uuid: first.target_uuid, state: "running" });
  expect((await liveBlenders()).map((peer) => [peer.uuid, peer.project_id])).toEqual([[first.target_uuid, "p1"]]);
  // It was the pool's standby bridge, which became this peer (its own uuid, user and project above).
  expect(startLine(first.target_uuid).standby).toBe(true);
  await waitFor("the pool to start its next standby", () => standbysOf(pool.pid()).length === 1, 20_000, 100);

  await scaledToZero();
  expect(isProcessGone(started!.pid!)).toBe(true);
  expect(isProcessGone(started!.blender_pid!)).toBe(true);

  const [again, other] = await Promise.all([
    llm.dispatch("blender_execute_code", { target_uuid: "project:p1", code: "import bpy\nprint('MadeInP1' in bpy.data.objects)" }),
    llm.dispatch("blender_execute_code", { target_uuid: "project:p2", code: "import bpy\nprint('MadeInP1' in bpy.data.objects)" }),
  ]);
  expect([again.status, again.data.result]).toEqual(["completed", "True\n"]);
  expect([other.status, other.data.result]).toEqual(["completed", "False\n"]);
  expect(again.target_uuid).not.toBe(first.target_uuid);
  expect(other.target_uuid).toMatch(/^blender-p2-/u);
  // Two projects never share a Blender: each peer is a bridge with a Blender of its own.
  expect(other.target_uuid).not.toBe(again.target_uuid);
  await scaledToZero();
});

test("plain dispatches never land on a project's peer", async () => {
  const made = await llm.dispatch("blender_get_scene_info", { target_uuid: "project:p3" });
  expect(made.status).toBe("completed");
  const plain = await llm.call("blender_get_scene_info");
  expect(plain.status).toBe("no_client");
  await scaledToZero();
});

test("a farm job for a group with no live peer makes the pool start peers, which exit when idle; one user gets at most their quota of them", async () => {
  const script = "import time\ntime.sleep(0.5)\nprint(sum(items))";
  const farm = await llm.call("blender_farm_map", { script, items: [1, 2, 3, 4, 5, 6], chunk_size: 1, group_id: "burst" });
  expect(farm).toMatchObject({ status: "queued", tasks: 6 });
  // Another tenant's work queued behind the burst still gets the place the quota leaves.
  const other = await fabric.connect("pia");
  const otherFarm = await other.call("blender_farm_map", { script, items: [7, 8], chunk_size: 1, group_id: "burst" });
  expect(otherFarm).toMatchObject({ status: "queued", tasks: 2 });
  let mostOfOlga = 0;
  const sampling = setInterval(() => {
    void pool.peers().then((peers) => {
      mostOfOlga = Math.max(mostOfOlga, peers.filter((peer) => peer.user === "olga").length);
    }, () => {});
  }, 100);
  try {
    const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 50 });
    expect(ended).toMatchObject({ status: "completed", farm: { tasks_by_status: { completed: 6 } } });
    const runners = new Set(ended.farm.tasks.map((task: { attempts: { target_uuid: string }[] }) => task.attempts.at(-1)!.target_uuid));
    expect(runners.size).toBeGreaterThanOrEqual(1);
    expect(runners.size).toBeLessThanOrEqual(PEERS_PER_USER);
    for (const runner of runners) expect(runner).toMatch(/^blender-burst-/u);
    const otherEnded = await other.call("blender_job_status", { job_id: otherFarm.job_id, wait_seconds: 50 });
    expect(otherEnded).toMatchObject({ status: "completed", farm: { tasks_by_status: { completed: 2 } } });
  } finally {
    clearInterval(sampling);
  }
  expect(mostOfOlga).toBeGreaterThanOrEqual(1);
  expect(mostOfOlga).toBeLessThanOrEqual(PEERS_PER_USER);
  await scaledToZero();
  await waitFor("pia's peers to leave too", async () => (await other.call("blender_list_available_clients")).persistent.length === 0, 30_000, 200);
});

test("a pool killed -9 leaves no bridge or Blender behind, and starts peers again when restarted", async () => {
  const made = await llm.dispatch("blender_execute_code", { target_uuid: "project:p4", code: "print('up')" });
  expect(made.status).toBe("completed");
  const [peer] = await runningPeers();
  expect(peer!.pid).toBeGreaterThan(0);
  await waitFor("the pool's standby", () => standbysOf(pool.pid()).length === 1, 20_000, 100);
  const [standby] = standbysOf(pool.pid());
  await pool.kill();
  await waitFor("the pool's bridge, its Blender and its standby to end", () => isProcessGone(peer!.pid!) && isProcessGone(peer!.blender_pid!) && isProcessGone(standby!), 20_000, 100);
  // The bridge saw its parent go and left the bus: no record stays behind as live.
  await waitFor("the peer to leave the registry", async () => (await liveBlenders()).length === 0, 10_000, 100);

  await pool.restart();
  const again = await llm.dispatch("blender_execute_code", { target_uuid: "project:p4", code: "print('up again')" });
  expect([again.status, again.data.result]).toEqual(["completed", "up again\n"]);
  await scaledToZero();
});

test("a restarted pool stops what its killed predecessor left running and forgets it in the registry", async () => {
  const made = await llm.dispatch("blender_execute_code", { target_uuid: "project:p5", code: "print('up')" });
  expect(made.status).toBe("completed");
  const [peer] = await runningPeers();
  // A bridge that cannot notice its pool's end (stopped) survives it...
  process.kill(peer!.pid!, "SIGSTOP");
  await pool.kill();
  expect(isProcessGone(peer!.pid!)).toBe(false);
  // ...until the pool starts again, finds it in its record and ends it.
  await pool.restart();
  await waitFor("the leftover bridge and its Blender to end", () => isProcessGone(peer!.pid!) && isProcessGone(peer!.blender_pid!), 20_000, 100);
  expect((await liveBlenders()).map((client) => client.uuid)).not.toContain(peer!.uuid);
});

test("a project has one Blender at a time: a second peer of it waits until the first has saved and left", async () => {
  const first = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-a", env: { FABRIC_PROJECT_ID: "shared" } });
  const made = await llm.dispatch("blender_execute_code", { target_uuid: "project:shared", code: "import bpy\nbpy.ops.mesh.primitive_cube_add()\nbpy.context.object.name = 'FromA'" });
  expect([made.status, made.target_uuid]).toEqual(["completed", "hand-a"]);

  const log = join(mkdtempSync(join(tmpdir(), "fabric-hand-b-")), "bridge.log");
  const starting = startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-b", env: { FABRIC_PROJECT_ID: "shared" }, logFile: log });
  await waitFor("hand-b to wait for the project", () => existsSync(log) && readFileSync(log, "utf8").includes("waiting for the project's previous peer"), 30_000, 100);
  // hand-b is up but holds no lease: it has not opened the scene, is not on the bus, and
  // holds no Blender while it waits.
  expect((await liveBlenders()).map((peer) => peer.uuid)).toEqual(["hand-a"]);
  await waitFor("hand-b's Blender to stop while it waits", () => blendersOf(bridgePidOf("hand-b")).length === 0, 10_000, 100);

  await first.stop(); // saves the scene, gives the project up, leaves
  const second = await starting;
  const seen = await llm.dispatch("blender_execute_code", { target_uuid: "project:shared", code: "import bpy\nprint('FromA' in bpy.data.objects)" });
  expect([seen.status, seen.target_uuid, seen.data.result]).toEqual(["completed", "hand-b", "True\n"]);
  await second.stop();
});

test("a project's scene is saved while its peer works, so a peer killed -9 loses only what came after; its successor takes over at once", async () => {
  // Default heartbeats (10 s): the dead peer's lease would be stale only after 30 s, but its
  // successor finds the dead peer's connection gone and takes the project over at once.
  const env = { FABRIC_PROJECT_ID: "autosaved", FABRIC_PROJECT_SAVE_SECONDS: "1" };
  const doomed = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-c", env });
  await llm.dispatch("blender_execute_code", { target_uuid: "project:autosaved", code: "import bpy\nbpy.ops.mesh.primitive_cube_add()\nbpy.context.object.name = 'BeforeCrash'" });
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // an autosave
  await doomed.kill();

  const next = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-d", env });
  const seen = await llm.dispatch("blender_execute_code", { target_uuid: "project:autosaved", code: "import bpy\nprint('BeforeCrash' in bpy.data.objects)", _timeout: 15 });
  expect([seen.status, seen.target_uuid, seen.data.result]).toEqual(["completed", "hand-d", "True\n"]);
  await next.stop();
});

test("a project's Blender that crashes comes back with the project's last saved scene", async () => {
  const env = { FABRIC_PROJECT_ID: "crashy", FABRIC_PROJECT_SAVE_SECONDS: "1" };
  const keeper = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-e", env });
  await llm.dispatch("blender_execute_code", { target_uuid: "project:crashy", code: "import bpy\nbpy.ops.mesh.primitive_cube_add()\nbpy.context.object.name = 'Saved'" });
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // an autosave
  const crashed = keeper.blenderPid();
  process.kill(crashed, "SIGKILL");
  await keeper.nextRegistration(crashed);
  const seen = await llm.dispatch("blender_execute_code", { target_uuid: "project:crashy", code: "import bpy\nprint('Saved' in bpy.data.objects)" });
  expect([seen.status, seen.data.result]).toEqual(["completed", "True\n"]);
  await keeper.stop();
});

test("a peer whose project was taken over stops without saving and leaves the project's consumer to its successor", async () => {
  const env = { FABRIC_PROJECT_ID: "stolen", FABRIC_HEARTBEAT_SECONDS: "1" };
  const holder = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-g", env });
  const made = await llm.dispatch("blender_execute_code", { target_uuid: "project:stolen", code: "import bpy\nbpy.ops.mesh.primitive_cube_add()" });
  expect(made.status).toBe("completed");
  // Another peer takes the project (as one would after the holder went silent).
  const projects = await new Kvm(fabric.nc).open(BucketName.Projects);
  await projects.put(keyForProject("olga", "stolen"), JSON.stringify({ holder_uuid: "successor", incarnation: "inc-successor" }));
  await holder.exited;
  // It saved nothing over the successor's scene, and the project's consumer is still there.
  const blends = await BlendStore.open(fabric.nc);
  expect(await blends.downloadProjectScene("olga", "stolen", join(mkdtempSync(join(tmpdir(), "fabric-stolen-")), "scene.blend"))).toBe(false);
  const jsm = await jetstreamManager(fabric.nc);
  expect((await jsm.consumers.info(StreamName.Work, consumerForProject("olga", "stolen"))).name).toBe(consumerForProject("olga", "stolen"));
});

test("a project's peer that only looked uploads no scene", async () => {
  const env = { FABRIC_PROJECT_ID: "look-only", FABRIC_PROJECT_SAVE_SECONDS: "1" };
  const looker = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-h", env });
  const seen = await llm.dispatch("blender_get_scene_info", { target_uuid: "project:look-only" });
  expect(seen.status).toBe("completed");
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // an autosave's time
  await looker.stop(); // and the save when it leaves
  const blends = await BlendStore.open(fabric.nc);
  expect(await blends.downloadProjectScene("olga", "look-only", join(mkdtempSync(join(tmpdir(), "fabric-look-")), "scene.blend"))).toBe(false);
});

// Last in this file: it stops the pool.
test("a pool told to stop lets a busy project peer finish its job and save before it ends", async () => {
  const code = "import bpy, time\nbpy.ops.mesh.primitive_cube_add()\nbpy.context.object.name = 'Finished'\ntime.sleep(7)\nprint('done')";
  const running = llm.dispatch("blender_execute_code", { target_uuid: "project:p6", code, _timeout: 60 });
  await waitForRunningJob(llm, { call: running, timeoutMs: 30_000 });
  await pool.stop(); // longer than a bare bridge's 5 s grace: the peer drains, saves, leaves
  const answer = await running;
  expect(answer, JSON.stringify(answer)).toMatchObject({ status: "completed" });
  expect(answer.data.result).toBe("done\n");
  const next = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "hand-f", env: { FABRIC_PROJECT_ID: "p6" } });
  const seen = await llm.dispatch("blender_execute_code", { target_uuid: "project:p6", code: "import bpy\nprint('Finished' in bpy.data.objects)" });
  expect([seen.status, seen.target_uuid, seen.data.result]).toEqual(["completed", "hand-f", "True\n"]);
  await next.stop();
});
