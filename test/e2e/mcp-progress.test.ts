// Issue 10, acceptance 3 and 4: a long execute_code sent with a progress token is answered
// as an SSE stream whose notifications/progress carry the job's report_progress calls, and
// notifications/cancelled for a running call cancels its job, whichever replica receives it.
// The test client's requests alternate over two replicas, so the cancel goes through the
// other one. Real Blender.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mintToken, startBridgeProcess, waitFor, type BridgeProcess, type FabricTestClient } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";
import { waitForRunningJob } from "../support/running-job.js";

let fabric: Fabric;
let bridge: BridgeProcess;
let llm: FabricTestClient;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  bridge = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "pia", uuid: "blender-pia" });
  llm = await fabric.connect("pia");
});
afterAll(async () => {
  await bridge?.stop();
  await fabric?.[Symbol.asyncDispose]();
});

test("a 3-second execute_code with a progress token delivers its three progress reports before its result", async () => {
  const code = "import time\nfor step in range(1, 4):\n    time.sleep(1)\n    report_progress(step / 4, f'step {step}')\nprint('done')";
  for (let round = 0; round < 2; round += 1) {
    const seen: { progress: number; message?: string; at: number }[] = [];
    const result = await llm.client.callTool(
      { name: "blender_execute_code", arguments: { target_uuid: "blender-pia", code } },
      undefined,
      { onprogress: (progress) => seen.push({ progress: progress.progress, message: progress.message, at: Date.now() }) },
    );
    const answeredAt = Date.now();
    expect(result.structuredContent).toMatchObject({ status: "completed", result: { executed: true, result: "done\n" } });
    expect(seen.map((report) => [report.progress, report.message])).toEqual([
      [0.25, "step 1"],
      [0.5, "step 2"],
      [0.75, "step 3"],
    ]);
    expect(seen.every((report) => report.at <= answeredAt)).toBe(true);
  }
});

test("without a progress token the answer is plain JSON", async () => {
  const response = await fetch(fabric.gateways[0]!.mcpUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${await mintToken({ sub: "pia" })}`,
      "mcp-session-id": llm.sessionId,
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "blender_get_scene_info", arguments: { target_uuid: "blender-pia" } } }),
  });
  expect(response.headers.get("content-type")).toMatch(/application\/json/u);
  const answer = (await response.json()) as { result: { structuredContent: { status: string } } };
  expect(answer.result.structuredContent.status).toBe("completed");
});

test("cancelling a running 10-second execute_code ends its job cancelled within a second", async () => {
  const code = "import time\nfor step in range(100):\n    time.sleep(0.1)\n    report_progress(step / 100, 'working')\nprint('finished')";
  const controller = new AbortController();
  const call = llm.client.callTool({ name: "blender_execute_code", arguments: { target_uuid: "blender-pia", code } }, undefined, { signal: controller.signal });
  call.catch(() => {}); // rejected by the abort
  const jobId = await waitForRunningJob(llm, { call });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cancelledAt = Date.now();
  controller.abort("the user changed their mind");
  await waitFor("the job to end cancelled", async () => (await llm.call("blender_job_status", { job_id: jobId })).status === "cancelled", 5_000, 50);
  expect(Date.now() - cancelledAt).toBeLessThan(1_000);
  const record = await llm.call("blender_job_status", { job_id: jobId });
  expect(record).toMatchObject({ status: "cancelled" });
  await expect(call).rejects.toThrow();
});

test("a cancelled call gets no answer (202, empty), whichever replica took the cancel; with a progress token its stream ends without one", async () => {
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${await mintToken({ sub: "pia" })}`,
    "mcp-session-id": llm.sessionId,
    "mcp-protocol-version": "2025-06-18",
  };
  const code = "import time\nfor step in range(100):\n    time.sleep(0.1)\n    report_progress(step / 100, 'working')\nprint('finished')";
  for (const [id, meta] of [[7001, {}], [7002, { _meta: { progressToken: "p-7002" } }]] as const) {
    const post = (url: string, message: unknown) => fetch(url, { method: "POST", headers, body: JSON.stringify(message) });
    const call = post(fabric.gateways[0]!.mcpUrl, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "blender_execute_code", arguments: { target_uuid: "blender-pia", code }, ...meta } });
    await waitFor("the call's job to run", async () => ((await llm.call("blender_list_jobs", { status: "running" })).total as number) > 0, 10_000, 50);
    // The cancel goes to the other replica.
    const cancel = await post(fabric.gateways[1]!.mcpUrl, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "changed my mind" } });
    expect(cancel.status).toBe(202);
    const response = await call;
    const text = await response.text();
    if ("_meta" in meta) {
      expect(response.status).toBe(200);
      expect(text).not.toContain(`"id":${id}`);
    } else {
      expect(response.status).toBe(202);
      expect(text).toBe("");
    }
    await waitFor("no job to run", async () => ((await llm.call("blender_list_jobs", { status: "running" })).total as number) === 0, 10_000, 50);
  }
});
