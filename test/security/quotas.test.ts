// Issue 16: tenant quotas. Each limit, when exceeded, answers quota_exceeded naming it, and
// nothing already stored is lost. Real nats-server and gateway replicas; small limits so the
// test reaches them quickly.
import { afterAll, beforeAll, expect, test } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { FabricTestClient, mintToken } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;

beforeAll(async () => {
  fabric = await startFabric({
    gateways: 2,
    gatewayEnv: { FABRIC_MAX_SESSIONS_PER_USER: "3", FABRIC_SESSIONS_PER_MINUTE: "5", FABRIC_MAX_UNFINISHED_JOBS: "6", FABRIC_TENANT_BLEND_BYTES: "1500000" },
  });
});

afterAll(async () => {
  await fabric?.[Symbol.asyncDispose]();
});

/** A raw `initialize` POST, as a client that never closes its sessions sends it. */
const initialize = async (userId: string, replica = 0) =>
  fetch(fabric.gateways[replica]!.mcpUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${await mintToken({ sub: userId })}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "q", version: "1" } } }),
  });

/** DELETE /mcp: the session ends. */
const endSession = async (userId: string, sessionId: string, replica = 0) =>
  fetch(fabric.gateways[replica]!.mcpUrl, {
    method: "DELETE",
    headers: { authorization: `Bearer ${await mintToken({ sub: userId })}`, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
  });

test("live sessions per user are capped; one more initialize gets 429 naming the limit, and the sessions held keep working", async () => {
  const held = [await fabric.connect("quinn"), await fabric.connect("quinn"), await fabric.connect("quinn")];
  const refused = await initialize("quinn");
  expect(refused.status).toBe(429);
  expect(JSON.stringify(await refused.json())).toMatch(/quota_exceeded: FABRIC_MAX_SESSIONS_PER_USER \(3 live sessions\)/);
  // Another user is not affected by quinn's sessions.
  expect((await initialize("rosa")).status).toBe(200);
  for (const client of held) expect(await client.call("blender_list_available_clients", {})).toMatchObject({ status: "ok" });
  // A session ended frees its place.
  await held.pop()!.close();
  await expect.poll(async () => (await initialize("quinn")).status, { timeout: 10_000 }).toBe(200);
});

test("new sessions per user per minute are capped, counted over every replica, ended sessions included", async () => {
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 6; attempt += 1) {
    const replica = attempt % 2;
    const response = await initialize("sam", replica);
    statuses.push(response.status);
    if (response.status === 429) {
      expect(JSON.stringify(await response.json())).toMatch(/quota_exceeded: FABRIC_SESSIONS_PER_MINUTE \(5 new sessions a minute\)/);
      continue;
    }
    // Ended at once: never more than one live, so only the per-minute limit can refuse.
    expect((await endSession("sam", response.headers.get("mcp-session-id")!, 1 - replica)).status).toBeLessThan(300);
  }
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
});

test("queued work per user is capped: a farm job that would pass the limit is refused whole, and what is queued stays", async () => {
  const llm = await fabric.connect("tess");
  // A group with no peer: its tasks wait, queued.
  const first = await llm.call("blender_farm_map", { script: "pass", items: [1, 2, 3, 4], group_id: "nobody-here" });
  expect(first).toMatchObject({ status: "queued", tasks: 4 });
  const second = await llm.call("blender_farm_map", { script: "pass", items: [1, 2, 3], group_id: "nobody-here" });
  expect(second).toMatchObject({ status: "quota_exceeded", error: expect.stringContaining("FABRIC_MAX_UNFINISHED_JOBS") });
  expect(await llm.call("blender_job_status", { job_id: first.job_id })).toMatchObject({ status: "queued" });
  // Another user's limit is their own.
  const other = await fabric.connect("uma");
  expect(await other.call("blender_farm_map", { script: "pass", items: [1, 2, 3, 4], group_id: "nobody-here" })).toMatchObject({ status: "queued" });
  await llm.call("blender_job_cancel", { job_id: first.job_id });
});

test("a token holder cannot mint its way around the quotas: a token signed with any other secret is refused", async () => {
  const forged = await mintToken({ sub: "quinn" }, { secret: "x".repeat(40) });
  const response = await fetch(fabric.gateways[0]!.mcpUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${forged}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
  });
  expect(response.status).toBe(401);
  // The client class needs no Blender: listing works with a real token.
  const client = await FabricTestClient.connect({ mcpUrls: [fabric.gateways[1]!.mcpUrl], token: await mintToken({ sub: "vic" }) });
  expect(await client.call("blender_list_available_clients", {})).toMatchObject({ status: "ok" });
  await client.close();
});

test("stored .blend bytes per tenant are capped: an upload past the quota gets 413 naming it, and what is stored stays", async () => {
  const token = await mintToken({ sub: "wes" });
  const put = (bytes: Buffer) =>
    fetch(`${fabric.gateways[0]!.baseUrl}/blends/${createHash("sha256").update(bytes).digest("hex")}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
  // Blender's header, then noise: what an upload checks a .blend by.
  const blendLike = () => Buffer.concat([Buffer.from("BLENDER-v304"), randomBytes(1_000_000)]);
  const first = blendLike();
  expect((await put(first)).status).toBe(201);
  const refused = await put(blendLike());
  expect(refused.status).toBe(413);
  expect(await refused.json()).toMatchObject({ status: "quota_exceeded", error: expect.stringContaining("FABRIC_TENANT_BLEND_BYTES (1500000 bytes") });
  // The first is still there, and another tenant's quota is its own.
  const sha256 = createHash("sha256").update(first).digest("hex");
  expect((await fetch(`${fabric.gateways[1]!.baseUrl}/blends/${sha256}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  const other = await fetch(`${fabric.gateways[0]!.baseUrl}/blends/${createHash("sha256").update(first).digest("hex")}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${await mintToken({ sub: "xia" })}`, "content-type": "application/octet-stream" },
    body: first,
  });
  expect(other.status).toBe(201);
});
