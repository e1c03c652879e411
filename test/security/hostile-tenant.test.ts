// Issue 16: a hostile tenant against the production NATS plane. A real nats-server runs
// deploy/nats/nats-server.conf with the auth.conf of `blender-fabric nats-setup`; each tenant's
// bridge runs with only the peer credential `blender-fabric nats-creds` mints. With tenant
// anna's credential (what code run in anna's Blender could steal from its bridge), every
// attack class of the issue is tried against tenant bert; each is refused or harmless, and
// bert's dispatch and farm work still complete with bert's data intact.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import {
  BucketName,
  MAX_WORK_BATCH,
  PEER_OPS,
  StreamName,
  consumerForPeer,
  inboxPrefixForPeer,
  objectStoreForUser,
  subjectForClient,
  subjectForPeerOp,
  subjectForPeerWork,
} from "@blender-fabric/protocol";
import {
  FabricTestClient,
  mintToken,
  startBridgeProcess,
  startGatewayProcess,
  type BridgeProcess,
  type GatewayProcess,
} from "@blender-fabric/testkit";
import { cli, connectWithCreds, refused, startProductionNats } from "../support/production-nats.js";

const ANNA = { user: "anna", uuid: "blender-anna", group: "farm" };
const BERT = { user: "bert", uuid: "blender-bert", group: "farm" };

let dir: string;
let nats: { url: string; stop(): Promise<void> };
let gateway: GatewayProcess;
let bridges: BridgeProcess[] = [];
let trusted: NatsConnection;
/** Tenant anna's stolen peer credential, connected the way its bridge connects. */
let anna: NatsConnection;
/** Permission errors the server sent to anna's connection. */
const annaErrors: string[] = [];

async function peerCreds(tenant: typeof ANNA): Promise<string> {
  const path = join(dir, `${tenant.user}.creds`);
  await cli("nats-creds", "--accounts", join(dir, "accounts.json"), "--user", tenant.user, "--uuid", tenant.uuid, "--group", tenant.group, "--expires", "1h", "--out", path);
  return path;
}

const connectWith = (path: string, inboxPrefix?: string) => connectWithCreds(nats.url, path, inboxPrefix);
const settle = () => new Promise((resolve) => setTimeout(resolve, 400));

/** Everything bert's subjects, inboxes and peer API carry, as the trusted tier sees it. */
function watchBert() {
  const seen: string[] = [];
  for (const subject of ["user.bert.>", "_INBOX_peer.bert.>", "fabric.peer.bert.>"]) {
    trusted.subscribe(subject, { callback: (_error, message) => void seen.push(message.subject) });
  }
  return seen;
}

/** What the trusted tier holds of bert: its registry entry, its job, its file, the stream names. */
async function bertState() {
  const kvm = new Kvm(trusted);
  const client = await (await kvm.open(BucketName.Clients)).get(`bert.${BERT.uuid}`);
  const job = await (await kvm.open(BucketName.Jobs)).get("bert.j-bert");
  const files = await new Objm(trusted).open(objectStoreForUser(BucketName.Artifacts, "bert"));
  const secret = await files.getBlob("bert/j-bert/secret.txt");
  const streams: string[] = [];
  for await (const info of (await jetstreamManager(trusted)).streams.list()) streams.push(info.config.name);
  return { client: client?.operation, job: job?.string(), secret: secret ? new TextDecoder().decode(secret) : null, streams: streams.sort() };
}

let before: Awaited<ReturnType<typeof bertState>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fabric-hostile-"));
  nats = await startProductionNats(dir);
  gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_NATS_CREDS: join(dir, "gateway.creds") } });
  trusted = await connectWith(join(dir, "gateway.creds"));
  for (const tenant of [ANNA, BERT]) {
    bridges.push(
      await startBridgeProcess({ natsUrls: [nats.url], user: tenant.user, uuid: tenant.uuid, groupId: tenant.group, env: { FABRIC_NATS_CREDS: await peerCreds(tenant) } }),
    );
  }
  // Bert's data, written by the trusted tier.
  await (await new Kvm(trusted).open(BucketName.Jobs)).put("bert.j-bert", JSON.stringify({ job_id: "j-bert", secret: "bert's" }));
  const bertFiles = await new Objm(trusted).create(objectStoreForUser(BucketName.Artifacts, "bert"));
  await bertFiles.putBlob({ name: "bert/j-bert/secret.txt" }, new TextEncoder().encode("bert's secret"));
  before = await bertState();
  anna = await connectWith(join(dir, "anna.creds"), inboxPrefixForPeer(ANNA.user, ANNA.uuid));
  void (async () => {
    for await (const status of anna.status()) if (status.type === "error") annaErrors.push(String(status.error));
  })();
}, 180_000);

afterAll(async () => {
  await anna?.close();
  await trusted?.close();
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await gateway?.stop();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("cross-tenant subscribe and publish are refused", async () => {
  const seen = watchBert();
  await trusted.flush();
  const overheard: string[] = [];
  for (const subject of ["user.bert.>", "_INBOX_peer.bert.>", "fabric.peer.bert.>", "user.*.client.*", ">", "$JS.>", "$KV.>"]) {
    anna.subscribe(subject, { callback: (error, message) => void (error ? undefined : overheard.push(message.subject)) });
  }
  await anna.flush().catch(() => {});
  trusted.publish(subjectForClient("bert", BERT.uuid), "for bert only");
  for (const subject of [subjectForClient("bert", BERT.uuid), "user.bert.broadcast", subjectForPeerOp("bert", BERT.uuid, "claim"), "_INBOX_peer.bert.blender-bert.x", subjectForPeerWork("bert", BERT.uuid)]) {
    anna.publish(subject, JSON.stringify({ message_type: "command_dispatch", command: "execute_code", job_id: "evil" }));
  }
  await anna.flush().catch(() => {});
  await settle();
  expect(overheard).toEqual([]);
  expect(seen).toEqual([subjectForClient("bert", BERT.uuid)]);
  expect(annaErrors.join("\n")).toMatch(/Permissions Violation for Subscription to "user\.bert\.>"/);
  expect(annaErrors.join("\n")).toMatch(/Permissions Violation for Publish to "user\.bert\.client\.blender-bert"/);
});

test("every JetStream API call is refused, whatever its body names, and changes nothing", async () => {
  const api = (subject: string, body: unknown = {}) => refused(anna.request(subject, JSON.stringify(body), { timeout: 1_500 }));
  const attacks: [string, unknown][] = [
    ["$JS.API.INFO", {}],
    // A stream of its own that copies everyone's: sources and extra subjects.
    ["$JS.API.STREAM.CREATE.KV_evil", { name: "KV_evil", subjects: ["user.>", "$KV.>"], sources: [{ name: `KV_${BucketName.Jobs}` }, { name: StreamName.Work }] }],
    [`$JS.API.STREAM.CREATE.OBJ_${objectStoreForUser(BucketName.Artifacts, "anna")}`, { name: `OBJ_${objectStoreForUser(BucketName.Artifacts, "anna")}`, sources: [{ name: `OBJ_${objectStoreForUser(BucketName.Artifacts, "bert")}` }] }],
    [`$JS.API.STREAM.UPDATE.KV_${BucketName.Jobs}`, { name: `KV_${BucketName.Jobs}`, subjects: ["$KV.fabric_jobs.>", "user.>"] }],
    // A push consumer on its own tenant's data, delivering to bert's Blender.
    [`$JS.API.CONSUMER.CREATE.${StreamName.Work}`, { stream_name: StreamName.Work, config: { deliver_subject: subjectForClient("bert", BERT.uuid), filter_subject: "user.anna.work.>" } }],
    [`$JS.API.CONSUMER.CREATE.${StreamName.Work}.${consumerForPeer("anna", ANNA.uuid)}.user.anna.work.peer.${ANNA.uuid}`, { stream_name: StreamName.Work, config: { durable_name: consumerForPeer("anna", ANNA.uuid), deliver_subject: subjectForClient("bert", BERT.uuid) } }],
    // Reading everyone's ids, records and work.
    [`$JS.API.STREAM.INFO.${StreamName.Work}`, { subjects_filter: ">" }],
    [`$JS.API.STREAM.INFO.KV_${BucketName.Clients}`, { subjects_filter: ">" }],
    [`$JS.API.STREAM.MSG.GET.KV_${BucketName.Jobs}`, { last_by_subj: "$KV.fabric_jobs.bert.j-bert" }],
    [`$JS.API.DIRECT.GET.KV_${BucketName.Jobs}`, { last_by_subj: "$KV.fabric_jobs.bert.j-bert" }],
    [`$JS.API.DIRECT.GET.KV_${BucketName.Jobs}.$KV.fabric_jobs.anna.x`, {}],
    [`$JS.API.CONSUMER.MSG.NEXT.${StreamName.Work}.${consumerForPeer("bert", BERT.uuid)}`, { batch: 1 }],
    // Wiping.
    [`$JS.API.STREAM.PURGE.KV_${BucketName.Jobs}`, {}],
    [`$JS.API.STREAM.PURGE.${StreamName.Work}`, { filter: "user.bert.>" }],
    [`$JS.API.STREAM.DELETE.KV_${BucketName.Clients}`, {}],
    [`$JS.API.STREAM.MSG.DELETE.KV_${BucketName.Jobs}`, { seq: 1 }],
    [`$JS.API.CONSUMER.DELETE.${StreamName.Work}.${consumerForPeer("bert", BERT.uuid)}`, {}],
  ];
  for (const [subject, body] of attacks) expect([subject, await api(subject, body)]).toEqual([subject, true]);
  expect(annaErrors.join("\n")).toMatch(/Permissions Violation for Publish to "\$JS\.API\.STREAM\.CREATE\.KV_evil"/);
  expect(await bertState()).toEqual(before);
}, 60_000);

test("a Nats-Rollup header, or any header, on every subject the peer may publish purges nothing", async () => {
  const rollup = headers();
  rollup.set("Nats-Rollup", "all");
  rollup.set("Nats-Expected-Last-Sequence", "0");
  rollup.set("Nats-Msg-Id", "x");
  const targets = [
    ...PEER_OPS.map((op) => subjectForPeerOp("anna", ANNA.uuid, op)),
    `fabric.peer.anna.${ANNA.uuid}.upload.x`,
    `$KV.${BucketName.Jobs}.anna.x`,
    `$KV.${BucketName.Clients}.anna.${ANNA.uuid}`,
    subjectForPeerWork("anna", ANNA.uuid),
  ];
  for (const subject of targets) anna.publish(subject, "{}", { headers: rollup });
  await anna.flush().catch(() => {});
  await settle();
  expect(await bertState()).toEqual(before);
  // Anna's own registration survives too: the peer API subjects are no stream's.
  expect((await (await new Kvm(trusted).open(BucketName.Clients)).get(`anna.${ANNA.uuid}`))?.operation).toBe("PUT");
});

test("a peer API request whose reply subject points at another tenant is dropped, for every operation", async () => {
  const seen = watchBert();
  await trusted.flush();
  for (const op of PEER_OPS) {
    for (const reply of [subjectForClient("bert", BERT.uuid), `${inboxPrefixForPeer("bert", BERT.uuid)}.stolen`, "user.bert.broadcast"]) {
      anna.publish(subjectForPeerOp("anna", ANNA.uuid, op), JSON.stringify({ incarnation: "x", job_id: "j-bert", kind: "blend", sha256: "0".repeat(64) }), { reply });
    }
  }
  await anna.flush().catch(() => {});
  await settle();
  expect(seen).toEqual([]);
});

test("through its own peer API a tenant reaches only its own records, work and leases", async () => {
  const call = async (op: (typeof PEER_OPS)[number], body: object) => (await anna.request(subjectForPeerOp("anna", ANNA.uuid, op), JSON.stringify(body), { timeout: 5_000 })).json<Record<string, any>>();
  const registered = await (await new Kvm(trusted).open(BucketName.Clients)).get(`anna.${ANNA.uuid}`);
  const incarnation = (registered!.json() as { incarnation: string }).incarnation;
  // Bert's job id on anna's subject names anna's key space: nothing there.
  expect(await call("job_get", { job_id: "j-bert" })).toEqual({ ok: true, record: null });
  // An ack subject of bert's consumer is not anna's to acknowledge.
  const bertAck = `$JS.ACK.${StreamName.Work}.${consumerForPeer("bert", BERT.uuid)}.1.1.1.1.0`;
  expect(await call("work_ack", { incarnation, acks: [{ ack: bertAck, action: "ack" }] })).toMatchObject({ ok: false, code: "forbidden" });
  // A pull asks for a bounded batch of the peer's own work only: more is refused as invalid.
  expect(await call("work_next", { incarnation, lane: "peer", wait_ms: 1_000, batch: MAX_WORK_BATCH + 1 })).toMatchObject({ ok: false, code: "invalid" });
  // A finish of a job this boot does not hold is refused; so is a boot that is not registered.
  expect(await call("finish", { incarnation, job_id: "j-bert", outcome: { status: "completed" } })).toMatchObject({ ok: false, code: "not_found" });
  expect(await call("claim", { incarnation: "inc-forged", job_id: "j-1" })).toMatchObject({ ok: false, code: "stale_incarnation" });
  // An upload over the tenant's limit is refused, naming the limit.
  expect(await call("upload_begin", { kind: "blend", incarnation, sha256: "0".repeat(64), size: 3 * 1024 ** 3 })).toMatchObject({ ok: false, code: "quota_exceeded", error: expect.stringMatching(/maxUploadBytes/) });
  expect(await call("upload_begin", { kind: "artifact", incarnation, job_id: "j-bert", held_job_id: "j-bert", name: "x", content_type: "text/plain", size: 1 })).toMatchObject({ ok: false, code: "forbidden" });
  expect(await bertState()).toEqual(before);
});

test("a forged dispatch on a peer's core subject is never run, even when the trusted tier's connection publishes it", async () => {
  const forged = (jobId: string) =>
    JSON.stringify({
      v: 1,
      message_id: `m-${jobId}`,
      job_id: jobId,
      bus_id: "bert",
      from_uuid: "llm-evil",
      target_uuid: BERT.uuid,
      routing: { type: "direct", target_uuid: BERT.uuid },
      priority: "critical",
      payload: { message_type: "command_dispatch", job_id: jobId, command: "execute_code", params: { code: "import bpy\nbpy.ops.mesh.primitive_monkey_add()\nbpy.context.object.name = 'Forged'" } },
      timestamp: Date.now() / 1000,
    });
  trusted.publish(subjectForClient("bert", BERT.uuid), forged("j-forged-1"));
  trusted.publish("user.bert.broadcast", forged("j-forged-2"));
  await trusted.flush();
  const bert = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: "bert" }) });
  try {
    // The scene is read after the forged messages arrived (a dispatch queues behind nothing they started).
    const scene = await bert.call("blender_get_scene_info", { target_uuid: BERT.uuid });
    expect(scene).toMatchObject({ status: "completed" });
    expect(JSON.stringify(scene.result)).not.toContain("Forged");
    expect(await bert.call("blender_job_status", { job_id: "j-forged-1" })).toMatchObject({ status: "not_found" });
  } finally {
    await bert.close();
  }
}, 60_000);

test("after every attack, bert's dispatch and farm work complete and its data is intact", async () => {
  const bert = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: "bert" }) });
  try {
    expect(await bert.call("blender_execute_code", { code: "print('bert is fine')", target_uuid: BERT.uuid })).toMatchObject({ status: "completed" });
    const script = "import os\nopen(os.path.join(output_dir, f'bert-{items[0]}.txt'), 'w').write('bert')";
    const farm = await bert.call("blender_farm_map", { script, items: [1, 2], group_id: BERT.group });
    expect(await bert.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 })).toMatchObject({ status: "completed" });
    const listed = await bert.call("blender_list_artifacts", { job_id: farm.job_id });
    expect(listed).toMatchObject({ total: 2 });
    // Bert's farm ran on bert's peer only, though anna's peer is in a group of the same name.
    const status = await bert.call("blender_job_status", { job_id: farm.job_id });
    expect(JSON.stringify(status.farm)).not.toContain(ANNA.uuid);
  } finally {
    await bert.close();
  }
  expect(await bertState()).toMatchObject({ client: "PUT", job: before.job, secret: "bert's secret" });
}, 120_000);
