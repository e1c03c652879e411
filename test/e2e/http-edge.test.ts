// Issue 8: the HTTP edge. Host and Origin are checked on /mcp (DNS rebinding), bodies are
// capped, and a refused request never reaches NATS. Raw HTTP (node:http), because fetch
// may not set Host.
import { afterAll, beforeAll, expect, test } from "vitest";
import { request } from "node:http";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { mintToken, startGatewayProcess, startNatsServer, type GatewayProcess, type NatsServer } from "@blender-fabric/testkit";

let nats: NatsServer;
let gateway: GatewayProcess;
let observer: NatsConnection;
let traffic: Subscription;
const seen: string[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  gateway = await startGatewayProcess({
    natsUrls: [nats.url],
    // debug: the most the gateway ever logs, where a leaked token would show.
    env: { FABRIC_ALLOWED_HOSTS: "fabric.example.com", FABRIC_ALLOWED_ORIGINS: "https://console.example.com", FABRIC_LOG_LEVEL: "debug" },
  });
  observer = await connect({ servers: nats.url });
  traffic = observer.subscribe("user.>", {
    callback: (_error, message) => {
      seen.push(message.subject);
    },
  });
  await observer.flush();
});

afterAll(async () => {
  traffic?.unsubscribe();
  await observer?.close();
  await gateway?.stop();
  await nats?.stop();
});

type Answer = { status: number; body: string; headers: Record<string, string | string[] | undefined> };

/** A raw HTTP request to the gateway with exactly these headers. */
function send(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer> {
  const url = new URL(gateway.baseUrl);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: url.hostname, port: url.port, method, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: response.headers }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

const mcpHeaders = async (extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${await mintToken({ sub: "edna" })}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  host: `127.0.0.1:${new URL(gateway.baseUrl).port}`,
  ...extra,
});

/** A session of edna's, opened through an allowed Host. */
async function openSession(): Promise<string> {
  const opened = await send("POST", "/mcp", await mcpHeaders(), initialize);
  expect(opened.status).toBe(200);
  return opened.headers["mcp-session-id"] as string;
}

const sendMessageCall = (payload: unknown) =>
  JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "blender_send_message", arguments: { payload, client_type: "blender" } } });

test("a foreign Host or Origin gets 403 on /mcp and nothing is published; loopback and configured ones pass", async () => {
  const sessionId = await openSession();
  const call = sendMessageCall({ message_type: "note", text: "hello" });
  seen.length = 0;
  const evilHost = await send("POST", "/mcp", await mcpHeaders({ host: "evil.example", "mcp-session-id": sessionId }), call);
  expect(evilHost.status).toBe(403);
  expect(evilHost.body).toContain("Host");
  const evilOrigin = await send("POST", "/mcp", await mcpHeaders({ origin: "http://evil.example", "mcp-session-id": sessionId }), call);
  expect(evilOrigin.status).toBe(403);
  expect(evilOrigin.body).toContain("Origin");
  expect((await send("POST", "/mcp", await mcpHeaders({ origin: "null", "mcp-session-id": sessionId }), call)).status).toBe(403);
  // The rebinding page's request to the artifacts route is refused the same way.
  expect((await send("GET", "/artifacts/x/y/z", await mcpHeaders({ host: "evil.example" }))).status).toBe(403);
  await observer.flush();
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(seen).toEqual([]);

  for (const headers of <Record<string, string>[]>[
    { host: `localhost:${new URL(gateway.baseUrl).port}` },
    { host: "fabric.example.com" },
    { origin: "http://localhost:5173" },
    { origin: "https://console.example.com" },
  ]) {
    const passed = await send("POST", "/mcp", await mcpHeaders({ ...headers, "mcp-session-id": sessionId }), call);
    expect(passed.status, JSON.stringify(headers)).toBe(200);
  }
  // Probes stay reachable by any Host (a Kubernetes probe sends the pod's IP).
  expect((await send("GET", "/healthz", { host: "10.1.2.3:8080" })).status).toBe(200);
});

test("a 10 MiB body gets 413 and nothing is published", async () => {
  const sessionId = await openSession();
  seen.length = 0;
  const huge = sendMessageCall({ message_type: "note", text: "x".repeat(10 * 1024 * 1024) });
  const answer = await send("POST", "/mcp", await mcpHeaders({ "mcp-session-id": sessionId }), huge);
  expect(answer.status).toBe(413);
  expect(answer.body).toContain("FABRIC_MAX_BODY_BYTES");
  await observer.flush();
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(seen).toEqual([]);
});

test("a bearer token never appears in the gateway's log, refused or accepted", async () => {
  const bad = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlZG5hIn0.not-a-real-signature-4711";
  expect((await send("POST", "/mcp", await mcpHeaders({ authorization: `Bearer ${bad}` }), initialize)).status).toBe(401);
  const good = await mintToken({ sub: "edna" });
  expect((await send("POST", "/mcp", await mcpHeaders({ authorization: `Bearer ${good}` }), initialize)).status).toBe(200);
  expect(gateway.output()).not.toContain("not-a-real-signature-4711");
  expect(gateway.output()).not.toContain(good.split(".")[2]!);
});
