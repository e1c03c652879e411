// Issue 9 (scale, first part): blender_list_available_clients narrows by group, type and
// capability and pages, so a bus of thousands of peers stays readable; without those
// arguments it keeps the seed's shape.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

test("filters by group, client type and capability, and pages with persistent clients first", async () => {
  const llm = await fabric.connect("lena");
  for (let index = 1; index <= 7; index += 1) {
    await llm.call("blender_register_client", {
      client_uuid: `peer-${index}`,
      client_type: index <= 5 ? "blender" : "llm",
      is_persistent: index <= 5,
      group_id: index % 2 === 0 ? "even" : "odd",
      capabilities: index === 3 ? ["rendering", "gpu"] : ["rendering"],
    });
  }
  const all = await llm.call("blender_list_available_clients");
  expect(all).toMatchObject({ status: "ok", user_id: "lena", total: 7, page: 1, page_size: 100, has_more: false });
  expect(all.persistent.map((client: { uuid: string }) => client.uuid)).toEqual(["peer-1", "peer-2", "peer-3", "peer-4", "peer-5"]);
  expect(all.ephemeral.map((client: { uuid: string }) => client.uuid)).toEqual(["peer-6", "peer-7"]);

  const uuids = (listing: Record<string, any>) => [...listing.persistent, ...listing.ephemeral].map((client: { uuid: string }) => client.uuid);
  expect(uuids(await llm.call("blender_list_available_clients", { group_id: "even" }))).toEqual(["peer-2", "peer-4", "peer-6"]);
  expect(uuids(await llm.call("blender_list_available_clients", { client_type: "llm" }))).toEqual(["peer-6", "peer-7"]);
  expect(uuids(await llm.call("blender_list_available_clients", { capability: "gpu" }))).toEqual(["peer-3"]);
  expect(uuids(await llm.call("blender_list_available_clients", { group_id: "odd", client_type: "blender" }))).toEqual(["peer-1", "peer-3", "peer-5"]);

  const first = await llm.call("blender_list_available_clients", { page_size: 3 });
  const second = await llm.call("blender_list_available_clients", { page_size: 3, page: 2 });
  const third = await llm.call("blender_list_available_clients", { page_size: 3, page: 3 });
  expect([uuids(first), uuids(second), uuids(third)]).toEqual([["peer-1", "peer-2", "peer-3"], ["peer-4", "peer-5", "peer-6"], ["peer-7"]]);
  expect([first.has_more, second.has_more, third.has_more]).toEqual([true, true, false]);
  expect(await llm.call("blender_list_available_clients", { page_size: 0 })).toMatchObject({ status: "invalid_params", field: "page_size" });
});
