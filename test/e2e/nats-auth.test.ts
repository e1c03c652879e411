// Issue 8 (first part): no unauthenticated NATS. The credentials `npm start` makes (the same
// function, on a temporary data directory), a real nats-server that requires them, and the
// gateway and a bridge with real Blender working through them.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, nkeyAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { createUser } from "@nats-io/nkeys";
import { authenticatorFor, ensureLocalCredentials, type LocalCredentials } from "@blender-fabric/bus";
import {
  FabricTestClient,
  mintToken,
  startBridgeProcess,
  startGatewayProcess,
  startNatsServer,
  type BridgeProcess,
  type GatewayProcess,
  type NatsServer,
} from "@blender-fabric/testkit";

let dataDir: string;
let credentials: LocalCredentials;
let nats: NatsServer;
let gateway: GatewayProcess;
let bridge: BridgeProcess;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "fabric-auth-"));
  credentials = await ensureLocalCredentials(dataDir);
  nats = await startNatsServer({ authConfig: credentials.authorization });
  gateway = await startGatewayProcess({ natsUrls: [nats.url], env: { FABRIC_NATS_NKEY: credentials.gateway } });
  bridge = await startBridgeProcess({ natsUrls: [nats.url], user: "ada", uuid: "blender-ada", env: { FABRIC_NATS_NKEY: credentials.bridge } });
}, 120_000);

afterAll(async () => {
  await bridge?.stop();
  await gateway?.stop();
  await nats?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const connectAs = async (authenticator?: Awaited<ReturnType<typeof authenticatorFor>>) =>
  connect({ servers: nats.url, authenticator, reconnect: false, timeout: 3_000 });

test("the credentials are files only their owner can read, and a second start keeps them", async () => {
  for (const file of [credentials.gateway, credentials.bridge, credentials.pool, credentials.operator]) {
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  }
  expect((await stat(join(dataDir, "credentials"))).mode & 0o777).toBe(0o700);
  expect(await ensureLocalCredentials(dataDir)).toEqual(credentials);
});

test("an unauthenticated connection is refused, and so is a key the server does not know", async () => {
  await expect(connectAs()).rejects.toThrow(/Authorization Violation/i);
  const stranger = createUser();
  await expect(connectAs(nkeyAuthenticator(stranger.getSeed()))).rejects.toThrow(/Authorization Violation/i);
});

test("a bridge started without a credential says in one line what it needs, and exits", async () => {
  const failed = await startBridgeProcess({ natsUrls: [nats.url], user: "ada", uuid: "blender-no-key" }).then(
    () => "it started",
    (error: unknown) => String(error),
  );
  expect(failed).toMatch(/bridge blender-no-key: cannot connect to NATS at .* with no credential: .*Authorization Violation.*FABRIC_NATS_NKEY \(npm start writes \.fabric\/credentials\/bridge\.nk\)/iu);
  expect(failed).not.toMatch(/^\s+at /mu); // no stack trace
}, 60_000);

test("the gateway and the bridge work through their credentials", async () => {
  const client = await FabricTestClient.connect({ mcpUrls: [gateway.mcpUrl], token: await mintToken({ sub: "ada" }) });
  try {
    const answer = await client.call("blender_get_scene_info", { target_uuid: "blender-ada" });
    expect(answer).toMatchObject({ status: "completed", target_uuid: "blender-ada" });
  } finally {
    await client.close();
  }
}, 60_000);

test("the operator credential watches user traffic but every publish is refused", async () => {
  const operator: NatsConnection = await connectAs(await authenticatorFor({ nkeySeedFile: credentials.operator }));
  const trusted: NatsConnection = await connectAs(await authenticatorFor({ nkeySeedFile: credentials.gateway }));
  try {
    const watched: string[] = [];
    operator.subscribe("user.>", { callback: (_error, message) => void watched.push(message.subject) });
    await operator.flush();
    const arrived: string[] = [];
    trusted.subscribe("user.ada.>", { callback: (_error, message) => void arrived.push(message.subject) });
    await trusted.flush();
    // The operator's publish (a hand-made dispatch) goes nowhere.
    operator.publish("user.ada.client.blender-ada", JSON.stringify({ message_type: "command_dispatch" }));
    await operator.flush().catch(() => {});
    trusted.publish("user.ada.broadcast", "seen by the operator");
    await trusted.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(arrived).toEqual(["user.ada.broadcast"]);
    expect(watched).toContain("user.ada.broadcast");
  } finally {
    await operator.close().catch(() => {});
    await trusted.close();
  }
});
