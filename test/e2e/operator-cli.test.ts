// The operator commands against a real gateway and nats-server: clients, jobs and tail.
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { mintToken, waitFor } from "@blender-fabric/testkit";
import { runCli } from "../support/cli.js";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 1 });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

test("clients and jobs show the token's user's bus", async () => {
  const llm = await fabric.connect("otto");
  await llm.call("blender_register_client", { client_uuid: "llm-otto", client_type: "llm", group_id: "crew" });
  await llm.call("blender_send_message", { target_uuid: "llm-otto", from_uuid: "llm-otto", payload: { message_type: "job_dispatch", job_id: "job-otto-1", script: "pass" } });
  const env = { FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "otto" }) };

  const clients = runCli(["clients"], env);
  expect(await clients.exited).toBe(0);
  expect(clients.output()).toMatch(/^UUID\s+TYPE\s+GROUP/m);
  expect(clients.output()).toMatch(/llm-otto\s+llm\s+crew/);

  const jobs = runCli(["jobs", "--limit", "5"], env);
  expect(await jobs.exited).toBe(0);
  expect(jobs.output()).toMatch(/job-otto-1\s+script/);

  const refused = runCli(["clients"], { FABRIC_URL: env.FABRIC_URL, FABRIC_TOKEN: "not-a-token" });
  expect(await refused.exited).toBe(1);
  expect(refused.errors()).toMatch(/^blender-fabric: .*Unauthorized: the token is invalid or expired/m);
});

test("tail prints each message on the user's subjects as one readable line", async () => {
  const tail = runCli(["tail", "--user", "otto", "--nats", fabric.natsUrls.join(",")]);
  try {
    await waitFor("tail to subscribe", () => tail.errors().includes("tailing"), 20_000, 100);
    const llm = await fabric.connect("otto");
    await llm.call("blender_register_client", { client_uuid: "llm-tail", client_type: "llm" });
    await llm.call("blender_send_message", { target_uuid: "llm-tail", payload: { greeting: "hello from the test" } });
    await waitFor("the message in tail's output", () => tail.output().includes("hello from the test"), 10_000, 100);
    expect(tail.output()).toMatch(/client\.llm-tail\s+server:otto → llm-tail\s+\[info\]/);
  } finally {
    tail.child.kill("SIGINT");
    await tail.exited;
  }
});

test("`npx blender-fabric` runs the CLI in a checkout (the cli workspace's bin entry)", async () => {
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const llm = await fabric.connect("npx-user");
  await llm.call("blender_register_client", { client_uuid: "llm-npx", client_type: "llm", group_id: "crew" });
  const run = await promisify(execFile)("npx", ["--no-install", "blender-fabric", "clients"], {
    cwd: repoRoot,
    env: { ...process.env, FABRIC_URL: fabric.gateways[0]!.mcpUrl, FABRIC_TOKEN: await mintToken({ sub: "npx-user" }) },
  });
  expect(run.stdout).toMatch(/llm-npx\s+llm\s+crew/u);
}, 60_000);
