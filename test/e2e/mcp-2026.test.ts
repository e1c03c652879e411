// Issue 19: a 2026-07-28 client (the official v2 client package, pinned to 2026-07-28) drives
// the fabric across two replicas, every request to the other one in turn: discover,
// tools/list, a dispatch to real Blender with progress, a cancelled dispatch, a bus message
// from a 2025 session arriving in the 2026 client's inbox (through subscriptions/listen and
// through blender_receive_messages), and a render as a task, polled on the other replica.
// Real nats-server, gateways and headless Blender.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { mintToken, startBridgeProcess, waitFor, type BridgeProcess, type FabricTestClient } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

const USER = "nova";
const PEER = "blender-nova";
const AGENT = "nova-agent";
const TASKS = "io.modelcontextprotocol/tasks";
const TINY = { engine: "cycles", samples: 2, resolution_x: 32, resolution_y: 24, resolution_percentage: 100 };

let fabric: Fabric;
let bridge: BridgeProcess;
let token: string;
let modern: Client;
/** Which replica served each of the 2026 client's requests. */
const served: string[] = [];

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  bridge = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: USER, uuid: PEER, groupId: "studio" });
  token = await mintToken({ sub: USER });
  const urls = fabric.gateways.map((gateway) => gateway.mcpUrl);
  let next = 0;
  const transport = new StreamableHTTPClientTransport(new URL(urls[0]!), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    // Each request goes to the next replica: nothing may depend on where the last one went.
    fetch: (_url, init) => {
      const url = urls[next++ % urls.length]!;
      served.push(url);
      return fetch(url, init);
    },
  });
  modern = new Client({ name: "fabric-2026-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await modern.connect(transport);
}, 120_000);

afterAll(async () => {
  await modern?.close().catch(() => {});
  await bridge?.stop();
  await fabric?.[Symbol.asyncDispose]();
});

/** A raw 2026 request (for what the v2 client has no method for: tasks), to one replica. */
async function rawRequest(replica: number, method: string, params: Record<string, unknown>, capabilities: Record<string, unknown> = {}, bearer = token) {
  const name = (params.name ?? params.uri ?? params.taskId) as string | undefined;
  const response = await fetch(fabric.gateways[replica]!.mcpUrl, {
    method: "POST",
    headers: {
      authorization: `Bearer ${bearer}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name === undefined ? {} : { "mcp-name": name }),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method,
      params: { ...params, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": capabilities } },
    }),
  });
  return { status: response.status, body: (await response.json()) as { result?: any; error?: any } };
}

const structured = (result: unknown) => (result as { structuredContent: any }).structuredContent;

describe("a 2026-07-28 client across two replicas", () => {
  test("discover says 2026-07-28 and tasks; tools/list has the fabric's tools", async () => {
    expect(modern.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    expect(modern.getDiscoverResult()).toMatchObject({ supportedVersions: ["2026-07-28"], capabilities: { tools: {}, extensions: { [TASKS]: {} } } });
    const { tools } = await modern.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(["blender_execute_code", "blender_render_frames", "blender_receive_messages", "blender_send_message"]));
  });

  test("a dispatch to real Blender reports its progress on the request stream, then its result", async () => {
    const code = "import time\nfor step in range(1, 4):\n    time.sleep(0.5)\n    report_progress(step / 4, f'step {step}')\nprint('done')";
    const seen: [number, string | undefined][] = [];
    const result = await modern.callTool(
      { name: "blender_execute_code", arguments: { target_uuid: PEER, code } },
      { onprogress: (progress) => seen.push([progress.progress, progress.message]) },
    );
    expect(structured(result)).toMatchObject({ status: "completed", result: { executed: true, result: "done\n" } });
    expect(seen).toEqual([
      [0.25, "step 1"],
      [0.5, "step 2"],
      [0.75, "step 3"],
    ]);
  });

  test("closing a call's stream cancels its job", async () => {
    const code = "import time\nfor step in range(100):\n    time.sleep(0.1)\n    report_progress(step / 100, 'working')\nprint('finished')";
    const controller = new AbortController();
    let jobRunning = false;
    const call = modern.callTool(
      { name: "blender_execute_code", arguments: { target_uuid: PEER, code } },
      { signal: controller.signal, onprogress: () => (jobRunning = true) },
    );
    call.catch(() => {}); // rejected by the abort
    await waitFor("the code to report progress", async () => jobRunning, 20_000, 50);
    controller.abort("the user changed their mind");
    await expect(call).rejects.toThrow();
    const jobs = await modern.callTool({ name: "blender_list_jobs", arguments: {} });
    const job = structured(jobs).jobs.find((candidate: { command: string }) => candidate.command === "execute_code" && candidate !== undefined);
    expect(job).toBeDefined();
    await waitFor(
      "the job to end cancelled",
      async () => structured(await modern.callTool({ name: "blender_job_status", arguments: { job_id: job.job_id } })).status === "cancelled",
      10_000,
      100,
    );
  });

  test("a 2025 session's message reaches the 2026 client's inbox: on its listen stream, then by blender_receive_messages", async () => {
    const registered = await modern.callTool({ name: "blender_register_client", arguments: { client_uuid: AGENT, client_type: "llm" } });
    expect(structured(registered)).toMatchObject({ status: "ok" });
    const updates: string[] = [];
    modern.setNotificationHandler("notifications/resources/updated", (notification) => void updates.push(notification.params.uri));
    const inbox = `fabric://clients/${AGENT}/inbox`;
    const subscription = await modern.listen({ resourceSubscriptions: [inbox] });
    expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: [inbox] });

    const legacy: FabricTestClient = await fabric.connect(USER);
    await legacy.call("blender_register_client", { client_uuid: "old-agent", client_type: "llm" });
    const sent = await legacy.call("blender_send_message", { target_uuid: AGENT, from_uuid: "old-agent", payload: { hello: "from 2025" } });
    expect(sent).toMatchObject({ status: "ok", targets: [AGENT] });
    await waitFor("the listen stream to say the inbox changed", async () => updates.includes(inbox), 10_000, 50);

    const read = structured(await modern.callTool({ name: "blender_receive_messages", arguments: { client_uuid: AGENT } }));
    expect(read.messages.map((message: any) => message.envelope.payload)).toEqual([{ hello: "from 2025" }]);
    expect(read.messages[0].envelope).toMatchObject({ message_id: sent.message_id, from_uuid: "old-agent" });
    // The same page through the resource: readable with the cursor of nothing read yet.
    const resource = await modern.readResource({ uri: inbox });
    expect(JSON.parse((resource.contents[0] as { text: string }).text).messages[0].cursor).toBe(read.messages[0].cursor);

    // Long-poll: a read waiting after the last cursor answers when the next message arrives.
    const waiting = modern.callTool({ name: "blender_receive_messages", arguments: { client_uuid: AGENT, after: read.next_cursor, wait_seconds: 20 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await legacy.call("blender_send_message", { target_uuid: AGENT, payload: { hello: "again" } });
    const woken = structured(await waiting);
    expect(woken.messages.map((message: any) => message.envelope.message_id)).toEqual([second.message_id]);
    await subscription.close();
  });

  test("a render is a task for a client that declares tasks: created on one replica, which is killed and restarted, polled to completion on both", async () => {
    const call = await rawRequest(0, "tools/call", { name: "blender_render_frames", arguments: { frames: "1-2", group_id: "studio", blend: { snapshot_of: PEER }, ...TINY } }, { extensions: { [TASKS]: {} } });
    expect(call.status).toBe(200);
    expect(call.body.result).toMatchObject({ resultType: "task", status: "working", taskId: expect.stringMatching(/^j-/u), pollIntervalMs: expect.any(Number) });
    const taskId = call.body.result.taskId as string;
    // The task lives in the job record, not in the replica that created it: killing that
    // replica and starting it again loses nothing.
    await fabric.gateways[0]!.kill();
    await fabric.gateways[0]!.restart();
    let task: any;
    let poll = 0;
    await waitFor(
      "the task to complete",
      async () => {
        task = (await rawRequest(poll++ % 2, "tasks/get", { taskId })).body.result;
        return task.status !== "working";
      },
      90_000,
      500,
    ).catch(async (error: unknown) => {
      // What the farm was doing, for whoever reads the failure.
      const status = await rawRequest(1, "tools/call", { name: "blender_job_status", arguments: { job_id: taskId } });
      throw new Error(`${String(error)}; the job: ${JSON.stringify(status.body.result?.structuredContent)}`);
    });
    expect(task).toMatchObject({ resultType: "complete", taskId, status: "completed", result: { structuredContent: { status: "completed", farm: { frames_done: 2 } } } });

    // Without the extension the same tool answers at once with the job id, as before.
    const plain = await rawRequest(1, "tools/call", { name: "blender_render_frames", arguments: { frames: "1", group_id: "studio", blend: { snapshot_of: PEER }, ...TINY } });
    expect(plain.body.result).toMatchObject({ resultType: "complete", structuredContent: { status: "queued" } });
    // Another user cannot see the task.
    const eve = await rawRequest(0, "tasks/get", { taskId }, {}, await mintToken({ sub: "eve" }));
    expect(eve.body.error.code).toBe(-32602);
  }, 120_000);

  test("a dispatch with a long _timeout is a task; tasks/cancel on the other replica cancels it", async () => {
    const withTasks = { extensions: { [TASKS]: {} } };
    const quick = await rawRequest(0, "tools/call", { name: "blender_execute_code", arguments: { target_uuid: PEER, code: "print('as a task')", _timeout: 120 } }, withTasks);
    expect(quick.body.result).toMatchObject({ resultType: "task", status: "working" });
    let task: any;
    await waitFor("the task to complete", async () => (task = (await rawRequest(1, "tasks/get", { taskId: quick.body.result.taskId })).body.result).status !== "working", 30_000, 200);
    expect(task).toMatchObject({ status: "completed", result: { structuredContent: { status: "completed", command: "execute_code" } } });
    expect(JSON.parse(task.result.structuredContent.result)).toMatchObject({ stdout: "as a task\n" });

    const code = "import time\nfor step in range(300):\n    time.sleep(0.1)\n    report_progress(step / 300, 'working')";
    const slow = await rawRequest(1, "tools/call", { name: "blender_execute_code", arguments: { target_uuid: PEER, code, _timeout: 120 } }, withTasks);
    const taskId = slow.body.result.taskId as string;
    await waitFor("the code to run", async () => (await rawRequest(0, "tasks/get", { taskId })).body.result.statusMessage?.includes("running"), 20_000, 100);
    expect((await rawRequest(0, "tasks/cancel", { taskId })).body.result).toMatchObject({ resultType: "complete" });
    await waitFor("the task to end cancelled", async () => (await rawRequest(1, "tasks/get", { taskId })).body.result.status === "cancelled", 20_000, 100);
    // A short _timeout, or no tasks extension: the dispatch waits and answers, as before.
    const plain = await rawRequest(0, "tools/call", { name: "blender_execute_code", arguments: { target_uuid: PEER, code: "print(1)", _timeout: 120 } });
    expect(plain.body.result).toMatchObject({ resultType: "complete", structuredContent: { status: "completed", stdout: "1\n" } });
  }, 90_000);

  test("the 2026 client's requests really went to both replicas", () => {
    expect(new Set(served)).toEqual(new Set(fabric.gateways.map((gateway) => gateway.mcpUrl)));
  });
});
