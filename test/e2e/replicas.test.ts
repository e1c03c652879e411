// Acceptance 1: stateless replicas. Every HTTP request of each client goes to the next
// replica in turn; a replica started later sees the same registry.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

test("a client alternating between two replicas registers, lists, sends and receives", async () => {
  const receiver = await fabric.connectListening("carol");
  const sender = await fabric.connect("carol");

  const registered = await receiver.call("blender_register_client", {
    client_uuid: "llm-receiver",
    client_type: "llm",
    capabilities: ["chat"],
  });
  expect(registered).toMatchObject({ status: "ok", client: { uuid: "llm-receiver", stale: false } });
  await sender.call("blender_register_client", { client_uuid: "llm-sender", client_type: "llm" });

  for (let round = 0; round < 6; round += 1) {
    const listing = await sender.call("blender_list_available_clients");
    expect(listing.ephemeral.map((client: any) => client.uuid).sort()).toEqual(["llm-receiver", "llm-sender"]);
    const sent = await sender.call("blender_send_message", {
      target_uuid: "llm-receiver",
      from_uuid: "llm-sender",
      payload: { round },
    });
    expect(sent).toMatchObject({ status: "ok", targets: ["llm-receiver"] });
    const notification = await receiver.nextNotification((data) => data.payload.round === round);
    expect(notification).toMatchObject({ logger: "_message_bus", level: "info" });
    expect(notification.data).toMatchObject({ message_id: sent.message_id, from_uuid: "llm-sender" });
  }

  // The requests really were spread over both replicas.
  const replicaUrls = new Set(fabric.gateways.map((gateway) => gateway.mcpUrl));
  expect(new Set(sender.requestLog)).toEqual(replicaUrls);
  expect(new Set(receiver.requestLog)).toEqual(replicaUrls);

  const third = await fabric.addGateway();
  const late = await fabric.connect("carol", [third]);
  const listing = await late.call("blender_list_available_clients");
  expect(listing.ephemeral.map((client: any) => client.uuid).sort()).toEqual(["llm-receiver", "llm-sender"]);
  const sent = await late.call("blender_send_message", { target_uuid: "llm-receiver", payload: { via: "third" } });
  expect(sent.targets).toEqual(["llm-receiver"]);
  await receiver.nextNotification((data) => data.payload.via === "third");
});

test("persistent and ephemeral buckets, sticky on re-register; include_stale", async () => {
  const client = await fabric.connect("dave");
  await client.call("blender_register_client", {
    client_uuid: "blender-abc",
    client_type: "blender",
    is_persistent: true,
    capabilities: ["python_execution", "rendering"],
    group_id: "render-cluster",
  });
  const again = await client.call("blender_register_client", {
    client_uuid: "blender-abc",
    client_type: "blender",
    is_persistent: false,
    capabilities: ["rendering"],
  });
  expect(again.client).toMatchObject({ is_persistent: true, capabilities: ["rendering"], group_id: "render-cluster" });
  const listing = await client.call("blender_list_available_clients", { include_stale: true });
  expect(listing).toMatchObject({ status: "ok", user_id: "dave", ephemeral: [] });
  expect(listing.persistent).toHaveLength(1);
  expect(Object.keys(listing.persistent[0]).sort()).toEqual(
    [
      "uuid", "client_type", "label", "is_persistent", "capabilities", "group_id",
      "connected_at", "last_seen", "last_seen_seconds_ago", "stale",
    ].sort(),
  );
  expect(await client.call("blender_unregister_client", { client_uuid: "blender-abc" })).toEqual({
    status: "ok",
    client_uuid: "blender-abc",
  });
  expect(await client.call("blender_unregister_client", { client_uuid: "blender-abc" })).toEqual({
    status: "not_found",
    client_uuid: "blender-abc",
  });
});
