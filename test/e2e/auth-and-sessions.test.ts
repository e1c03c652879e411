// Bearer tokens and KV-backed sessions over real HTTP against two replica processes.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SignJWT, UnsecuredJWT } from "jose";
import { TEST_JWT_SECRET, mintToken } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let replicaA: string;
let replicaB: string;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  [replicaA, replicaB] = fabric.gateways.map((gateway) => gateway.mcpUrl) as [string, string];
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
  });
}

async function initialize(url: string, token: string) {
  const response = await post(url, INITIALIZE, { authorization: `Bearer ${token}` });
  expect(response.status).toBe(200);
  return response.headers.get("mcp-session-id")!;
}

describe("bearer tokens", () => {
  const rejected = async (authorization?: string) => {
    const response = await post(replicaA, INITIALIZE, authorization ? { authorization } : {});
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="blender-fabric"/);
    return response;
  };

  test("no token", async () => {
    const response = await rejected();
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("Bearer token is required");
  });
  test("expired token", async () => {
    await rejected(`Bearer ${await mintToken({ sub: "u" }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })}`);
  });
  test("wrong signature", async () => {
    await rejected(`Bearer ${await mintToken({ sub: "u" }, { secret: "some-other-secret-of-enough-length" })}`);
  });
  test("signed with the old public dev secret, or any other constant: 401; with the gateways' own secret: 200", async () => {
    const signedWith = (secret: string) =>
      new SignJWT({ sub: "victim", role: "llm-client" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(secret));
    // The first was every install's default, readable in this repository by anyone.
    for (const constant of ["blender-fabric-dev-secret-change-me", "change-me", "secret", "0".repeat(64)]) {
      await rejected(`Bearer ${await signedWith(constant)}`);
    }
    expect((await post(replicaA, INITIALIZE, { authorization: `Bearer ${await signedWith(TEST_JWT_SECRET)}` })).status).toBe(200);
  });
  test("alg none", async () => {
    const unsigned = new UnsecuredJWT({ sub: "u" }).setExpirationTime("1h").encode();
    const response = await rejected(`Bearer ${unsigned}`);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });
  test("a token without sub", async () => {
    const noSubject = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    await rejected(`Bearer ${noSubject}`);
  });
  test("garbage", async () => {
    await rejected("Bearer not.a.jwt");
    await rejected("Basic dXNlcjpwYXNz");
  });
});

describe("sessions live in KV", () => {
  test("initialize on A, use on B; missing 400, unknown 404, another user's 404 (stored under its user)", async () => {
    const token = await mintToken({ sub: "grace" });
    const auth = { authorization: `Bearer ${token}`, "mcp-protocol-version": "2025-06-18" };
    const sessionId = await initialize(replicaA, token);
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };
    const onB = await post(replicaB, list, { ...auth, "mcp-session-id": sessionId });
    expect(onB.status).toBe(200);
    const tools = ((await onB.json()) as { result: { tools: { name: string }[] } }).result.tools.map((tool: { name: string }) => tool.name);
    expect(tools).toEqual(
      expect.arrayContaining([
        "blender_register_client",
        "blender_unregister_client",
        "blender_send_message",
        "blender_job_update",
        "blender_list_available_clients",
      ]),
    );

    expect((await post(replicaB, list, auth)).status).toBe(400);
    expect((await post(replicaB, list, { ...auth, "mcp-session-id": "no-such-session" })).status).toBe(404);
    const mallory = { authorization: `Bearer ${await mintToken({ sub: "mallory" })}` };
    expect((await post(replicaB, list, { ...mallory, "mcp-session-id": sessionId })).status).toBe(404);
    const stream = await fetch(replicaB, {
      headers: { ...mallory, accept: "text/event-stream", "mcp-session-id": sessionId },
    });
    expect(stream.status).toBe(404);
  });

  test("DELETE on one replica ends the session everywhere; ephemeral clients leave, persistent stay", async () => {
    const client = await fabric.connect("heidi", [fabric.gateways[0]!]);
    await client.call("blender_register_client", { client_uuid: "eph", client_type: "llm" });
    await client.call("blender_register_client", { client_uuid: "per", client_type: "blender", is_persistent: true });
    const sessionId = client.sessionId;
    const token = await mintToken({ sub: "heidi" });
    const auth = { authorization: `Bearer ${token}`, "mcp-session-id": sessionId };
    const deleted = await fetch(replicaB, { method: "DELETE", headers: auth });
    expect(deleted.status).toBe(200);
    expect((await post(replicaA, { jsonrpc: "2.0", id: 3, method: "tools/list" }, auth)).status).toBe(404);

    const observer = await fabric.connect("heidi");
    const listing = await observer.call("blender_list_available_clients", { include_stale: true });
    expect(listing.ephemeral).toEqual([]);
    expect(listing.persistent.map((c: { uuid: string }) => c.uuid)).toEqual(["per"]);
  });

  test("55 sessions of one user started at once on one replica all begin (they used to retry each other into a 500)", async () => {
    // Under the user's quotas (60 new a minute, 64 live), all at once, all to one replica.
    const started = await Promise.allSettled(Array.from({ length: 55 }, () => fabric.connect("crowd", [fabric.gateways[0]!])));
    const refused = started.filter((result) => result.status === "rejected").map((result) => String((result as PromiseRejectedResult).reason));
    expect(refused).toEqual([]);
    await Promise.all(started.map((result) => (result.status === "fulfilled" ? result.value.close() : undefined)));
  });
});

test("health, readiness and metrics", async () => {
  const base = fabric.gateways[0]!.baseUrl;
  expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
  expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: "ready", nats_server: expect.any(String) });
  const metrics = await (await fetch(`${base}/metrics`)).text();
  expect(metrics).toContain("fabric_tool_calls_total");
  expect(metrics).toContain("fabric_notification_streams");
});
