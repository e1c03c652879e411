// The gateway's HTTP and tool layers in-process (hono's app.request), against a real
// nats-server: probes, auth, sessions, the edge guard, and the MCP answers tools give, with
// no sockets of the gateway's own and no Blender.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Hono } from "hono";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { ALL_CALL_CANCEL_SUBJECTS } from "@blender-fabric/protocol";
import { TEST_JWT_SECRET, mintToken, startNatsServer, waitFor, type NatsServer } from "@blender-fabric/testkit";
import { createGatewayApp, createGatewayMetrics, createLogger, openGatewayServices, readGatewayEnv, type GatewayServices } from "../src/index.js";

let nats: NatsServer;
let services: GatewayServices;
let app: Hono;
let observer: NatsConnection;
let token: string;

beforeAll(async () => {
  nats = await startNatsServer();
  const env = readGatewayEnv({ FABRIC_NATS_URL: nats.url, FABRIC_LOG_LEVEL: "silent", FABRIC_JWT_SECRET: TEST_JWT_SECRET });
  services = await openGatewayServices(env);
  app = createGatewayApp({ env, services, metrics: createGatewayMetrics(), logger: createLogger("test", "silent") });
  observer = await connect({ servers: nats.url });
  token = await mintToken({ sub: "ines" });
});
afterAll(async () => {
  await observer?.close();
  await services?.close();
  await nats?.stop();
});

/** Requests as a local client sends them: the edge guard serves loopback names. */
const MCP = "http://127.0.0.1:8080/mcp";

const headers = (extra: Record<string, string> = {}) => ({
  host: "127.0.0.1:8080",
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  authorization: `Bearer ${token}`,
  "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
  ...extra,
});

const rpc = (id: number, method: string, params: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: "2.0", id, method, params });

async function openSession(): Promise<string> {
  const response = await app.request(MCP, {
    method: "POST",
    headers: headers(),
    body: rpc(1, "initialize", { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "in-process", version: "1" } }),
  });
  expect(response.status).toBe(200);
  return response.headers.get("mcp-session-id")!;
}

const callTool = (session: string, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
  app.request(MCP, {
    method: "POST",
    headers: headers({ "mcp-session-id": session }),
    body: rpc(7, "tools/call", { name, arguments: args, ...(meta ? { _meta: meta } : {}) }),
  });

test("probes answer without a token", async () => {
  expect((await app.request("/healthz")).status).toBe(200);
  const ready = await app.request("/readyz");
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ status: "ready", nats_server: expect.any(String) });
});

test("no token or a bad one is 401 with WWW-Authenticate; a foreign Host is 403", async () => {
  const missing = await app.request(MCP, { method: "POST", headers: { host: "127.0.0.1:8080", "content-type": "application/json" }, body: rpc(1, "ping") });
  expect(missing.status).toBe(401);
  expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer realm="blender-fabric"/u);
  const forged = await app.request(MCP, { method: "POST", headers: headers({ authorization: "Bearer not.a.jwt" }), body: rpc(1, "ping") });
  expect(forged.status).toBe(401);
  const foreign = await app.request("http://evil.example/mcp", { method: "POST", headers: headers({ host: "evil.example" }), body: rpc(1, "ping") });
  expect(foreign.status).toBe(403);
});

test("sessions: initialize makes one; a request without it is 400, with an unknown one 404", async () => {
  const session = await openSession();
  expect(session).toMatch(/^[0-9a-f-]{36}$/u);
  expect((await app.request(MCP, { method: "POST", headers: headers(), body: rpc(2, "tools/list") })).status).toBe(400);
  const unknown = await app.request(MCP, { method: "POST", headers: headers({ "mcp-session-id": "00000000-0000-4000-8000-000000000000" }), body: rpc(2, "tools/list") });
  expect(unknown.status).toBe(404);
});

test("tools/list: every tool with a title, annotations and an output schema", async () => {
  const session = await openSession();
  const response = await app.request(MCP, { method: "POST", headers: headers({ "mcp-session-id": session }), body: rpc(2, "tools/list") });
  const { result } = (await response.json()) as { result: { tools: { name: string; title?: string; annotations?: object; outputSchema?: { type: string } }[] } };
  expect(result.tools.length).toBeGreaterThanOrEqual(37);
  for (const tool of result.tools) expect([tool.name, typeof tool.title, typeof tool.annotations, tool.outputSchema?.type]).toEqual([tool.name, "string", "object", "object"]);
});

test("a failing status is isError with its JSON text; invalid arguments name the field", async () => {
  const session = await openSession();
  const noPeer = (await (await callTool(session, "blender_get_scene_info", {})).json()) as { result: { isError?: boolean; content: { text: string }[]; structuredContent: object } };
  expect(noPeer.result.isError).toBe(true);
  expect(JSON.parse(noPeer.result.content[0]!.text)).toMatchObject({ status: "no_client" });
  expect(noPeer.result.structuredContent).toMatchObject({ status: "no_client" });
  const invalid = (await (await callTool(session, "blender_get_object_info", {})).json()) as { result: { isError?: boolean; content: { text: string }[] } };
  expect(invalid.result.isError).toBe(true);
  expect(JSON.parse(invalid.result.content[0]!.text)).toMatchObject({ status: "invalid_params", field: "name" });
});

test("a call with a progress token is answered as an SSE stream; without one as JSON", async () => {
  const session = await openSession();
  const plain = await callTool(session, "blender_list_available_clients", {});
  expect(plain.headers.get("content-type")).toMatch(/application\/json/u);
  const streamed = await callTool(session, "blender_list_available_clients", {}, { progressToken: "p-1" });
  expect(streamed.headers.get("content-type")).toMatch(/text\/event-stream/u);
  const text = await streamed.text();
  expect(text).toMatch(/"status\\":\\"ok\\"/u);
});

/** The request id of every cancellation announced to the replicas, in order. */
function watchCancelAnnouncements() {
  const heard: unknown[] = [];
  const subscription = observer.subscribe(ALL_CALL_CANCEL_SUBJECTS, {
    callback: (_error, message) => {
      heard.push((message.json() as { request_id: unknown }).request_id);
    },
  });
  return { heard, stop: () => subscription.unsubscribe(), ready: () => observer.flush() };
}

const cancel = (session: string, requestId: number) =>
  app.request(MCP, {
    method: "POST",
    headers: headers({ "mcp-session-id": session }),
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId, reason: "changed my mind" } }),
  });

test("notifications/cancelled for a call not running here is announced to every replica, once per request id", async () => {
  const session = await openSession();
  const watch = watchCancelAnnouncements();
  await watch.ready();
  expect((await cancel(session, 41)).status).toBe(202);
  expect((await cancel(session, 41)).status).toBe(202);
  expect((await cancel(session, 42)).status).toBe(202);
  // One publisher's messages arrive in order: once 42 is heard, a second 41 would have been.
  await waitFor("the cancellation of 42 to be heard", () => watch.heard.includes(42), 5_000, 10);
  watch.stop();
  expect(watch.heard).toEqual([41, 42]);
});

test("a JSON-RPC batch is refused whole with 400, and 20,000 cancellations in one announce nothing", async () => {
  const session = await openSession();
  const watch = watchCancelAnnouncements();
  await watch.ready();
  const batch = Array.from({ length: 20_000 }, (_, index) => ({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1_000 + index } }));
  const refused = await app.request(MCP, { method: "POST", headers: headers({ "mcp-session-id": session }), body: JSON.stringify(batch) });
  expect(refused.status).toBe(400);
  expect(await refused.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600, message: expect.stringMatching(/batches are not accepted/u) } });
  // A batch of requests is not served either, not even its first message.
  const requests = await app.request(MCP, { method: "POST", headers: headers({ "mcp-session-id": session }), body: `[${rpc(2, "tools/list")},${rpc(3, "ping")}]` });
  expect(requests.status).toBe(400);
  expect(((await requests.json()) as { error: { code: number } }).error.code).toBe(-32600);
  // Not a JSON-RPC message at all: refused the same way.
  const stray = await app.request(MCP, { method: "POST", headers: headers({ "mcp-session-id": session }), body: JSON.stringify({ method: "notifications/cancelled", params: { requestId: 7 } }) });
  expect(stray.status).toBe(400);
  // The bound: a single cancellation sent after them is the first thing heard.
  expect((await cancel(session, 999)).status).toBe(202);
  await waitFor("the cancellation of 999 to be heard", () => watch.heard.length > 0, 5_000, 10);
  watch.stop();
  expect(watch.heard).toEqual([999]);
});

test("cancelling a call that runs on this replica aborts it here, with nothing on the wire", async () => {
  const session = await openSession();
  const watch = watchCancelAnnouncements();
  await watch.ready();
  // A project's work waits for a peer that no pool starts here: the call runs until its timeout.
  const call = callTool(session, "blender_execute_code", { target_uuid: "project:never-served", code: "print(1)", _timeout: 60 });
  await waitFor("the call to run", () => services.cancellations.runs(session, 7), 10_000, 10);
  expect((await cancel(session, 7)).status).toBe(202);
  // The call ended at once, and its client, which let it go, gets no answer (202, empty).
  const answered = await call;
  expect(answered.status).toBe(202);
  expect(await answered.text()).toBe("");
  // The bound: a cancellation for a call not running here is announced, and is the first heard.
  expect((await cancel(session, 8)).status).toBe(202);
  await waitFor("the cancellation of 8 to be heard", () => watch.heard.length > 0, 5_000, 10);
  watch.stop();
  expect(watch.heard).toEqual([8]);
});
