// Blender starts from the raw environment before the bridge's schema loads (blender-start.ts).
// That shortcut must ask for exactly the start the checked environment asks for, or for none:
// a mismatch would cost a second Blender start, and a start from a value the schema refuses
// must never happen.
import { describe, expect, test } from "vitest";
import { blenderStartOf, rawBlenderStart } from "../src/blender-start.js";
import { readBridgeEnv } from "../src/env.js";

describe("the early Blender start agrees with the bridge's environment schema", () => {
  const environments: Record<string, Record<string, string>> = {
    "nothing set (every default)": {},
    "what the pool sets": { FABRIC_CLIENT_UUID: "pool-peer-1", FABRIC_BLENDER: "/usr/bin/blender", FABRIC_ADDON_PREFS: '{"enable_polyhaven":true}' },
    "a scene, shares, a cache and no sandbox": {
      FABRIC_MODE: "spawn",
      FABRIC_BLEND_FILE: "scene.blend",
      FABRIC_SANDBOX: "off",
      FABRIC_SANDBOX_SHARE: " /srv/assets, ,/srv/out ",
      FABRIC_BLEND_CACHE: "/var/cache/fabric",
    },
    "bubblewrap required": { FABRIC_SANDBOX: "bwrap", FABRIC_CLIENT_UUID: "blender-a" },
  };
  for (const [name, raw] of Object.entries(environments)) {
    test(name, () => {
      const early = rawBlenderStart(raw);
      expect(early).toBeDefined();
      expect(early).toEqual(blenderStartOf(readBridgeEnv(raw)));
    });
  }

  test("anything but a plainly valid spawn-mode start starts nothing early (the schema decides)", () => {
    expect(rawBlenderStart({ FABRIC_MODE: "attach" })).toBeUndefined();
    // Values the schema refuses: no Blender for them.
    expect(rawBlenderStart({ FABRIC_MODE: "spwan" })).toBeUndefined();
    expect(() => readBridgeEnv({ FABRIC_MODE: "spwan" })).toThrow(/FABRIC_MODE/);
    expect(rawBlenderStart({ FABRIC_SANDBOX: "yes" })).toBeUndefined();
    expect(() => readBridgeEnv({ FABRIC_SANDBOX: "yes" })).toThrow(/FABRIC_SANDBOX/);
    expect(rawBlenderStart({ FABRIC_CLIENT_UUID: "" })).toBeUndefined();
    expect(() => readBridgeEnv({ FABRIC_CLIENT_UUID: "" })).toThrow(/FABRIC_CLIENT_UUID/);
  });
});
