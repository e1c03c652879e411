// Issue 16, item 3: secrets stay out of Blender. Whoever holds a tenant's token runs any
// Python in that tenant's Blender (blender_execute_code); here that code goes looking for
// the bridge's secrets for real: the bridge runs with a real nkey seed file
// (FABRIC_NATS_NKEY, in a temp dir) and secret values in FABRIC_TOKEN and FABRIC_JWT_SECRET,
// and the Python reads every environment it can see, opens the seed file, the repository,
// the bridge's home, and dials the nats-server. Real nats-server, gateway, bridges and
// Blender; the sandbox is bubblewrap as the bridge starts it by default (FABRIC_SANDBOX=auto).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, startPolyHavenFixture, type BridgeProcess, type FabricTestClient, type PolyHavenFixture } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SECRET = `secret-value-${process.pid}-7f3a`;
/** The sandboxed peer's farm group, so farm tasks land on it alone. */
const GROUP = "mallory-sandboxed";
/**
 * What Blender's environment may hold (blender-sandbox.ts, blender-process.ts; PWD is set by
 * bubblewrap to Blender's working directory); anything else leaked in.
 */
const ALLOWED_VARIABLE = /^(PATH|HOME|PWD|TMPDIR|LANG|LANGUAGE|LC_[A-Z_]+|TZ|DISPLAY|FABRIC_ADDON_PREFS|FABRIC_ADDON_SOCKET|FABRIC_CLIENT_UUID)$/;

let fabric: Fabric;
let polyhaven: PolyHavenFixture;
let secrets: string;
let seedFile: string;
let seed: string;
let natsPort: number;
let llm: FabricTestClient;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  secrets = await mkdtemp(join(tmpdir(), "fabric-secrets-"));
  seedFile = join(secrets, "bridge.nk");
  seed = new TextDecoder().decode(createUser().getSeed());
  await writeFile(seedFile, `${seed}\n`, { mode: 0o600 });
  fabric = await startFabric({ gateways: 1 });
  natsPort = Number(new URL(fabric.natsUrls[0]!).port);
  polyhaven = await startPolyHavenFixture();
  // The bridge connects with the seed (the test's nats-server admits anyone; the point is the file).
  const env = { FABRIC_NATS_NKEY: seedFile, FABRIC_TOKEN: SECRET, FABRIC_JWT_SECRET: SECRET };
  bridges.push(
    ...(await Promise.all([
      startBridgeProcess({ natsUrls: fabric.natsUrls, user: "mallory", uuid: "blender-sandboxed", groupId: GROUP, env }),
      startBridgeProcess({
        natsUrls: fabric.natsUrls,
        user: "mallory",
        uuid: "blender-online",
        env,
        addonPreferences: { enable_polyhaven: true, polyhaven_base_url: polyhaven.url },
      }),
      startBridgeProcess({ natsUrls: fabric.natsUrls, user: "mallory", uuid: "blender-unsandboxed", env: { ...env, FABRIC_SANDBOX: "off" } }),
    ])),
  );
  llm = await fabric.connect("mallory");
});

afterAll(async () => {
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await polyhaven?.close();
  await fabric?.[Symbol.asyncDispose]();
  if (secrets) await rm(secrets, { recursive: true, force: true });
});

type Findings = {
  environ: Record<string, string>;
  /** /proc/self/environ: what Blender was started with, even variables Python has dropped since. */
  startEnviron: string;
  /** /proc/<pid>/environ of every process Blender can see, or the error reading it. */
  otherEnvirons: Record<string, string>;
  /** What opening each path gave: its listing, its text, or the error's name. */
  paths: Record<string, { listed?: string[]; read?: string; error?: string }>;
  /** The outcome of a TCP connection to the nats-server: "connected" or the error's name. */
  nats: string;
};

/** The hostile code: looks for everything the bridge holds, and reports what it found. */
const probeScript = (paths: string[], port: number) => `
import json, os, socket

def attempt(path):
    try:
        if os.path.isdir(path):
            return {"listed": sorted(os.listdir(path))}
        with open(path, "rb") as file:
            return {"read": file.read().decode("utf-8", "replace")}
    except OSError as error:
        return {"error": type(error).__name__}

def environ_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return file.read().decode("utf-8", "replace")
    except OSError as error:
        return type(error).__name__

try:
    socket.create_connection(("127.0.0.1", ${port}), timeout=3).close()
    nats = "connected"
except OSError as error:
    nats = type(error).__name__

print(json.dumps({
    "environ": dict(os.environ),
    "startEnviron": environ_of("self"),
    "otherEnvirons": {pid: environ_of(pid) for pid in os.listdir("/proc") if pid.isdigit()},
    "paths": {path: attempt(path) for path in ${JSON.stringify(paths)}},
    "nats": nats,
}))
`;

async function probe(target: string): Promise<Findings> {
  const paths = [seedFile, secrets, repoRoot, join(repoRoot, ".fabric"), homedir()];
  const ran = await llm.dispatch("blender_execute_code", { target_uuid: target, code: probeScript(paths, natsPort) });
  expect(ran, JSON.stringify(ran)).toMatchObject({ status: "completed" });
  return JSON.parse(ran.data.result) as Findings;
}

/** No secret, seed, credential path or bridge-only variable in Blender's own environment. */
function expectCleanEnvironment(found: Findings) {
  const names = Object.keys(found.environ);
  expect(names.filter((name) => !ALLOWED_VARIABLE.test(name))).toEqual([]);
  expect(names.filter((name) => /^FABRIC_(NATS|TOKEN|ADDON_TOKEN|JWT)/.test(name))).toEqual([]);
  for (const environment of [JSON.stringify(found.environ), found.startEnviron]) {
    expect(environment).not.toContain(SECRET);
    expect(environment).not.toContain(seed);
    expect(environment).not.toContain(seedFile);
    expect(environment).not.toContain("FABRIC_ADDON_TOKEN");
  }
}

test("sandboxed: Blender's code finds no secret in any environment it can see, no credential file, no repository, no home, no NATS", async () => {
  const found = await probe("blender-sandboxed");
  expectCleanEnvironment(found);
  // Its own pid namespace: Blender and bubblewrap's init, never the bridge (whose environ holds the secrets).
  expect(Object.keys(found.otherEnvirons).length).toBeLessThanOrEqual(3);
  for (const environment of Object.values(found.otherEnvirons)) {
    expect(environment).not.toContain(SECRET);
    expect(environment).not.toContain(seedFile);
  }
  expect(found.paths[seedFile]).toEqual({ error: "FileNotFoundError" });
  expect(found.paths[secrets]).toEqual({ error: "FileNotFoundError" });
  // Of the repository only the addon is there (read-only); no `.fabric/` with its credentials.
  expect(found.paths[repoRoot]).toEqual({ listed: ["addon"] });
  expect(found.paths[join(repoRoot, ".fabric")]).toEqual({ error: "FileNotFoundError" });
  expect(found.paths[homedir()]).toEqual({ error: "FileNotFoundError" });
  expect(JSON.stringify(found.paths)).not.toContain(seed);
  // No tier-3 integration on: no network but its own loopback, where nothing listens.
  expect(found.nats).toBe("ConnectionRefusedError");
});

test("sandboxed: the addon and the system are read-only; Blender writes only in the folder it shares with its bridge", async () => {
  const code = `
import os, bpy
tried = {}
for path in (os.path.join(${JSON.stringify(join(repoRoot, "addon"))}, "planted.py"), "/usr/planted", "/etc/planted"):
    try:
        open(path, "w").close()
        tried[path] = "written"
    except OSError as error:
        tried[path] = type(error).__name__
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(os.environ["HOME"], "scene.blend"), copy=True)
tried["home"] = os.path.getsize(os.path.join(os.environ["HOME"], "scene.blend")) > 0
print(tried)
`;
  const ran = await llm.dispatch("blender_execute_code", { target_uuid: "blender-sandboxed", code });
  expect(ran.status, JSON.stringify(ran)).toBe("completed");
  // The last line: Blender reports the save on the line before.
  expect(ran.data.result.trim().split("\n").at(-1)).toBe(
    `{'${join(repoRoot, "addon", "planted.py")}': 'OSError', '/usr/planted': 'OSError', '/etc/planted': 'OSError', 'home': True}`,
  );
});

test("sandboxed: a file Blender hands the bridge that leads outside their shared folder is refused, never stored for the tenant nor deleted", async () => {
  // A screenshot command that answers with the path of the bridge's seed.
  const hijack = `
import dataclasses
from blender_fabric import registry
registry.COMMANDS["get_viewport_screenshot"] = dataclasses.replace(
    registry.COMMANDS["get_viewport_screenshot"],
    function=lambda filepath=None, max_size=800, format="png": {"filepath": ${JSON.stringify(seedFile)}, "width": 1, "height": 1, "format": "png"},
)`;
  expect(await llm.call("blender_execute_code", { target_uuid: "blender-sandboxed", code: hijack })).toMatchObject({ status: "completed" });
  const shot = await llm.call("blender_get_viewport_screenshot", { target_uuid: "blender-sandboxed" });
  expect(shot).toMatchObject({ status: "failed", error: expect.stringContaining("is not a file Blender wrote") });
  expect(JSON.stringify(shot)).not.toContain(seed);

  // A farm task that swaps its output folder for a symlink to the seed's folder.
  const swap = `import os, shutil\nshutil.rmtree(output_dir)\nos.symlink(${JSON.stringify(secrets)}, output_dir)`;
  const farm = await llm.call("blender_farm_map", { script: swap, items: [1], group_id: GROUP, max_attempts: 1 });
  const ended = await llm.call("blender_job_status", { job_id: farm.job_id, wait_seconds: 45 });
  expect(ended).toMatchObject({ status: "failed" });
  expect(await llm.call("blender_list_artifacts", { job_id: farm.job_id })).toMatchObject({ total: 0 });
  expect(JSON.stringify(ended)).not.toContain(seed);

  // A snapshot for the farm that Blender, once saved, swaps for a symlink to the seed.
  const onSave = `
import bpy, glob, os
def swap(*args):
    for saved in glob.glob(os.path.join(os.path.dirname(os.environ["HOME"]), "snapshot-*", "snapshot.blend")):
        os.remove(saved)
        os.symlink(${JSON.stringify(seedFile)}, saved)
bpy.app.handlers.save_post.append(swap)`;
  expect(await llm.call("blender_execute_code", { target_uuid: "blender-sandboxed", code: onSave })).toMatchObject({ status: "completed" });
  try {
    const render = await llm.call("blender_render_frames", { frames: "1", group_id: GROUP, blend: { snapshot_of: "blender-sandboxed" } });
    expect(JSON.stringify(render)).toContain("is not a file Blender wrote");
    expect(JSON.stringify(render)).not.toContain(seed);
  } finally {
    await llm.call("blender_execute_code", { target_uuid: "blender-sandboxed", code: "import bpy\nbpy.app.handlers.save_post.clear()" });
  }
  expect(await readFile(seedFile, "utf8")).toBe(`${seed}\n`);
});

test("with a tier-3 integration on, Blender has the network (its integrations call out) and still none of the secrets", async () => {
  const found = await probe("blender-online");
  expectCleanEnvironment(found);
  expect(found.paths[seedFile]).toEqual({ error: "FileNotFoundError" });
  expect(found.paths[join(repoRoot, ".fabric")]).toEqual({ error: "FileNotFoundError" });
  expect(found.nats).toBe("connected");
  const status = await llm.dispatch("blender_get_polyhaven_status", { target_uuid: "blender-online" });
  expect(status.data).toMatchObject({ enabled: true });
});

test("unsandboxed (FABRIC_SANDBOX=off): Blender's environment is still the allow-list, without the token", async () => {
  const found = await probe("blender-unsandboxed");
  expectCleanEnvironment(found);
  // Without the sandbox, files are the bridge's to read: exactly what the sandbox prevents.
  expect(found.paths[seedFile]).toEqual({ read: `${seed}\n` });
});

test("FABRIC_SANDBOX=bwrap where bubblewrap cannot be found: the bridge refuses to start and says why", async () => {
  await expect(
    startBridgeProcess({
      natsUrls: fabric.natsUrls,
      user: "mallory",
      uuid: "blender-no-bwrap",
      env: { FABRIC_SANDBOX: "bwrap", PATH: join(secrets, "no-programs-here") },
      readyTimeoutMs: 20_000,
    }),
  ).rejects.toThrow(/exited:[\s\S]*FABRIC_SANDBOX=bwrap, but bubblewrap \(bwrap\) is not on PATH/);
});
