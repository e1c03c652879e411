import { afterAll, beforeAll, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { JobStore, openFabricBuckets, publishJobEvent, watchJob } from "@blender-fabric/bus";
import { startNatsServer, type NatsServer } from "@blender-fabric/testkit";
import type { JobRecord } from "@blender-fabric/protocol";

let nats: NatsServer;
let nc: NatsConnection;
let jobs: JobStore;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  jobs = new JobStore((await openFabricBuckets(nc)).jobs);
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const newJob = (jobId: string): JobRecord => ({
  job_id: jobId,
  bus_id: "alice",
  originator_uuid: "llm-mine",
  target_uuid: "blender-1",
  kind: "script",
  command: null,
  status: "queued",
  progress: 0,
  progress_message: "",
  result: null,
  error: "",
  created_at: 1,
  updated_at: 1,
});

test("status moves forward only and a duplicate terminal update is ignored", async () => {
  await jobs.create(newJob("j-1"));
  expect((await jobs.advance("alice", "j-1", { status: "running" })).changed).toBe(true);
  expect((await jobs.advance("alice", "j-1", { status: "queued" })).changed).toBe(false);
  const progress = await jobs.advance("alice", "j-1", { status: "progress", progress: 0.5 });
  expect(progress.record).toMatchObject({ status: "running", progress: 0.5 });
  const done = await jobs.advance("alice", "j-1", { status: "completed", result: "42" });
  expect(done.record).toMatchObject({ status: "completed", result: "42", progress: 1 });
  const again = await jobs.advance("alice", "j-1", { status: "failed", error: "late" });
  expect(again).toMatchObject({ changed: false, record: { status: "completed", error: "" } });
  expect((await jobs.get("alice", "j-1"))?.status).toBe("completed");
});

test("jobs are per user and unknown jobs are reported as such", async () => {
  await jobs.create(newJob("shared-id"));
  expect(await jobs.get("bob", "shared-id")).toBeUndefined();
  expect(await jobs.advance("bob", "shared-id", { status: "completed" })).toEqual({
    record: undefined,
    changed: false,
  });
});

test("a job watch sees progress and resolves on the terminal event", async () => {
  const seen: string[] = [];
  const watch = watchJob(nc, "alice", "j-2", (event) => seen.push(event.status));
  await nc.flush();
  publishJobEvent(nc, "alice", { job_id: "j-2", status: "running" });
  publishJobEvent(nc, "alice", { job_id: "j-2", status: "progress", progress: 0.3 });
  publishJobEvent(nc, "bob", { job_id: "j-2", status: "failed" });
  publishJobEvent(nc, "alice", { job_id: "j-2", status: "completed", result: "ok" });
  const terminal = await watch.terminal(5_000);
  watch.stop();
  expect(terminal).toMatchObject({ status: "completed", result: "ok" });
  expect(seen).toEqual(["running", "progress", "completed"]);
  const silent = watchJob(nc, "alice", "j-3");
  expect(await silent.terminal(100)).toBeUndefined();
  silent.stop();
});
