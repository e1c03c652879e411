// Garbage on the bus (a non-JSON message on a user's subject, a corrupt KV value) must not
// stop a replica from serving everyone else.
import { afterAll, beforeAll, expect, test } from "vitest";
import { Kvm } from "@nats-io/kv";
import { BucketName, keyForClient, subjectForBroadcast, subjectForClient, subjectForJob } from "@blender-fabric/protocol";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({ gateways: 1 });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

test("malformed messages and records are ignored; delivery and listing go on", async () => {
  const listener = await fabric.connectListening("vera");
  await listener.call("blender_register_client", { client_uuid: "llm-listener", client_type: "llm" });
  const sender = await fabric.connect("vera");

  for (const subject of [subjectForClient("vera", "llm-listener"), subjectForBroadcast("vera"), subjectForJob("vera", "j-x")]) {
    fabric.nc.publish(subject, "not json {");
  }
  const clients = await new Kvm(fabric.nc).open(BucketName.Clients);
  await clients.put(keyForClient("vera", "corrupt"), "not json {");
  await fabric.nc.flush();

  const sent = await sender.call("blender_send_message", { target_uuid: "llm-listener", payload: { after: "garbage" } });
  expect(sent.status).toBe("ok");
  await listener.nextNotification((data) => data.payload.after === "garbage");
  const listing = await sender.call("blender_list_available_clients", { include_stale: true });
  expect(listing.ephemeral.map((client: { uuid: string }) => client.uuid)).toEqual(["llm-listener"]);
  expect((await fetch(`${fabric.gateways[0]!.baseUrl}/readyz`)).status).toBe(200);
  // A replica started now reads the corrupt record at boot and still comes up.
  const late = await fabric.connect("vera", [await fabric.addGateway()]);
  expect((await late.call("blender_list_available_clients")).status).toBe("ok");
});
