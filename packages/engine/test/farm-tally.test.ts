// The farm tally against a real nats-server: fed by the reaper's watch, it shows a farm job's
// tasks and attempts as their records stand, in a summary whose size does not grow with them.
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ClientRegistry, openFabricBuckets } from "@blender-fabric/bus";
import { FarmTally, JobReaper, JobStore } from "@blender-fabric/engine";
import { startNatsServer, type NatsServer } from "@blender-fabric/testkit";
import { farmTaskJobId, newJobRecord, type FarmSummary } from "@blender-fabric/protocol";

let nats: NatsServer;
let nc: NatsConnection;
let jobs: JobStore;
let registry: ClientRegistry;
let reaper: JobReaper;
const tally = new FarmTally();

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const buckets = await openFabricBuckets(nc, 1, ["clients", "jobs"]);
  jobs = new JobStore(buckets.jobs, nc);
  registry = await ClientRegistry.open(buckets.clients, { staleAfterSeconds: 30, evictAfterSeconds: 3600 });
  reaper = await JobReaper.start(buckets.jobs, jobs, registry, undefined, tally);
});

afterAll(async () => {
  reaper?.stop();
  registry?.stop();
  await nc?.close();
  await nats?.stop();
});

const summaryOf = (tasks: number, items: number, chunk: number): FarmSummary => ({
  group_id: "g",
  tasks_total: tasks,
  items_total: items,
  max_attempts: 2,
  max_peer_failures: 2,
  capabilities: [],
  failures: {},
  kind: "map",
  chunk_size: chunk,
  priority: "normal",
  blend_sha256: null,
  owner_timeout_seconds: null,
  owner_seen_at: null,
  paused: false,
  requeues: 0,
  preview_video: false,
  preview_video_status: null,
});

const attempt = (farm: string, jobId: string) =>
  newJobRecord({ job_id: jobId, bus_id: "alice", originator_uuid: null, target_uuid: null, kind: "script", command: "farm_map", parent_job_id: farm });

test("attempts are tallied per task: retries, failures, items done; unseen tasks count as queued", async () => {
  const farm = "j-tally";
  const summary = summaryOf(4, 7, 2);
  await jobs.create({ ...newJobRecord({ job_id: farm, bus_id: "alice", originator_uuid: null, target_uuid: null, kind: "farm", command: "farm_map" }), result: summary });
  const [t1, t2, t3] = [0, 1, 2].map((index) => farmTaskJobId(farm, index)) as [string, string, string];
  for (const id of [t1, t2, t3, `${t2}-a2`, `${t3}-a2`]) await jobs.create(attempt(farm, id));
  const run = async (id: string, peer: string, outcome: "completed" | "failed") => {
    const held = await jobs.claim("alice", id, { incarnation: `inc-${peer}`, peerUuid: peer });
    if ("refused" in held) throw new Error(`claim of ${id} refused`);
    await jobs.finish(held, { status: outcome, error: outcome === "failed" ? "boom\nline two" : "" });
  };
  await run(t1, "p1", "completed");
  await run(t2, "p2", "failed");
  await run(`${t2}-a2`, "p1", "completed");
  await run(t3, "p2", "failed");
  await run(`${t3}-a2`, "p2", "failed");

  await tally.current();
  const tasks = tally.tasks("alice", farm, summary);
  expect(tasks.map((task) => [task.status, task.attempts.length])).toEqual([["completed", 1], ["completed", 2], ["failed", 2], ["queued", 0]]);
  expect(tally.allEnded("alice", farm, summary)).toBe(false);
  expect(tally.untaken("alice", farm, summary)).toBe(1);
  expect(tasks[1]!.attempts[0]).toMatchObject({ job_id: t2, status: "failed", target_uuid: "p2", error: "boom" });
  const view = tally.summarize("alice", farm, summary, "running", Date.now() / 1000);
  expect(view).toMatchObject({
    tasks_total: 4,
    tasks_by_status: { completed: 2, failed: 1, queued: 1 },
    items_total: 7,
    items_done: 4,
    failed_attempts: 3,
  });
  expect(view.recent_failures).toHaveLength(3);
  expect(tally.tasks("alice", farm, summary, 1, 2).map((task) => task.task_id)).toEqual([t2, t3]);
  // A requeue gives each task max_attempts more: the failed task is retrying.
  expect(tally.tasks("alice", farm, { ...summary, requeues: 1 })[2]!.status).toBe("retrying");
});

test("a 10,000-task job's summary stays small", async () => {
  const farm = "j-large";
  const summary = summaryOf(10_000, 10_000, 1);
  await jobs.create({ ...newJobRecord({ job_id: farm, bus_id: "alice", originator_uuid: null, target_uuid: null, kind: "farm", command: "farm_map" }), result: summary });
  // Tasks get attempts as peers take them: two taken, the rest waiting.
  await jobs.create(attempt(farm, farmTaskJobId(farm, 0)));
  await jobs.create(attempt(farm, farmTaskJobId(farm, 9_999)));
  const held = await jobs.claim("alice", farmTaskJobId(farm, 0), { incarnation: "inc-p1", peerUuid: "p1" });
  if ("refused" in held) throw new Error("claim refused");
  await tally.current();
  const view = tally.summarize("alice", farm, summary, "running", Date.now() / 1000);
  expect(view.tasks_by_status).toEqual({ running: 1, queued: 9_999 });
  expect(tally.untaken("alice", farm, summary)).toBe(9_998);
  expect(tally.allEnded("alice", farm, summary)).toBe(false);
  expect(JSON.stringify(view).length).toBeLessThan(2_000);
});
