// The peer API against a real nats-server, both sides in this process: the trusted side as a
// gateway serves it, the peer side as a bridge calls it. No Blender: work, jobs, leases and
// files move through the API exactly as a bridge moves them.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ArtifactStore, BlendStore, ClientRegistry, WorkStream, createEnvelope, openFabricBuckets } from "@blender-fabric/bus";
import { DEFAULT_TENANT_QUOTAS, JobStore, PeerApiClient, PeerApiServer, PeerFiles, PeerJobs, PeerWork, ProjectLease, type WorkDelivery } from "@blender-fabric/engine";
import { inboxPrefixForPeer, newJobRecord, subjectForPeerOp } from "@blender-fabric/protocol";
import { startNatsServer, type NatsServer } from "@blender-fabric/testkit";

let nats: NatsServer;
let trusted: NatsConnection;
let server: PeerApiServer;
let jobs: JobStore;
let work: WorkStream;
let registry: ClientRegistry;
let folder: string;
let artifacts: ArtifactStore;
const peers: NatsConnection[] = [];

/** A peer's connection and client, as a bridge makes them. */
async function peerOf(userId: string, peerUuid: string, incarnation: string) {
  const nc = await connect({ servers: nats.url, inboxPrefix: inboxPrefixForPeer(userId, peerUuid) });
  peers.push(nc);
  return new PeerApiClient(nc, { userId, peerUuid, incarnation });
}

const registration = { client_type: "blender", capabilities: ["rendering"], group_id: null };
/** Each tenant's blend bucket holds at most this much here: two 1.3 MB scenes fit, a third does not. Bytes */
const BLEND_BYTES_PER_TENANT = 3_000_000;

beforeAll(async () => {
  nats = await startNatsServer();
  trusted = await connect({ servers: nats.url });
  const buckets = await openFabricBuckets(trusted, 1, ["clients", "jobs", "projects"]);
  registry = await ClientRegistry.open(buckets.clients, { staleAfterSeconds: 30, evictAfterSeconds: 3600 });
  jobs = new JobStore(buckets.jobs, trusted);
  work = await WorkStream.open(trusted, 1);
  const quotas = { ...DEFAULT_TENANT_QUOTAS, maxUploadBytes: 4 * 1024 * 1024, maxBlendBytes: BLEND_BYTES_PER_TENANT };
  artifacts = await ArtifactStore.open(trusted);
  server = PeerApiServer.start(
    { nc: trusted, registry, jobs, work, artifacts, blends: await BlendStore.open(trusted), projects: buckets.projects, quotas },
    { warn() {}, debug() {} },
  );
  folder = await mkdtemp(join(tmpdir(), "peer-api-"));
});

afterAll(async () => {
  await Promise.allSettled(peers.map((nc) => nc.close()));
  server?.stop();
  registry?.stop();
  await trusted?.close();
  await nats?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** Queues a command for a peer the way the gateway does: record, then work. */
async function queueFor(userId: string, peerUuid: string, jobId: string) {
  const record = newJobRecord({ job_id: jobId, bus_id: userId, originator_uuid: null, target_uuid: peerUuid, kind: "command", command: "get_scene_info" });
  const revision = await jobs.create(record);
  const envelope = createEnvelope({
    userId,
    fromUuid: `server:${userId}`,
    routing: { type: "direct", target_uuid: peerUuid },
    priority: "info",
    jobId,
    payload: { message_type: "command_dispatch", job_id: jobId, command: "get_scene_info", params: {} },
  });
  await work.publishToPeer(userId, peerUuid, envelope, `${jobId}@${revision}`);
}

test("a registered peer takes its work, claims, reports and finishes it; the message leaves the stream", async () => {
  const api = await peerOf("ada", "blender-ada", "inc-1");
  await api.call("register", { registration });
  const peerWork = new PeerWork(api);
  await peerWork.open();
  await queueFor("ada", "blender-ada", "j-ada-1");
  const delivered = await new Promise<WorkDelivery>((resolve) => {
    const subscription = peerWork.consume("peer", (delivery) => {
      subscription.stop();
      resolve(delivery);
    });
  });
  expect(delivered.envelope).toMatchObject({ job_id: "j-ada-1" });
  const peerJobs = new PeerJobs(api);
  const held = await peerJobs.claim("j-ada-1");
  expect(held).toMatchObject({ record: { status: "running", incarnation: "inc-1", target_uuid: "blender-ada" } });
  if ("refused" in held) throw new Error("refused");
  await peerJobs.progress(held, 0.5, "half");
  expect(await peerJobs.finish(held, { status: "completed", result: { ok: 1 } })).toBe(true);
  delivered.done();
  expect(await jobs.get("ada", "j-ada-1")).toMatchObject({ status: "completed", result: { ok: 1 } });
  // A second claim of a finished job is refused, and says how it ended.
  expect(await peerJobs.claim("j-ada-1")).toMatchObject({ refused: { status: "completed" } });
  peerWork.stop();
});

test("an old boot is refused once a new one registered; a job its boot does not hold cannot be finished", async () => {
  const old = await peerOf("ben", "blender-ben", "inc-old");
  await old.call("register", { registration });
  await queueFor("ben", "blender-ben", "j-ben-1");
  const held = await new PeerJobs(old).claim("j-ben-1");
  const fresh = await peerOf("ben", "blender-ben", "inc-new");
  await fresh.call("register", { registration });
  await expect(new PeerJobs(old).claim("j-ben-2")).rejects.toMatchObject({ code: "stale_incarnation" });
  if ("refused" in held) throw new Error("refused");
  // The new boot does not hold the old boot's job.
  await expect(new PeerJobs(fresh).finish(held, { status: "completed" })).rejects.toMatchObject({ code: "forbidden" });
  // An ack subject of a consumer that is not the peer's is refused outright.
  await expect(fresh.call("work_ack", { acks: [{ ack: "$JS.ACK.FABRIC_WORK.someone_else.1.1.1.1.0", action: "ack" }] })).rejects.toMatchObject({ code: "forbidden" });
});

test("a request whose reply subject is not the peer's own inbox gets no answer, wherever it points", async () => {
  const api = await peerOf("cy", "blender-cy", "inc-1");
  await api.call("register", { registration });
  const elsewhere: string[] = [];
  const spy = await connect({ servers: nats.url });
  peers.push(spy);
  spy.subscribe("_INBOX.>", { callback: (_error, message) => void elsewhere.push(message.subject) });
  spy.subscribe("user.>", { callback: (_error, message) => void elsewhere.push(message.subject) });
  await spy.flush();
  const before = server.refusedReplies;
  for (const reply of ["_INBOX.stolen", "user.dan.client.blender-dan", `${inboxPrefixForPeer("dan", "blender-dan")}.x`, `${inboxPrefixForPeer("cy", "blender-cy")}`]) {
    spy.publish(subjectForPeerOp("cy", "blender-cy", "job_get"), JSON.stringify({ job_id: "x" }), { reply });
  }
  await spy.flush();
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(elsewhere).toEqual([]);
  expect(server.refusedReplies - before).toBe(4);
});

test("files go up and down in chunks, checked by hash; an artifact only for a held job; uploads over the limit are refused", async () => {
  const api = await peerOf("eve", "blender-eve", "inc-1");
  await api.call("register", { registration });
  const files = new PeerFiles(api);
  // A .blend of 1.3 MB: several chunks each way.
  const bytes = randomBytes(1_300_000);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const source = join(folder, "scene.blend");
  await writeFile(source, bytes);
  expect(await files.putFile(source)).toEqual({ sha256, size: bytes.byteLength });
  const copy = join(folder, "copy.blend");
  await files.download(sha256, copy);
  expect((await readFile(copy)).equals(bytes)).toBe(true);
  await expect(files.download("0".repeat(64), join(folder, "none.blend"))).rejects.toThrow(/no .blend/);

  await queueFor("eve", "blender-eve", "j-eve-1");
  await expect(files.artifactsOf("j-eve-1").put("j-eve-1", "a.txt", Buffer.from("early"), "text/plain")).rejects.toMatchObject({ code: "forbidden" });
  await new PeerJobs(api).claim("j-eve-1");
  const ref = await files.artifactsOf("j-eve-1").put("j-eve-1", "a.txt", Buffer.from("held"), "text/plain");
  expect(ref).toMatchObject({ size: 4, sha256: createHash("sha256").update("held").digest("hex") });
  // Written once: the same name again is refused, and the stored bytes stay.
  await expect(files.artifactsOf("j-eve-1").put("j-eve-1", "a.txt", Buffer.from("again"), "text/plain")).rejects.toMatchObject({ code: "exists" });
  expect((await artifacts.refsForJob("eve", "j-eve-1")).map((stored) => stored.sha256)).toEqual([ref.sha256]);
  // Only under the held job itself: not under any other job, its farm job included.
  await expect(files.artifactsOf("j-eve-1").put("j-eve-parent", "c.txt", Buffer.from("x"), "text/plain")).rejects.toMatchObject({ code: "forbidden" });
  // Another tenant's job id names this tenant's key: nothing held there.
  await expect(files.artifactsOf("j-other").put("j-other", "b.txt", Buffer.from("x"), "text/plain")).rejects.toMatchObject({ code: "forbidden" });
  await expect(api.call("upload_begin", { kind: "blend", sha256, size: 5 * 1024 * 1024 } as never)).rejects.toMatchObject({ code: "quota_exceeded", message: expect.stringContaining("maxUploadBytes") });
});

test("a project's lease goes to one boot at a time; the scene is saved only by its holder", async () => {
  const first = await peerOf("fay", "blender-fay-1", "inc-1");
  const second = await peerOf("fay", "blender-fay-2", "inc-2");
  for (const api of [first, second]) await api.call("register", { registration: { ...registration, project_id: "p1" } });
  const lease = await ProjectLease.acquire(first, "p1", { staleAfterMs: 60_000 });
  const scene = join(folder, "p1.blend");
  await writeFile(scene, "scene bytes");
  await new PeerFiles(first).putProjectScene("p1", scene);
  await expect(new PeerFiles(second).putProjectScene("p1", scene)).rejects.toMatchObject({ code: "forbidden" });
  const waiting = ProjectLease.acquire(second, "p1", { staleAfterMs: 60_000 });
  await lease.release();
  const taken = await waiting;
  expect(await taken.renew()).toBe(true);
  expect(await lease.renew()).toBe(false);
  const opened = join(folder, "opened.blend");
  expect(await new PeerFiles(second).downloadProjectScene("p1", opened)).toBe(true);
  expect(await readFile(opened, "utf8")).toBe("scene bytes");
});

test("a tenant whose blend store is full gets quota_exceeded naming the limit, and keeps what it stored", async () => {
  const api = await peerOf("gil", "blender-gil", "inc-1");
  await api.call("register", { registration });
  const files = new PeerFiles(api);
  const stored: string[] = [];
  for (const name of ["one", "two"]) {
    const path = join(folder, `${name}.blend`);
    await writeFile(path, randomBytes(1_300_000));
    stored.push((await files.putFile(path)).sha256);
  }
  const third = join(folder, "three.blend");
  await writeFile(third, randomBytes(1_300_000));
  await expect(files.putFile(third)).rejects.toMatchObject({ code: "quota_exceeded", message: expect.stringContaining("maxBlendBytes (3000000 bytes") });
  for (const sha256 of stored) await files.download(sha256, join(folder, `${sha256}.copy`));
  // Another tenant's store is its own.
  const other = await peerOf("hal", "blender-hal", "inc-1");
  await other.call("register", { registration });
  expect(await new PeerFiles(other).putFile(third)).toMatchObject({ size: 1_300_000 });
});
