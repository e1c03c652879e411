// Resources read from real Blender, and a bridge in attach mode (the way an artist's GUI
// Blender joins): the bridge connects to an addon server it did not start.
import { afterAll, beforeAll, expect, test } from "vitest";
import { findProgram, startBridgeProcess, type BridgeProcess } from "@blender-fabric/testkit";
import { startBlender, type RunningBlender } from "../../services/bridge/src/blender-process.js";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let blender: RunningBlender;
let bridge: BridgeProcess;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  // Stands in for an artist's Blender: the addon server runs with its own port and token.
  blender = await startBlender({ executable: findProgram("blender"), blendFile: "", addonPreferences: "{}", onOutput: () => {} });
  bridge = await startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: "artist",
    uuid: "blender-workstation",
    env: { FABRIC_MODE: "attach", FABRIC_ADDON_PORT: String(blender.port), FABRIC_ADDON_TOKEN: blender.token },
  });
});

afterAll(async () => {
  await bridge?.stop();
  blender?.child.kill("SIGKILL");
  await fabric?.[Symbol.asyncDispose]();
});

test("attach mode: the bridge registers the Blender it attached to and relays calls", async () => {
  const llm = await fabric.connect("artist");
  const listing = await llm.call("blender_list_available_clients");
  expect(listing.persistent).toMatchObject([
    { uuid: "blender-workstation", client_type: "blender", pid: blender.child.pid, blender_version: expect.stringMatching(/^\d+\.\d+/) },
  ]);
  const ran = await llm.dispatch("blender_execute_code", { code: "import os\nprint(os.getpid())" });
  expect(ran.data.result).toBe(`${blender.child.pid}\n`);
});

test("attach mode: a wrong token is refused and the bridge does not register", async () => {
  await expect(
    startBridgeProcess({
      natsUrls: fabric.natsUrls,
      user: "artist",
      uuid: "blender-intruder",
      env: { FABRIC_MODE: "attach", FABRIC_ADDON_PORT: String(blender.port), FABRIC_ADDON_TOKEN: "wrong-token" },
      readyTimeoutMs: 4_000,
    }),
  ).rejects.toThrow(/did not register/);
  const listing = await (await fabric.connect("artist")).call("blender_list_available_clients", { include_stale: true });
  expect(listing.persistent.map((client: { uuid: string }) => client.uuid)).toEqual(["blender-workstation"]);
});

test("resources: listed, and read from the live Blender peer", async () => {
  const llm = await fabric.connect("artist");
  const { resources } = await llm.client.listResources();
  expect(resources.map((resource) => resource.uri).sort()).toEqual(["blender://bus/clients", "blender://scene/info", "blender://scene/objects"]);
  const { resourceTemplates } = await llm.client.listResourceTemplates();
  expect(resourceTemplates.map((template) => template.uriTemplate)).toEqual([
    "blender://console/{level}",
    "blender://console/{level}/{page}",
    "blender://artifacts/{job_id}",
    "fabric://clients/{uuid}/inbox{?after}",
  ]);
  const read = async (uri: string) => JSON.parse(((await llm.client.readResource({ uri })).contents[0] as { text: string }).text);

  expect(await read("blender://scene/info")).toMatchObject({ name: "Scene", object_count: 3 });
  const objects = await read("blender://scene/objects");
  expect(objects.items.map((item: { name: string }) => item.name).sort()).toEqual(["Camera", "Cube", "Light"]);
  expect((await read("blender://bus/clients")).map((client: { uuid: string }) => client.uuid)).toEqual(["blender-workstation"]);

  await llm.dispatch("blender_execute_code", { code: "print('resource marker')" });
  const console = await read("blender://console/all");
  expect(console.lines.some((line: { text: string }) => line.text.includes("resource marker"))).toBe(true);
  expect(await read("blender://console/all/1")).toMatchObject({ page: 1 });

  const shot = await llm.dispatch("blender_get_viewport_screenshot", { max_size: 32 });
  const artifacts = await read(`blender://artifacts/${shot.job_id}`);
  expect(artifacts).toEqual([{ name: expect.stringMatching(/\.png$/), url: shot.data.artifact.url }]);
  await expect(llm.client.readResource({ uri: "blender://nowhere/x" })).rejects.toThrow(/Unknown resource/);
  // A level Blender cannot serve is the caller's mistake: invalid params, the code said once.
  await expect(llm.client.readResource({ uri: "blender://console/bogus" })).rejects.toMatchObject({
    code: -32602,
    message: "MCP error -32602: Invalid resource blender://console/bogus: the level is one of all, info, warning, error, the page a number from 1",
  });
  await expect(llm.client.callTool({ name: "blender_nope", arguments: {} })).rejects.toMatchObject({ code: -32602, message: "MCP error -32602: unknown tool: blender_nope" });
});
