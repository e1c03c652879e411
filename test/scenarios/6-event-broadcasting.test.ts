// Seed 000, use case 6: an announcement reaches every client on the bus but its sender;
// Blender peers receive it and ignore it (it is not work).
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, type BridgeProcess } from "@blender-fabric/testkit";
import { recordTraffic, startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let peers: BridgeProcess[] = [];

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  peers = await Promise.all(
    ["blender-a", "blender-b"].map((uuid) => startBridgeProcess({ natsUrls: fabric.natsUrls, user: "ops", uuid })),
  );
});
afterAll(async () => {
  await Promise.allSettled(peers.map((peer) => peer.stop()));
  await fabric?.[Symbol.asyncDispose]();
});

test("a broadcast announcement reaches everyone but the sender; Blender peers ignore it", async () => {
  const traffic = recordTraffic(fabric.nc, "user.ops.>");
  const clients = await Promise.all(["llm-ops", "llm-one", "llm-two"].map(async (uuid) => {
    const client = await fabric.connectListening("ops");
    await client.call("blender_register_client", { client_uuid: uuid, client_type: "llm" });
    return client;
  }));
  const [sender, one, two] = clients;

  const announcement = { kind: "announcement", text: "Server restarting in 5 min", at: 1706203789 };
  const sent = await sender!.call("blender_send_message", { from_uuid: "llm-ops", priority: "warning", payload: announcement });
  expect(sent.routing).toEqual({ type: "broadcast" });
  expect(sent.targets).toEqual(["blender-a", "blender-b", "llm-one", "llm-two"]);

  for (const receiver of [one!, two!]) {
    const notification = await receiver.nextNotification((data) => data.payload.kind === "announcement");
    expect(notification).toMatchObject({ level: "warning", data: { from_uuid: "llm-ops", payload: announcement } });
  }
  // One message on the broadcast subject, as an operator watching `nats sub 'user.>'` sees it.
  const onWire = traffic.seen.filter((message) => message.data?.payload?.kind === "announcement");
  expect(onWire.map((message) => message.subject)).toEqual(["user.ops.broadcast"]);

  // The peers took no work from it and still serve calls; the sender got no copy.
  const jobs = await sender!.call("blender_list_jobs");
  expect(jobs.jobs.filter((job: { kind: string }) => job.kind !== "message")).toEqual([]);
  for (const uuid of ["blender-a", "blender-b"]) {
    expect((await sender!.call("blender_get_scene_info", { target_uuid: uuid })).status).toBe("completed");
  }
  expect(sender!.received((data) => data.payload.kind === "announcement")).toEqual([]);
  traffic.stop();
});
