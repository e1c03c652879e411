// Liveness: a client whose session holds a notification stream is kept fresh by heartbeats;
// one nobody holds goes stale, is hidden by default, and shows with include_stale.
import { afterAll, beforeAll, expect, test } from "vitest";
import { waitFor } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({
    gateways: 2,
    gatewayEnv: { FABRIC_STALE_AFTER_SECONDS: "1.5", FABRIC_HEARTBEAT_SECONDS: "0.3" },
  });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

test("heartbeats keep listening clients fresh; silent ones go stale but stay reachable", async () => {
  const listening = await fabric.connectListening("kim");
  await listening.call("blender_register_client", { client_uuid: "llm-live", client_type: "llm" });
  const silent = await fabric.connect("kim");
  // Close the silent session's GET stream so nobody heartbeats its client.
  await silent.call("blender_register_client", { client_uuid: "blender-gone", client_type: "blender", is_persistent: true });
  await silent.transport.close();

  await waitFor("blender-gone to go stale", async () => {
    const listing = await listening.call("blender_list_available_clients");
    return listing.persistent.length === 0;
  }, 10_000, 200);

  const visible = await listening.call("blender_list_available_clients");
  expect(visible.ephemeral.map((client: { uuid: string }) => client.uuid)).toEqual(["llm-live"]);
  expect(visible.ephemeral[0].stale).toBe(false);
  const everything = await listening.call("blender_list_available_clients", { include_stale: true });
  expect(everything.persistent).toMatchObject([{ uuid: "blender-gone", stale: true }]);
  expect(everything.persistent[0].last_seen_seconds_ago).toBeGreaterThan(1.5);

  // Stale clients are skipped by group/type routing but still reachable by explicit uuid.
  const byType = await listening.call("blender_send_message", { client_type: "blender", payload: {} });
  expect(byType.targets).toEqual([]);
  const direct = await listening.call("blender_send_message", { target_uuid: "blender-gone", payload: {} });
  expect(direct.targets).toEqual(["blender-gone"]);
});
