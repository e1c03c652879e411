// Issue 10, acceptance 1 and 2: answers speak MCP. Every tool lists a title, annotations and
// an output schema; a failing status comes back with isError: true and the seed's JSON text
// unchanged; a success carries structuredContent, which the SDK client checks against the
// tool's output schema (FabricTestClient lists the tools first, so every call in the suite is
// checked). Two gateway replicas, real Blender.
import { afterAll, beforeAll, expect, test } from "vitest";
import { FabricTestClient, mintToken, startBridgeProcess, type BridgeProcess } from "@blender-fabric/testkit";
import { DISPATCH_COMMANDS } from "@blender-fabric/protocol";
import { startFabric, type Fabric } from "../support/fabric.js";
import { waitForRunningJob } from "../support/running-job.js";

let fabric: Fabric;
let bridges: BridgeProcess[] = [];
let llm: FabricTestClient;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  bridges = await Promise.all(["blender-a", "blender-b"].map((uuid) => startBridgeProcess({ natsUrls: fabric.natsUrls, user: "mira", uuid })));
  llm = await fabric.connect("mira");
});
afterAll(async () => {
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await fabric?.[Symbol.asyncDispose]();
});

const textOf = (result: unknown) => (result as { content: { type: string; text: string }[] }).content[0]!.text;

test("tools/list: every tool has a title, honest annotations and an object output schema", async () => {
  const { tools } = await llm.client.listTools();
  expect(tools.length).toBeGreaterThanOrEqual(DISPATCH_COMMANDS.length + 13);
  for (const tool of tools) {
    expect(tool.title, tool.name).toMatch(/\S/u);
    expect(tool.outputSchema?.type, tool.name).toBe("object");
    for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
      expect(typeof tool.annotations?.[hint], `${tool.name} ${hint}`).toBe("boolean");
    }
  }
  // Every parameter says what it is (a client shows it; an LLM chooses by it).
  const undescribed = tools.flatMap((tool) =>
    Object.entries((tool.inputSchema.properties ?? {}) as Record<string, { description?: string }>)
      .filter(([, schema]) => !schema.description)
      .map(([name]) => `${tool.name}.${name}`),
  );
  expect(undescribed).toEqual([]);
  // What strict clients warn about (the Inspector's --strict): type arrays (nullable as
  // ["string", "null"]) and schemas that constrain nothing ({}, or only a description).
  const loose: string[] = [];
  const saysNothing = (value: unknown) =>
    typeof value === "object" && value !== null && Object.keys(value).every((key) => ["description", "title", "default", "examples"].includes(key));
  const walk = (node: unknown, path: string) => {
    if (typeof node !== "object" || node === null) return;
    if (!Array.isArray(node)) {
      const schema = node as Record<string, unknown>;
      if (Array.isArray(schema.type)) loose.push(`${path}: type array`);
      for (const key of ["items", "additionalProperties", "not"]) if (saysNothing(schema[key])) loose.push(`${path}.${key}: constrains nothing`);
      for (const [name, value] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) if (saysNothing(value)) loose.push(`${path}.${name}: constrains nothing`);
    }
    for (const [key, value] of Object.entries(node)) walk(value, `${path}.${key}`);
  };
  for (const tool of tools) {
    walk(tool.inputSchema, `${tool.name} input`);
    walk(tool.outputSchema, `${tool.name} output`);
  }
  expect(loose).toEqual([]);
  const byName = new Map(tools.map((tool) => [tool.name, tool.annotations!]));
  expect(byName.get("blender_get_scene_info")).toMatchObject({ readOnlyHint: true, destructiveHint: false });
  expect(byName.get("blender_execute_code")).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  // Its filepath writes a file where Blender runs; its description says it answers an image.
  expect(byName.get("blender_get_viewport_screenshot")).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  expect(tools.find((tool) => tool.name === "blender_get_viewport_screenshot")?.description).toContain("image content block");
  expect(byName.get("blender_search_polyhaven_assets")).toMatchObject({ openWorldHint: true });
  expect(byName.get("blender_list_available_clients")).toMatchObject({ readOnlyHint: true });
  const submit = tools.find((tool) => tool.name === "blender_submit")!;
  expect((submit.inputSchema.properties as Record<string, { enum?: string[] }>).command!.enum).toContain("execute_code");
});

test("a success carries the answer as structured content, with Blender's result as an object", async () => {
  const result = await llm.raw("blender_execute_code", { target_uuid: "blender-a", code: "import sys\nprint('hi')\nprint('careful', file=sys.stderr)" });
  expect(result.isError).toBeUndefined();
  const text = JSON.parse(textOf(result));
  const printed = { executed: true, result: "hi\n", stdout: "hi\n", stderr: "careful\n" };
  expect(text.result).toBe(JSON.stringify(printed)); // the seed's JSON text; `result` is stdout, as before
  // What it printed also sits at the top of the answer, not only inside `result`.
  expect(text).toMatchObject({ stdout: "hi\n", stderr: "careful\n" });
  expect(result.structuredContent).toEqual({ ...text, result: printed });
});

test("every failing status comes back with isError: true and its unchanged JSON text", async () => {
  const stranger = await FabricTestClient.connect({ mcpUrls: fabric.gateways.map((gateway) => gateway.mcpUrl), token: await mintToken({ sub: "nobody-home" }), name: "stranger" });
  const peer = await FabricTestClient.connect({
    mcpUrls: fabric.gateways.map((gateway) => gateway.mcpUrl),
    token: await mintToken({ sub: "mira", role: "blender-client" }),
    name: "peer-token",
  });
  const cases: [string, FabricTestClient, string, Record<string, unknown>][] = [
    ["failed", llm, "blender_get_object_info", { target_uuid: "blender-a", name: "NoSuchObject" }],
    ["failed", llm, "blender_execute_code", { target_uuid: "blender-a", code: "raise ValueError('nope')" }],
    ["failed", llm, "blender_search_polyhaven_assets", { target_uuid: "blender-a", asset_type: "hdris" }], // a closed gate
    ["ambiguous_target", llm, "blender_get_scene_info", {}],
    ["unknown_target", llm, "blender_get_scene_info", { target_uuid: "blender-zz" }],
    ["no_client", stranger, "blender_get_scene_info", {}],
    ["expired", llm, "blender_get_scene_info", { target_uuid: "project:nobody-serves-it", _timeout: 1 }],
    ["not_a_member", llm, "blender_get_scene_info", { target_uuid: "blender-a", bus_id: "someone-else" }],
    ["wrong_role", peer, "blender_get_scene_info", { target_uuid: "blender-a" }],
    ["invalid_params", llm, "blender_get_object_info", { target_uuid: "blender-a" }],
    ["not_found", llm, "blender_job_status", { job_id: "j-missing" }],
  ];
  for (const [status, client, tool, args] of cases) {
    const result = await client.raw(tool, args);
    const text = JSON.parse(textOf(result));
    expect([tool, text.status, result.isError]).toEqual([tool, status, true]);
    expect(result.structuredContent).toMatchObject({ status });
  }
  await stranger.close();
  await peer.close();
});

test("job_status of a job that failed is a successful call", async () => {
  const failed = await llm.call("blender_execute_code", { target_uuid: "blender-b", code: "raise RuntimeError('boom')" });
  const status = await llm.raw("blender_job_status", { job_id: failed.job_id });
  expect(status.isError).toBeUndefined();
  expect(status.structuredContent).toMatchObject({ status: "failed", job_id: failed.job_id });
});

test("lost (the peer's bridge died while running the job) is isError too", async () => {
  const doomed = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "mira", uuid: "blender-doomed" });
  const call = llm.raw("blender_execute_code", { target_uuid: "blender-doomed", code: "import time\ntime.sleep(30)", _timeout: 60 });
  await waitForRunningJob(llm, { call });
  await doomed.kill();
  const reborn = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "mira", uuid: "blender-doomed" });
  const result = await call;
  expect([JSON.parse(textOf(result)).status, result.isError]).toEqual(["lost", true]);
  await reborn.stop();
});

// Last in this file: NATS hangs for a moment.
test("timeout (the work could not be queued in time: JetStream does not answer) is isError too", async () => {
  const [node] = fabric.natsNodes;
  node!.pause();
  try {
    const result = await llm.raw("blender_get_scene_info", { target_uuid: "blender-a", _timeout: 2 });
    expect([JSON.parse(textOf(result)).status, result.isError]).toEqual(["timeout", true]);
  } finally {
    node!.resume();
  }
});
