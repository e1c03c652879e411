// Seed 000, use case 1: a modeler, a shader and a lighter LLM work on one Blender scene.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, startPolyHavenFixture, type BridgeProcess, type PolyHavenFixture } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";
import { runSpecialistsScenario } from "../support/specialists-scenario.js";

let fabric: Fabric;
let polyhaven: PolyHavenFixture;
let blender: BridgeProcess;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  polyhaven = await startPolyHavenFixture();
  blender = await startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: "studio",
    uuid: "blender-main",
    capabilities: ["python_execution", "modeling", "rendering"],
    addonPreferences: { enable_polyhaven: true, polyhaven_base_url: polyhaven.url },
  });
});
afterAll(async () => {
  await blender?.stop();
  await polyhaven?.close();
  await fabric?.[Symbol.asyncDispose]();
});

test("three specialists change one scene, each seeing the others' work", async () => {
  const { answeredBy, listing } = await runSpecialistsScenario(() => fabric.connect("studio"), {});
  expect(answeredBy).toEqual(["blender-main"]);
  expect(listing.persistent.map((client) => client.uuid)).toEqual(["blender-main"]);
});
