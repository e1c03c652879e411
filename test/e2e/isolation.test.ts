// Acceptance 3: two users with the same group name and the same client uuid never see each
// other's messages, clients or jobs.
import { afterAll, beforeAll, expect, test } from "vitest";
import { recordTraffic, startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

test("same group, same uuid, different users: nothing crosses", async () => {
  const traffic = recordTraffic(fabric.nc, "user.>");
  const registration = { client_uuid: "blender-1", client_type: "blender", group_id: "render-cluster" };
  const alicePeer = await fabric.connectListening("alice@example.com");
  const bobPeer = await fabric.connectListening("bob");
  await alicePeer.call("blender_register_client", { ...registration, capabilities: ["alice-only"] });
  await bobPeer.call("blender_register_client", registration);
  const alice = await fabric.connect("alice@example.com");
  const bob = await fabric.connect("bob");
  await alice.call("blender_register_client", { client_uuid: "llm-1", client_type: "llm" });
  await bob.call("blender_register_client", { client_uuid: "llm-1", client_type: "llm" });

  // Clients: each user lists only their own.
  const aliceList = await alice.call("blender_list_available_clients");
  const bobList = await bob.call("blender_list_available_clients");
  expect(aliceList.user_id).toBe("alice@example.com");
  expect(aliceList.ephemeral.find((c: any) => c.uuid === "blender-1").capabilities).toEqual(["alice-only"]);
  expect(bobList.ephemeral.find((c: any) => c.uuid === "blender-1").capabilities).toEqual([]);

  // Messages: every routing mode of alice reaches only alice's peer.
  for (const targeting of [{ target_uuid: "blender-1" }, { group_id: "render-cluster" }, { client_type: "blender" }, {}]) {
    const sent = await alice.call("blender_send_message", {
      ...targeting,
      from_uuid: "llm-1",
      payload: { secret: "alice", targeting },
    });
    expect(sent.targets).toContain("blender-1");
    await alicePeer.nextNotification((data) => data.payload.secret === "alice" && data.message_id === sent.message_id);
  }

  // Jobs: bob's job_update for alice's job id finds no job of bob's, so it broadcasts on bob's bus.
  await alice.call("blender_send_message", {
    target_uuid: "blender-1",
    from_uuid: "llm-1",
    payload: { message_type: "job_dispatch", job_id: "job-shared", script: "pass" },
  });
  const bobUpdate = await bobPeer.call("blender_job_update", { job_id: "job-shared", status: "completed" });
  expect(bobUpdate.delivered).toBe("broadcast");
  const aliceUpdate = await alicePeer.call("blender_job_update", { job_id: "job-shared", status: "completed" });
  expect(aliceUpdate).toEqual({ status: "ok", delivered: "direct", targets: ["llm-1"] });
  await alice.nextNotification((data) => data.payload.kind === "job_update");

  // Bob's sessions never saw anything of alice's, and alice's subjects carry her encoded id.
  for (const client of [bob, bobPeer]) {
    expect(client.received((data) => data.bus_id !== "bob")).toEqual([]);
  }
  expect(bob.received((data) => data.payload.kind === "job_update" && data.routing.type === "direct")).toEqual([]);
  traffic.stop();
  const aliceSubjects = traffic.seen.filter((message) => message.data.bus_id === "alice@example.com");
  expect(aliceSubjects.length).toBeGreaterThan(0);
  expect(aliceSubjects.every((message) => message.subject.startsWith("user.alice=40example=2Ecom."))).toBe(true);
});
