// Issue 8: the production NATS plane. A real nats-server runs deploy/nats/nats-server.conf
// with the auth.conf that `blender-fabric nats-setup` makes (decentralized JWT auth: an
// operator, the fabric account, user JWTs with permissions); peers' credentials come from
// `blender-fabric nats-creds`. Tenant anna's bridge runs with only its credential;
// everything of tenant bert is tried with that credential and refused.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { InboxStore, OPERATOR_INBOX_PREFIX, createFabricAccounts, mintUserCreds } from "@blender-fabric/bus";
import { BucketName, StreamName, consumerForPeer, inboxPrefixForPeer, objectStoreForUser, subjectForPeerWork } from "@blender-fabric/protocol";
import {
  FabricTestClient,
  mintToken,
  startBridgeProcess,
  startGatewayProcess,
  type BridgeProcess,
  type GatewayProcess,
} from "@blender-fabric/testkit";
import { cli, connectWithCreds, refused, startProductionNats } from "../support/production-nats.js";

let dir: string;
let nats: { url: string; stop(): Promise<void> };
let gateway: GatewayProcess;
let bridge: BridgeProcess;
let trusted: NatsConnection;
const ANNA = { userId: "anna", clientUuid: "blender-anna", groupId: "farm-anna", farmWorker: true };

/** A peer credential of anna's, minted by the CLI; returns its path. */
async function annaCreds(name: string, expires = "1h"): Promise<string> {
  const path = join(dir, `${name}.creds`);
  await cli("nats-creds", "--accounts", join(dir, "accounts.json"), "--user", "anna", "--uuid", ANNA.clientUuid, "--group", ANNA.groupId, "--expires", expires, "--out", path);
  return path;
}

const connectWith = (path: string, inboxPrefix?: string) => connectWithCreds(nats.url, path, inboxPrefix);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fabric-tenants-"));
  nats = await startProductionNats(dir);
  const gatewayCreds = join(dir, "gateway.creds");
  // The gateway may mint peers' credentials (POST /nats/credentials); short-lived here, so the
  // test sees a bridge renew its own.
  const accountSeedFile = join(dir, "account.seed");
  await writeFile(accountSeedFile, (JSON.parse(await readFile(join(dir, "accounts.json"), "utf8")) as { accountSeed: string }).accountSeed, { mode: 0o600 });
  gateway = await startGatewayProcess({
    natsUrls: [nats.url],
    env: { FABRIC_NATS_CREDS: gatewayCreds, FABRIC_NATS_ACCOUNT_SEED_FILE: accountSeedFile, FABRIC_PEER_CREDENTIAL_SECONDS: "6" },
  });
  const credential = await annaCreds("anna");
  bridge = await startBridgeProcess({ natsUrls: [nats.url], user: "anna", uuid: ANNA.clientUuid, groupId: ANNA.groupId, env: { FABRIC_NATS_CREDS: credential } });
  trusted = await connectWith(gatewayCreds);
  // Tenant bert's things, written by the trusted tier.
  const kvm = new Kvm(trusted);
  await (await kvm.open(BucketName.Clients)).put("bert.blender-bert", JSON.stringify({ uuid: "blender-bert" }));
  await (await kvm.open(BucketName.Jobs)).put("bert.j-bert", JSON.stringify({ job_id: "j-bert" }));
  await jetstream(trusted).publish(subjectForPeerWork("bert", "blender-bert"), JSON.stringify({ work: "bert's" }));
  const bertFiles = await new Objm(trusted).create(objectStoreForUser(BucketName.Artifacts, "bert"));
  await bertFiles.putBlob({ name: "bert/j-bert/secret.txt" }, new TextEncoder().encode("bert's secret"));
}, 120_000);

afterAll(async () => {
  await trusted?.close();
  await bridge?.stop();
  await gateway?.stop();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("with only its tenant credential, a bridge completes a dispatch and a farm task that stores a file", async () => {
  const llm = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: "anna" }) });
  try {
    expect(await llm.call("blender_get_scene_info", { target_uuid: ANNA.clientUuid })).toMatchObject({ status: "completed" });
    const script = "import os\nopen(os.path.join(output_dir, 'out.txt'), 'w').write('anna')";
    const farm = await llm.call("blender_farm_map", { script, items: [1], group_id: ANNA.groupId });
    expect(await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 })).toMatchObject({ status: "completed" });
    expect(await llm.call("blender_list_artifacts", { job_id: farm.job_id })).toMatchObject({ total: 1 });
  } finally {
    await llm.close();
  }
}, 90_000);

test("tenant anna's credential can neither read nor write tenant bert's subjects, records, work or files", async () => {
  const anna = await connectWith(join(dir, "anna.creds"), inboxPrefixForPeer("anna", ANNA.clientUuid));
  try {
    // Subscribing to bert's subjects and publishing on them.
    const overheard: string[] = [];
    const subscribeErrors: string[] = [];
    anna.subscribe("user.bert.>", {
      callback: (error, message) => void (error ? subscribeErrors.push(error.message) : overheard.push(message.subject)),
    });
    const arrived: string[] = [];
    trusted.subscribe("user.bert.>", { callback: (_error, message) => void arrived.push(message.subject) });
    await trusted.flush();
    anna.publish("user.bert.client.blender-bert", JSON.stringify({ message_type: "command_dispatch" }));
    await anna.flush().catch(() => {});
    trusted.publish("user.bert.broadcast", "for bert only");
    await trusted.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(overheard).toEqual([]);
    expect(subscribeErrors.join()).toMatch(/Permissions Violation for Subscription/);
    expect(arrived).toEqual(["user.bert.broadcast"]);

    // Registry and job records, read and written.
    const kvm = new Kvm(await jetstream(anna, { timeout: 2_000 }));
    // A peer holds no JetStream rights at all (test/security/hostile-tenant.test.ts tries every kind).
    const clients = await kvm.open(BucketName.Clients, { allow_direct: true });
    const jobs = await kvm.open(BucketName.Jobs, { allow_direct: true });
    expect(await refused(clients.get("bert.blender-bert"))).toBe(true);
    expect(await refused(jobs.get("bert.j-bert"))).toBe(true);
    expect(await refused(clients.put("bert.blender-bert", "{}"))).toBe(true);
    expect(await refused(jobs.put("bert.j-bert", "{}"))).toBe(true);
    // Not even its own tenant's records: the peer API is its only way to the fabric's state.
    expect(await refused(clients.get(`anna.${ANNA.clientUuid}`))).toBe(true);

    // No JetStream API at all: not even the account info every JetStream client asks first.
    expect(await refused(jetstreamManager(anna, { timeout: 2_000 }))).toBe(true);
    const bertConsumer = consumerForPeer("bert", "blender-bert");
    const config = { durable_name: bertConsumer, filter_subject: subjectForPeerWork("bert", "blender-bert"), ack_policy: "explicit" as const };
    await (await jetstreamManager(trusted)).consumers.add(StreamName.Work, config);
    expect(await refused(jetstream(anna, { timeout: 2_000 }).consumers.get(StreamName.Work, bertConsumer).then((c) => c.next({ expires: 1_000 })))).toBe(true);

    // Bert's durable inbox (every bus message of every tenant is kept in FABRIC_INBOX): a
    // direct get of his broadcast, with the stream really there and holding it.
    await InboxStore.open(trusted, 1);
    trusted.publish("user.bert.broadcast", JSON.stringify({ secret: "bert's" }));
    await trusted.flush();
    expect(await refused(anna.request(`$JS.API.DIRECT.GET.${StreamName.Inbox}`, JSON.stringify({ last_by_subj: "user.bert.broadcast" }), { timeout: 2_000 }))).toBe(true);
    expect(await refused(anna.request(`$JS.API.STREAM.MSG.GET.${StreamName.Inbox}`, JSON.stringify({ last_by_subj: "user.bert.broadcast" }), { timeout: 2_000 }))).toBe(true);

    // Bert's files.
    expect(await refused(new Objm(anna).open(objectStoreForUser(BucketName.Artifacts, "bert")).then((store) => store.getBlob("bert/j-bert/secret.txt")))).toBe(true);
  } finally {
    await anna.close();
  }
}, 60_000);

test("the operations credential watches all traffic and KV, and every publish is refused", async () => {
  const operator = await connectWith(join(dir, "operator.creds"), OPERATOR_INBOX_PREFIX);
  try {
    const watched: string[] = [];
    operator.subscribe("user.>", { callback: (_error, message) => void watched.push(message.subject) });
    await operator.flush();
    const clients = await new Kvm(await jetstream(operator, { timeout: 2_000 })).open(BucketName.Clients, { allow_direct: true });
    expect(await clients.get("bert.blender-bert")).toMatchObject({ key: "bert.blender-bert" });
    const keys: string[] = [];
    for await (const key of await clients.keys()) keys.push(key);
    expect(keys).toContain(`anna.${ANNA.clientUuid}`);

    trusted.publish("user.anna.broadcast", "seen by operations");
    await trusted.flush();
    const arrived: string[] = [];
    trusted.subscribe("user.>", { callback: (_error, message) => void arrived.push(message.subject) });
    await trusted.flush();
    operator.publish("user.anna.client.blender-anna", "{}");
    await operator.flush().catch(() => {});
    expect(await refused(clients.put("anna.x", "{}"))).toBe(true);
    // Watching live traffic is its job; reading tenants' stored inboxes is not.
    expect(await refused(operator.request(`$JS.API.DIRECT.GET.${StreamName.Inbox}`, JSON.stringify({ last_by_subj: "user.anna.broadcast" }), { timeout: 2_000 }))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(watched).toContain("user.anna.broadcast");
    expect(arrived).toEqual([]);
  } finally {
    await operator.close();
  }
}, 30_000);

test("a minted credential stops connecting once it has expired, and a credential of another operator never does", async () => {
  const short = await annaCreds("short", "2s");
  await (await connectWith(short, inboxPrefixForPeer("anna", ANNA.clientUuid))).close();
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect(await refused(connectWith(short, inboxPrefixForPeer("anna", ANNA.clientUuid)))).toBe(true);
  const stranger = await createFabricAccounts();
  const foreign = join(dir, "foreign.creds");
  await writeFile(foreign, await mintUserCreds(stranger.accountSeed, { name: "foreign" }), { mode: 0o600 });
  expect(await refused(connectWith(foreign))).toBe(true);
  await expect(connect({ servers: nats.url, reconnect: false, timeout: 3_000 })).rejects.toThrow();
});

test("a bridge with only a blender-client token gets its tenant credential from the gateway, and renews it before it expires", async () => {
  const post = async (token: string | undefined, body: unknown) =>
    fetch(`${gateway.baseUrl}/nats/credentials`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  expect((await post(undefined, { client_uuid: "x" })).status).toBe(401);
  expect((await post(await mintToken({ sub: "anna", role: "llm-client" }), { client_uuid: "x" })).status).toBe(403);
  const bad = await post(await mintToken({ sub: "anna", role: "blender-client" }), { client_uuid: "a.b" });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ field: "client_uuid" });

  const minted = await startBridgeProcess({
    natsUrls: [nats.url],
    user: "anna",
    uuid: "blender-anna-2",
    env: { FABRIC_GATEWAY_URL: gateway.baseUrl, FABRIC_TOKEN: await mintToken({ sub: "anna", role: "blender-client" }) },
  });
  try {
    const llm = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: "anna" }) });
    try {
      expect(await llm.call("blender_get_scene_info", { target_uuid: "blender-anna-2" })).toMatchObject({ status: "completed" });
      // Past the first credential's 6 s: the bridge reconnected with a renewed one.
      await new Promise((resolve) => setTimeout(resolve, 9_000));
      expect(await llm.call("blender_get_scene_info", { target_uuid: "blender-anna-2" })).toMatchObject({ status: "completed" });
    } finally {
      await llm.close();
    }
  } finally {
    await minted.stop();
  }
}, 120_000);
