// The job state machine against a real nats-server: every transition is a compare-and-set
// that moves forward only, and the claim is the fence that keeps settled work from running.
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { openFabricBuckets } from "@blender-fabric/bus";
import { JobExistsError, JobStore, RequestLedger, publishJobEvent, watchJob, type HeldJob } from "@blender-fabric/engine";
import { startNatsServer, type NatsServer } from "@blender-fabric/testkit";
import { epochSeconds, newJobRecord, type JobRecord } from "@blender-fabric/protocol";

let nats: NatsServer;
let nc: NatsConnection;
let jobs: JobStore;
let requests: RequestLedger;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const buckets = await openFabricBuckets(nc, 1, ["jobs", "requests"]);
  jobs = new JobStore(buckets.jobs, nc);
  requests = new RequestLedger(buckets.requests);
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const newJob = (jobId: string, fields: Partial<JobRecord> = {}): JobRecord => ({
  ...newJobRecord({ job_id: jobId, bus_id: "alice", originator_uuid: "llm-mine", target_uuid: "blender-1", kind: "script", command: null }),
  ...fields,
});
const holder = { incarnation: "inc-a", peerUuid: "blender-1" };
const claimed = async (jobId: string): Promise<HeldJob> => {
  const claim = await jobs.claim("alice", jobId, holder);
  if ("refused" in claim) throw new Error(`not claimed: ${claim.refused?.status}`);
  return claim;
};

test("a claimed job takes progress and one end; later ends and backward moves are refused", async () => {
  await jobs.create(newJob("j-1"));
  await expect(jobs.create(newJob("j-1"))).rejects.toBeInstanceOf(JobExistsError);
  const held = await claimed("j-1");
  expect(held.record).toMatchObject({ status: "running", incarnation: "inc-a", target_uuid: "blender-1" });
  // Another boot is refused; the same boot's retry (its first reply lost) holds it still.
  expect(await jobs.claim("alice", "j-1", { ...holder, incarnation: "inc-b" })).toMatchObject({ refused: { status: "running" } });
  expect(await jobs.claim("alice", "j-1", holder)).toMatchObject({ record: { status: "running", incarnation: "inc-a" } });
  await jobs.progress(held, 0.5, "half");
  expect(await jobs.get("alice", "j-1")).toMatchObject({ status: "running", progress: 0.5, progress_message: "half" });
  expect(await jobs.finish(held, { status: "completed", result: "42" })).toBe(true);
  expect(await jobs.get("alice", "j-1")).toMatchObject({ status: "completed", result: "42", progress: 1 });
  expect(await jobs.finish(held, { status: "failed", error: "late" })).toBe(false);
  expect(await jobs.report("alice", "j-1", { status: "queued" })).toMatchObject({ changed: false, record: { status: "completed", error: "" } });
  expect(await jobs.lose("alice", "j-1", "inc-a", "gone")).toMatchObject({ status: "completed" });
});

test("cancelled, expired and lost jobs are never claimed; a deadline that passed expires the job", async () => {
  await jobs.create(newJob("j-cancel"));
  expect(await jobs.cancelQueued("alice", "j-cancel", "by the user")).toMatchObject({ status: "cancelled", error: "by the user" });
  expect(await jobs.claim("alice", "j-cancel", holder)).toMatchObject({ refused: { status: "cancelled" } });

  await jobs.create(newJob("j-late", { deadline: epochSeconds() - 1 }));
  expect(await jobs.claim("alice", "j-late", holder)).toMatchObject({ refused: { status: "expired" } });
  expect((await jobs.get("alice", "j-late"))?.error).toContain("Not started within its deadline");

  await jobs.create(newJob("j-not-yet", { deadline: epochSeconds() + 60 }));
  expect(await jobs.expire("alice", "j-not-yet", "too early")).toMatchObject({ status: "queued" });

  await jobs.create(newJob("j-lost"));
  await claimed("j-lost");
  // Only the boot that runs it can lose it.
  expect(await jobs.lose("alice", "j-lost", "inc-other", "wrong boot")).toMatchObject({ status: "running" });
  expect(await jobs.lose("alice", "j-lost", "inc-a", "peer restarted")).toMatchObject({ status: "lost", error: "peer restarted" });
  expect(await jobs.claim("alice", "j-lost", holder)).toMatchObject({ refused: { status: "lost" } });
});

test("of two racing claims and a cancel exactly one wins", async () => {
  for (let round = 0; round < 10; round += 1) {
    const jobId = `j-race-${round}`;
    await jobs.create(newJob(jobId, { deadline: epochSeconds() + 60 }));
    const [first, second, cancel] = await Promise.all([
      jobs.claim("alice", jobId, { incarnation: "inc-1", peerUuid: "blender-1" }),
      jobs.claim("alice", jobId, { incarnation: "inc-2", peerUuid: "blender-2" }),
      jobs.cancelQueued("alice", jobId, "raced"),
    ]);
    const starts = [first, second].filter((claim) => "revision" in claim).length;
    const final = await jobs.get("alice", jobId);
    expect(starts + (final!.status === "cancelled" ? 1 : 0)).toBe(1);
    expect(cancel!.status).toBe(final!.status);
  }
});

test("every transition is announced on the job subject", async () => {
  await jobs.create(newJob("j-announced"));
  const seen: string[] = [];
  const watch = watchJob(nc, "alice", "j-announced", (event) => seen.push(event.status));
  await nc.flush();
  const held = await claimed("j-announced");
  await jobs.progress(held, 0.25, "quarter");
  await jobs.finish(held, { status: "failed", error: "boom", handler_ms: 3 });
  expect(await watch.terminal(5_000)).toMatchObject({ status: "failed", error: "boom", handler_ms: 3 });
  watch.stop();
  expect(seen).toEqual(["running", "progress", "failed"]);
});

test("a client's report never touches a job a bridge claimed; reusing a live job id keeps its record", async () => {
  await jobs.create(newJob("j-claimed"));
  await claimed("j-claimed");
  expect(await jobs.report("alice", "j-claimed", { status: "completed" })).toMatchObject({ changed: false, record: { status: "running" } });
  await expect(jobs.create(newJob("j-claimed", { kind: "message" }), { replace: true })).rejects.toBeInstanceOf(JobExistsError);
  expect(await jobs.get("alice", "j-claimed")).toMatchObject({ status: "running", kind: "script" });

  await jobs.create(newJob("j-reported"));
  expect(await jobs.report("alice", "j-reported", { status: "running" })).toMatchObject({ changed: true });
  expect(await jobs.report("alice", "j-reported", { status: "completed", result: "7" })).toMatchObject({ changed: true, record: { status: "completed", result: "7" } });
  // A finished job id may start over.
  await jobs.create(newJob("j-reported"), { replace: true });
  expect(await jobs.get("alice", "j-reported")).toMatchObject({ status: "queued" });
});

test("jobs are per user and unknown jobs are reported as such", async () => {
  await jobs.create(newJob("shared-id"));
  expect(await jobs.get("bob", "shared-id")).toBeUndefined();
  expect(await jobs.claim("bob", "shared-id", holder)).toEqual({ refused: undefined });
  expect(await jobs.report("bob", "shared-id", { status: "completed" })).toEqual({ record: undefined, changed: false });
});

test("listing a user's jobs ends, and names them all, while one of them reports progress nonstop", async () => {
  // A KV key listing through a consumer never ended while a key was written faster than it
  // was delivered: blender_list_jobs hung for as long as a job reported progress.
  const ids = ["l-1", "l-2", "l-3", "l-4", "l-5"];
  for (const id of ids) await jobs.create(newJob(id, { bus_id: "lena" }));
  const claim = await jobs.claim("lena", "l-3", holder);
  if ("refused" in claim) throw new Error("not claimed");
  let reporting = true;
  const reporter = (async () => {
    for (let step = 0; reporting; step += 1) await jobs.progress(claim, (step % 100) / 100, `step ${step}`);
  })();
  try {
    for (let round = 0; round < 30; round += 1) {
      expect((await jobs.list("lena")).map((job) => job.job_id).sort()).toEqual(ids);
    }
  } finally {
    reporting = false;
    await reporter;
  }
}, 30_000);

test("a request id is claimed once per user; a repeat reads the first claim", async () => {
  const first = await requests.claim("alice", "req-1", { job_id: "j-a", tool: "blender_submit", fingerprint: "f" });
  const again = await requests.claim("alice", "req-1", { job_id: "j-b", tool: "blender_submit", fingerprint: "f" });
  const other = await requests.claim("bob", "req-1", { job_id: "j-c", tool: "blender_submit", fingerprint: "f" });
  expect(first).toMatchObject({ first: true, record: { job_id: "j-a" } });
  expect(again).toMatchObject({ first: false, record: { job_id: "j-a" } });
  expect(other).toMatchObject({ first: true, record: { job_id: "j-c" } });
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
