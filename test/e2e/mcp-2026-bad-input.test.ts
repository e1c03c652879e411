// Issue 19, bad input on the 2026-07-28 wire: a missing or contradictory `_meta` or header, an
// unknown protocol version, an inbox cursor of another user or past the end, a wait beyond
// its cap: each gets a clear error naming what is wrong, and the inbox loses nothing. Real
// nats-server and two gateway replicas; no Blender needed.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mintToken, waitFor } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  // Three listen streams per user per replica (the per-user session limit), to reach it.
  fabric = await startFabric({ gateways: 2, gatewayEnv: { FABRIC_MAX_SESSIONS_PER_USER: "3" } });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };

type Post = { user?: string; method: string; params?: Record<string, unknown>; meta?: Record<string, unknown> | null; headers?: Record<string, string | null>; replica?: number };

/** One 2026 POST; `meta: null` leaves `_meta` out, a `null` header leaves that header out. */
async function post({ user = "ursula", method, params = {}, meta = META, headers = {}, replica = 0 }: Post) {
  const name = (params.name ?? params.uri) as string | undefined;
  const standard: Record<string, string | null> = {
    authorization: `Bearer ${await mintToken({ sub: user })}`,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": method,
    "mcp-name": name ?? null,
    ...headers,
  };
  const response = await fetch(fabric.gateways[replica]!.mcpUrl, {
    method: "POST",
    headers: Object.fromEntries(Object.entries(standard).filter((entry): entry is [string, string] => entry[1] !== null)),
    body: JSON.stringify({ jsonrpc: "2.0", id: "req-1", method, params: meta === null ? params : { ...params, _meta: meta } }),
  });
  return { status: response.status, body: (await response.json()) as { id?: unknown; result?: any; error?: { code: number; message: string; data?: any } } };
}

/** Opens a `subscriptions/listen` stream of `user` on one replica; the raw response. */
async function listen(user: string, id: string | number, resourceSubscriptions: unknown, options: { replica?: number; signal?: AbortSignal; toolsListChanged?: boolean } = {}) {
  return fetch(fabric.gateways[options.replica ?? 0]!.mcpUrl, {
    method: "POST",
    signal: options.signal,
    headers: {
      authorization: `Bearer ${await mintToken({ sub: user })}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "subscriptions/listen",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "subscriptions/listen",
      params: { _meta: META, notifications: { ...(options.toolsListChanged ? { toolsListChanged: true } : {}), resourceSubscriptions } },
    }),
  });
}

const call = async (user: string, name: string, args: Record<string, unknown>, replica = 0) => {
  const answer = await post({ user, method: "tools/call", params: { name, arguments: args }, replica });
  return answer.body.result.structuredContent;
};

test("a missing or incomplete _meta is 400 -32602 naming the missing key; without clientInfo it is served", async () => {
  const missing = await post({ method: "tools/list", meta: null });
  expect(missing.status).toBe(400);
  expect(missing.body).toMatchObject({ id: "req-1", error: { code: -32602, message: expect.stringContaining("_meta is required") } });
  const noCapabilities = await post({ method: "tools/list", meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } });
  expect(noCapabilities.status).toBe(400);
  expect(noCapabilities.body.error!.message).toContain("io.modelcontextprotocol/clientCapabilities");
  const badInfo = await post({ method: "tools/list", meta: { ...META, "io.modelcontextprotocol/clientInfo": "me" } });
  expect(badInfo.body.error).toMatchObject({ code: -32602, message: expect.stringContaining("clientInfo") });
  const served = await post({ method: "tools/list" });
  expect(served.status).toBe(200);
  expect(served.body.result.tools.length).toBeGreaterThan(20);
});

test("headers that contradict the body are 400 -32020 naming the header", async () => {
  const version = await post({ method: "tools/list", headers: { "mcp-protocol-version": "2026-12-01" } });
  expect(version.status).toBe(400);
  expect(version.body.error).toMatchObject({ code: -32020, message: expect.stringContaining("MCP-Protocol-Version") });
  const method = await post({ method: "tools/list", headers: { "mcp-method": "tools/call" } });
  expect(method.body.error).toMatchObject({ code: -32020, message: expect.stringContaining("Mcp-Method") });
  const noName = await post({ method: "tools/call", params: { name: "blender_list_jobs", arguments: {} }, headers: { "mcp-name": null } });
  expect(noName.status).toBe(400);
  expect(noName.body.error).toMatchObject({ code: -32020, message: expect.stringContaining("Mcp-Name is missing") });
  const otherName = await post({ method: "tools/call", params: { name: "blender_list_jobs", arguments: {} }, headers: { "mcp-name": "blender_job_cancel" } });
  expect(otherName.body.error!.code).toBe(-32020);
  // The base64 form of a header value is decoded before comparing.
  const encoded = `=?base64?${Buffer.from("blender_list_jobs").toString("base64")}?=`;
  const decoded = await post({ method: "tools/call", params: { name: "blender_list_jobs", arguments: {} }, headers: { "mcp-name": encoded } });
  expect(decoded.body.result.structuredContent.status).toBe("ok");
});

test("an unknown protocol version is 400 -32022 with the supported versions; removed methods are 404 -32601", async () => {
  const unknown = await post({ method: "tools/list", meta: { ...META, "io.modelcontextprotocol/protocolVersion": "2027-01-01" }, headers: { "mcp-protocol-version": "2027-01-01" } });
  expect(unknown.status).toBe(400);
  expect(unknown.body.error).toMatchObject({ code: -32022, data: { supported: ["2026-07-28"], requested: "2027-01-01" } });
  for (const removed of ["initialize", "ping", "logging/setLevel", "resources/subscribe"]) {
    const answer = await post({ method: removed });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ id: "req-1", error: { code: -32601, message: expect.stringContaining("removed in MCP 2026-07-28") } });
  }
  const badId = await fetch(fabric.gateways[0]!.mcpUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${await mintToken({ sub: "ursula" })}`, "content-type": "application/json", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
    body: JSON.stringify({ jsonrpc: "2.0", id: { not: "an id" }, method: "tools/list", params: { _meta: META } }),
  });
  expect(badId.status).toBe(400);
  expect(((await badId.json()) as { error: { code: number } }).error.code).toBe(-32600);
  const unauthenticated = await fetch(fabric.gateways[0]!.mcpUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } }),
  });
  expect(unauthenticated.status).toBe(401);
});

test("inbox cursors of another user or past the end, and waits beyond the cap, are refused by field; the inbox keeps every message", async () => {
  await call("ursula", "blender_register_client", { client_uuid: "ursula-agent", client_type: "llm" });
  await call("victor", "blender_register_client", { client_uuid: "ursula-agent", client_type: "llm" });
  for (const n of [1, 2, 3]) await call("ursula", "blender_send_message", { target_uuid: "ursula-agent", payload: { n } }, n % 2);
  const first = await call("ursula", "blender_receive_messages", { client_uuid: "ursula-agent", limit: 2 }, 1);
  expect(first).toMatchObject({ status: "ok", has_more: true });
  expect(first.messages.map((message: any) => message.envelope.payload.n)).toEqual([1, 2]);

  // Victor's client of the same uuid has an inbox of its own: Ursula's cursor is not his.
  const stolen = await call("victor", "blender_receive_messages", { client_uuid: "ursula-agent", after: first.next_cursor });
  expect(stolen).toMatchObject({ status: "invalid_params", field: "after", error: expect.stringContaining("another inbox") });
  const [, tag] = (first.next_cursor as string).split(".");
  const ahead = await call("ursula", "blender_receive_messages", { client_uuid: "ursula-agent", after: `999999999.${tag}` });
  expect(ahead).toMatchObject({ status: "invalid_params", field: "after", error: expect.stringContaining("past the end") });
  const garbage = await call("ursula", "blender_receive_messages", { client_uuid: "ursula-agent", after: "user.ursula.>" });
  expect(garbage).toMatchObject({ status: "invalid_params", field: "after" });
  const tooLong = await call("ursula", "blender_receive_messages", { client_uuid: "ursula-agent", wait_seconds: 51 });
  expect(tooLong).toMatchObject({ status: "invalid_params", field: "wait_seconds" });
  const nobody = await call("ursula", "blender_receive_messages", { client_uuid: "nobody" });
  expect(nobody).toMatchObject({ status: "not_found" });
  const noClient = await call("ursula", "blender_receive_messages", {});
  expect(noClient).toMatchObject({ status: "invalid_params", field: "client_uuid" });
  const victorsOwn = await call("victor", "blender_receive_messages", { client_uuid: "ursula-agent" });
  expect(victorsOwn.messages).toEqual([]);

  // The resource says the same, as JSON-RPC errors with the URI.
  const badRead = await post({ method: "resources/read", params: { uri: `fabric://clients/ursula-agent/inbox?after=999999999.${tag}` } });
  expect(badRead.body.error).toMatchObject({ code: -32602, message: expect.stringContaining("past the end") });
  const unknownInbox = await post({ method: "resources/read", params: { uri: "fabric://clients/nobody/inbox" } });
  expect(unknownInbox.body.error).toMatchObject({ code: -32602, data: { uri: "fabric://clients/nobody/inbox" } });

  // Nothing was lost: the rest, then everything again from the start (at-least-once, same cursors).
  const rest = await call("ursula", "blender_receive_messages", { client_uuid: "ursula-agent", after: first.next_cursor });
  expect(rest.messages.map((message: any) => message.envelope.payload.n)).toEqual([3]);
  const again = await call("ursula", "blender_receive_messages", { client_uuid: "ursula-agent" }, 1);
  expect(again.messages.map((message: any) => message.cursor)).toEqual([...first.messages, ...rest.messages].map((message: any) => message.cursor));
});

test("a listen names only inboxes of the caller's registered clients; another user's is not acknowledged", async () => {
  await call("walt", "blender_register_client", { client_uuid: "walt-agent", client_type: "llm" });
  const controller = new AbortController();
  const uris = ["fabric://clients/walt-agent/inbox", "fabric://clients/ursula-agent/inbox", "blender://scene/info"];
  const response = await listen("walt", "sub-7", uris, { replica: 1, signal: controller.signal, toolsListChanged: true });
  expect(response.headers.get("content-type")).toBe("text/event-stream");
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  const ack = JSON.parse(/data: (.*)/u.exec(new TextDecoder().decode(value))![1]!);
  expect(ack).toEqual({
    jsonrpc: "2.0",
    method: "notifications/subscriptions/acknowledged",
    params: { notifications: { resourceSubscriptions: ["fabric://clients/walt-agent/inbox"] }, _meta: { "io.modelcontextprotocol/subscriptionId": "sub-7" } },
  });
  controller.abort();
  const notAList = await post({ user: "walt", method: "subscriptions/listen", params: { notifications: { resourceSubscriptions: "fabric://clients/walt-agent/inbox" } } });
  expect(notAList.body.error).toMatchObject({ code: -32602, message: expect.stringContaining("resourceSubscriptions") });
});

test("one user holds at most FABRIC_MAX_SESSIONS_PER_USER listen streams on a replica; a closed one frees its place", async () => {
  await call("yara", "blender_register_client", { client_uuid: "yara-agent", client_type: "llm" });
  const open = (signal: AbortSignal) => listen("yara", "l", ["fabric://clients/yara-agent/inbox"], { signal });
  const controllers = [new AbortController(), new AbortController(), new AbortController()];
  const opened = await Promise.all(controllers.map((controller) => open(controller.signal)));
  expect(opened.map((response) => response.status)).toEqual([200, 200, 200]);
  const refused = await open(new AbortController().signal);
  expect(refused.status).toBe(429);
  expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("quota_exceeded");
  controllers[0]!.abort();
  await waitFor("a place to free", async () => {
    const controller = new AbortController();
    const response = await open(controller.signal);
    controller.abort();
    return response.status === 200;
  }, 5_000, 100);
  for (const controller of controllers) controller.abort();
});

test("a replica that stops ends its listen streams with their result, so clients listen again elsewhere", async () => {
  await call("xena", "blender_register_client", { client_uuid: "xena-agent", client_type: "llm" });
  const response = await listen("xena", 8, ["fabric://clients/xena-agent/inbox"], { replica: 1 });
  const reader = response.body!.getReader();
  await reader.read(); // the acknowledgement
  const stopping = fabric.gateways[1]!.stop();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await stopping;
  const last = JSON.parse([...text.matchAll(/data: (.*)/gu)].at(-1)![1]!);
  expect(last).toMatchObject({ jsonrpc: "2.0", id: 8, result: { resultType: "complete", _meta: { "io.modelcontextprotocol/subscriptionId": 8 } } });
});
