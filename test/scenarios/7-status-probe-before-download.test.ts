// Seed 000, use case 7: probe the PolyHaven status before a gated download. Gate off: the
// probe says so and names the preference; the operator turns it on; the download works
// (against a local recorded-fixture PolyHaven).
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, startPolyHavenFixture, type BridgeProcess, type PolyHavenFixture } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let polyhaven: PolyHavenFixture;
let blender: BridgeProcess | undefined;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  polyhaven = await startPolyHavenFixture();
});
afterAll(async () => {
  await blender?.stop();
  await polyhaven?.close();
  await fabric?.[Symbol.asyncDispose]();
});

const startPeer = (preferences: Record<string, unknown>) =>
  startBridgeProcess({
    natsUrls: fabric.natsUrls,
    user: "assets",
    uuid: "blender-main",
    addonPreferences: { polyhaven_base_url: polyhaven.url, ...preferences },
  });

/** The asset finder's logic: probe first, download only when enabled. */
async function fetchSky(finder: Awaited<ReturnType<Fabric["connect"]>>) {
  const status = await finder.dispatch("blender_get_polyhaven_status", { _timeout: 15 });
  if (!status.data.enabled) return { downloaded: false, hint: status.data.message as string };
  const download = await finder.dispatch("blender_download_polyhaven_asset", {
    asset_id: "fixture_sky",
    asset_type: "hdris",
    resolution: "1k",
  });
  return { downloaded: download.status === "completed" && download.data.success === true, hint: "" };
}

test("gated off: the probe says why; gated on: the download goes through", async () => {
  blender = await startPeer({});
  const finder = await fabric.connect("assets");
  const closed = await fetchSky(finder);
  expect(closed).toEqual({ downloaded: false, hint: expect.stringContaining("enable_polyhaven") });
  expect(polyhaven.requests).toEqual([]);
  // Dispatching anyway is refused by the gate, naming the same preference.
  const refused = await finder.dispatch("blender_download_polyhaven_asset", { asset_id: "fixture_sky", asset_type: "hdris" });
  expect(refused).toMatchObject({ status: "failed", error: expect.stringContaining("enable_polyhaven") });

  // The operator turns the preference on and restarts the peer.
  await blender.stop();
  blender = await startPeer({ enable_polyhaven: true });
  const open = await fetchSky(finder);
  expect(open).toEqual({ downloaded: true, hint: "" });
  expect(polyhaven.requests).toEqual(["/files/fixture_sky", "/downloads/fixture_sky_1k.hdr"]);
});
