// Acceptance 6: killing one node of a 3-node NATS cluster does not lose the registry, and
// the gateways carry on without a restart.
import { afterAll, beforeAll, expect, test } from "vitest";
import { waitFor } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({ gateways: 2, cluster: true });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

const FARM = ["blender-farm-01", "blender-farm-02", "blender-farm-03"];
const uuidsOf = (clients: { uuid: string }[]) => clients.map((client) => client.uuid).sort();

test("a node dies mid-run; registry, routing and sessions survive", async () => {
  const receiver = await fabric.connectListening("judy");
  const sender = await fabric.connect("judy");
  for (const uuid of FARM) {
    await sender.call("blender_register_client", {
      client_uuid: uuid,
      client_type: "blender",
      is_persistent: true,
      group_id: "render-cluster",
    });
  }
  await receiver.call("blender_register_client", { client_uuid: "llm-watch", client_type: "llm" });

  // Kill the node the first replica is connected to, so it must fail over.
  const natsServerOf = async (index: number) =>
    ((await (await fetch(`${fabric.gateways[index]!.baseUrl}/readyz`)).json()) as { nats_server: string }).nats_server;
  const before = await natsServerOf(0);
  const victim = fabric.natsNodes.find((node) => node.name === before);
  expect(victim).toBeDefined();
  await victim!.kill();

  // The first replica moves to a surviving node by itself. (Core NATS delivery is
  // at-most-once: a message published while a replica is between nodes may be lost; the
  // registry and job records are the durable parts, in JetStream.)
  // While it reconnects it names no server at all; wait for it to name a surviving one.
  const survivors = fabric.natsNodes.filter((node) => node !== victim).map((node) => node.name);
  await waitFor("the first replica to fail over", async () => survivors.includes(await natsServerOf(0)), 20_000, 100);

  // Sessions, routing and delivery carry on through both replicas.
  for (let round = 0; round < 5; round += 1) {
    const listing = await sender.call("blender_list_available_clients");
    expect(uuidsOf(listing.persistent)).toEqual(FARM);
    const sent = await sender.call("blender_send_message", { target_uuid: "llm-watch", payload: { round } });
    expect(sent, JSON.stringify(sent)).toMatchObject({ status: "ok", targets: ["llm-watch"] });
    await receiver.nextNotification((data) => data.payload.round === round, 15_000);
  }

  // The registry itself survived in the remaining replicas: a replica started after the
  // kill, with nothing in memory, reads it from KV.
  const late = await fabric.connect("judy", [await fabric.addGateway()]);
  expect(uuidsOf((await late.call("blender_list_available_clients")).persistent)).toEqual(FARM);

  // New writes are accepted and, once the cluster has settled, every replica shows them.
  const registered = await sender.call("blender_register_client", { client_uuid: "blender-farm-04", client_type: "blender" });
  expect(registered, JSON.stringify(registered)).toMatchObject({ status: "ok" });
  for (const gateway of fabric.gateways) {
    const pinned = await fabric.connect("judy", [gateway]);
    await waitFor(`blender-farm-04 on ${gateway.baseUrl}`, async () => {
      const listing = await pinned.call("blender_list_available_clients");
      return uuidsOf(listing.ephemeral).includes("blender-farm-04");
    }, 20_000, 250);
  }
});
