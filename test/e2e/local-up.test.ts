// `npm start` (blender-fabric up) as a newcomer runs it: NATS with credentials, a gateway and
// the pool with one warm Blender; the printed token and URL work; a project's Blender comes
// on demand; Ctrl-C stops every process it started.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { FabricTestClient, findFreePort, sourceCommand, spawnTracked, stopChild, waitFor, isProcessGone } from "@blender-fabric/testkit";
import type { ChildProcess } from "node:child_process";
import { descendantsOf } from "../support/processes.js";

const cliEntry = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "services", "cli", "src", "main.ts");
let up: ChildProcess;
let printed = "";
let client: FabricTestClient;
let dataDir: string;

beforeAll(async () => {
  const [command, ...args] = sourceCommand(cliEntry);
  dataDir = mkdtempSync(join(tmpdir(), "fabric-up-"));
  up = spawnTracked(command!, [...args, "up", "--data-dir", dataDir, "--nats-port", String(await findFreePort()), "--http-port", String(await findFreePort()), "--idle", "3"], {
    env: { ...process.env, FABRIC_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, like a shell's foreground job: Ctrl-C goes to the whole group.
    detached: true,
  });
  up.stdout!.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  up.stderr!.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  await waitFor("blender-fabric up to print its guide", () => printed.includes("Press Ctrl-C to stop."), 150_000, 100);
  const mcpUrl = /MCP endpoint\s+(\S+)/u.exec(printed)![1]!;
  const token = /valid 30 days:\s+(\S+)/u.exec(printed)![1]!;
  client = await FabricTestClient.connect({ mcpUrls: [mcpUrl], token, name: "newcomer" });
}, 180_000);
afterAll(async () => {
  await client?.close();
  await stopChild(up, "SIGKILL");
});

test("the printed token reaches the warm Blender, and a project's Blender starts on demand", async () => {
  expect(printed).toMatch(/Blender\s+blender-local-1 \(headless/u);
  const scene = await client.dispatch("blender_get_scene_info");
  expect([scene.status, scene.target_uuid]).toEqual(["completed", "blender-local-1"]);
  const project = await client.dispatch("blender_execute_code", { target_uuid: "project:first", code: "print('hello from a project')" });
  expect([project.status, project.data.result]).toEqual(["completed", "hello from a project\n"]);
  expect(project.target_uuid).toMatch(/^blender-first-/u);
});

test("Ctrl-C stops NATS, the gateway, the pool and every Blender, after the project's peer saved its scene", async () => {
  const started = descendantsOf(up.pid!);
  expect(started.length).toBeGreaterThanOrEqual(4); // nats-server, gateway, pool, bridge, Blender
  process.kill(-up.pid!, "SIGINT"); // what a terminal does: SIGINT to every process of the group
  await new Promise<void>((resolve) => up.once("exit", () => resolve()));
  await waitFor("every process up started to end", () => started.every(isProcessGone), 20_000, 100);
  const projectLogs = readdirSync(join(dataDir, "pool", "logs")).filter((name) => name.startsWith("blender-first-"));
  expect(projectLogs).toHaveLength(1);
  expect(readFileSync(join(dataDir, "pool", "logs", projectLogs[0]!), "utf8")).toContain("project scene saved");
});
