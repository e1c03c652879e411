// The reaper against a real nats-server: it ends the jobs nobody else will end, and only those.
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ClientRegistry, openFabricBuckets } from "@blender-fabric/bus";
import { JobReaper, JobStore } from "@blender-fabric/engine";
import { startNatsServer, type NatsServer } from "@blender-fabric/testkit";
import { epochSeconds, newJobRecord } from "@blender-fabric/protocol";

let nats: NatsServer;
let nc: NatsConnection;
let jobs: JobStore;
let registry: ClientRegistry;
let reaper: JobReaper;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const buckets = await openFabricBuckets(nc, 1, ["clients", "jobs"]);
  jobs = new JobStore(buckets.jobs, nc);
  registry = await ClientRegistry.open(buckets.clients, { staleAfterSeconds: 30, evictAfterSeconds: 3600 });
  reaper = await JobReaper.start(buckets.jobs, jobs, registry);
});

afterAll(async () => {
  reaper?.stop();
  registry?.stop();
  await nc?.close();
  await nats?.stop();
});

const queue = async (jobId: string, deadline: number | null = null) =>
  jobs.create(newJobRecord({ job_id: jobId, bus_id: "alice", originator_uuid: null, target_uuid: "blender-1", kind: "command", command: "get_scene_info", deadline }));
const statusOf = async (jobId: string) => (await jobs.get("alice", jobId))?.status;

test("a running job of a live boot stays; after a new boot registers it ends lost", async () => {
  await registry.register("alice", { uuid: "blender-1", client_type: "blender", incarnation: "inc-a" });
  await queue("j-restart");
  await jobs.claim("alice", "j-restart", { incarnation: "inc-a", peerUuid: "blender-1" });
  await reaper.sweep();
  expect(await statusOf("j-restart")).toBe("running");

  await registry.register("alice", { uuid: "blender-1", client_type: "blender", incarnation: "inc-b" });
  await reaper.sweep();
  expect(await jobs.get("alice", "j-restart")).toMatchObject({
    status: "lost",
    error: "peer blender-1 restarted while running the job (its bridge died)",
  });
});

test("a queued job expires past its deadline, not before", async () => {
  await queue("j-later", epochSeconds() + 60);
  await queue("j-past", epochSeconds() - 1);
  await reaper.sweep();
  expect(await statusOf("j-later")).toBe("queued");
  expect(await jobs.get("alice", "j-past")).toMatchObject({ status: "expired", error: expect.stringContaining("Not started within") });
});

test("a job a client reported running ends lost when that client leaves the bus", async () => {
  await registry.register("alice", { uuid: "llm-worker", client_type: "blender" });
  await jobs.create(newJobRecord({ job_id: "j-reported", bus_id: "alice", originator_uuid: "llm-boss", target_uuid: "llm-worker", kind: "script", command: null }));
  await jobs.report("alice", "j-reported", { status: "running" });
  await reaper.sweep();
  expect(await statusOf("j-reported")).toBe("running");
  await registry.unregister("alice", "llm-worker");
  await reaper.sweep();
  expect(await jobs.get("alice", "j-reported")).toMatchObject({ status: "lost", error: "peer llm-worker is no longer registered; it was running the job" });
});

test("a finished dispatch without a request id is purged after the retention; one with a request id, and unfinished ones, stay", async () => {
  const buckets = await openFabricBuckets(nc, 1, ["jobs"]);
  const brief = await JobReaper.start(buckets.jobs, jobs, registry, 1);
  try {
    const finish = async (jobId: string, requestId: string | null) => {
      await jobs.create(newJobRecord({ job_id: jobId, bus_id: "bo", originator_uuid: null, target_uuid: "blender-1", kind: "command", command: "get_scene_info", request_id: requestId }));
      await jobs.cancelQueued("bo", jobId, "done with it");
    };
    await finish("j-brief", null);
    await finish("j-kept", "req-1");
    await jobs.create(newJobRecord({ job_id: "j-open", bus_id: "bo", originator_uuid: null, target_uuid: "blender-1", kind: "command", command: "get_scene_info" }));
    await brief.sweep();
    expect(await jobs.get("bo", "j-brief")).toMatchObject({ status: "cancelled" }); // within its retention
    // Past the retention (1 s, on whole seconds of updated_at), the next sweeps forget it.
    const deadline = Date.now() + 10_000;
    while ((await jobs.get("bo", "j-brief")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await brief.sweep();
    }
    expect(await jobs.get("bo", "j-brief")).toBeUndefined();
    expect(await jobs.get("bo", "j-kept")).toMatchObject({ status: "cancelled" });
    expect(await jobs.get("bo", "j-open")).toMatchObject({ status: "queued" });
    expect(brief.unfinishedCount("bo")).toBe(1);
  } finally {
    brief.stop();
  }
});
