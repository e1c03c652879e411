// Issue 9, local scale-out: the production NATS plane (decentralized JWT auth) as a 3-node
// cluster with R3 buckets, three gateway replicas with every client's requests rotating over
// them, and the pool, which mints each peer it starts a credential scoped to its tenant. Seed
// scenarios 1 and 2 run against it with no Blender started by hand: the specialists' scene is
// a project's peer, and the render farm is a group the pool grows from zero.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createFabricAccounts, mintUserCreds, serverAuthConfig } from "@blender-fabric/bus";
import { mintToken, startPolyHavenFixture, startPoolProcess, waitFor, type PolyHavenFixture, type PoolProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";
import { runSpecialistsScenario } from "../support/specialists-scenario.js";

let fabric: Fabric;
let pool: PoolProcess;
let polyhaven: PolyHavenFixture;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "fabric-scale-out-"));
  const accounts = await createFabricAccounts();
  // The trusted tier (gateways, the pool): a user of the fabric account with no restrictions.
  const trusted = join(dir, "trusted.creds");
  writeFileSync(trusted, await mintUserCreds(accounts.accountSeed, { name: "trusted tier" }), { mode: 0o600 });
  const accountSeed = join(dir, "account.seed");
  writeFileSync(accountSeed, accounts.accountSeed, { mode: 0o600 });
  fabric = await startFabric({ gateways: 3, cluster: true, natsAuth: { authConfig: serverAuthConfig(accounts), credsFile: trusted } });
  polyhaven = await startPolyHavenFixture();
  pool = await startPoolProcess({
    natsUrls: fabric.natsUrls,
    env: {
      FABRIC_NATS_CREDS: trusted,
      FABRIC_NATS_ACCOUNT_SEED_FILE: accountSeed,
      FABRIC_KV_REPLICAS: "3",
      FABRIC_POOL_WARM: "0",
      FABRIC_POOL_MAX_PEERS: "3",
      FABRIC_POOL_MAX_PEERS_PER_USER: "3",
      FABRIC_IDLE_SECONDS: "4",
      FABRIC_POOL_CAPABILITIES: "python_execution,modeling,rendering,gpu",
      FABRIC_POOL_ADDON_PREFS: JSON.stringify({ enable_polyhaven: true, polyhaven_base_url: polyhaven.url }),
      FABRIC_POOL_STATE_DIR: join(dir, "pool"),
    },
  });
}, 180_000);
afterAll(async () => {
  await pool?.stop();
  await polyhaven?.close();
  await fabric?.[Symbol.asyncDispose]();
});

test("seed scenario 1: three specialists change one project's scene, each seeing the others' work", async () => {
  const { answeredBy, listing } = await runSpecialistsScenario(() => fabric.connect("studio"), { target_uuid: "project:studio-scene" });
  // One peer, started by the pool for the project, answered every call.
  expect(answeredBy).toHaveLength(1);
  expect(answeredBy[0]).toMatch(/^blender-studio-scene-/u);
  expect(listing.persistent.map((client) => [client.uuid, client.project_id])).toEqual([[answeredBy[0], "studio-scene"]]);
});

test("seed scenario 2: a coordinator renders frames on a farm group the pool grows from zero", async () => {
  const coordinator = await fabric.connect("render-op");
  await coordinator.call("blender_register_client", { client_uuid: "llm-coordinator", client_type: "llm" });
  expect((await coordinator.call("blender_list_available_clients")).persistent).toEqual([]);

  const job = await coordinator.call("blender_render_frames", {
    frames: "41-43", chunk_size: 1, group_id: "render-cluster", capabilities: ["gpu"],
    engine: "cycles", samples: 1, resolution_x: 32, resolution_y: 24, resolution_percentage: 100,
  });
  expect(job).toMatchObject({ status: "queued", tasks: 3, frames: 3 });
  const ended = await coordinator.call("blender_job_status", { job_id: job.job_id, wait_seconds: 50 });
  expect(ended).toMatchObject({ status: "completed", farm: { frames_done: 3 } });
  const runners = new Set(ended.farm.tasks.map((task: { attempts: { target_uuid: string }[] }) => task.attempts.at(-1)!.target_uuid));
  for (const runner of runners) expect(runner).toMatch(/^blender-render-cluster-/u);

  const listed = await coordinator.call("blender_list_artifacts", { job_id: job.job_id });
  expect(listed.artifacts.map((artifact: { file: string }) => artifact.file)).toEqual(["frame-0041.png", "frame-0042.png", "frame-0043.png"]);
  const token = await mintToken({ sub: "render-op" });
  for (const artifact of listed.artifacts as { url: string }[]) {
    const gateway = fabric.gateways[Math.floor(Math.random() * fabric.gateways.length)]!;
    const png = Buffer.from(await (await fetch(`${gateway.baseUrl}${artifact.url}`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe("PNG");
  }
  // Idle, the farm scales back to zero.
  await waitFor("the farm to scale to zero", async () => (await pool.peers()).every((peer) => !peer.purpose.includes("render-cluster")), 40_000, 200);
});
