// Acceptance 2: every routing mode with several clients on one user's bus: who receives,
// who does not, the sender's own copy, and `targets`/`routing` matching what was delivered.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { FabricTestClient } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
const peers = new Map<string, FabricTestClient>();

/** uuid -> registration; each registered from its own MCP session. */
const CLIENTS = {
  "llm-coordinator": { client_type: "llm", group_id: "studio" },
  "llm-helper": { client_type: "llm", group_id: null },
  "blender-farm-01": { client_type: "blender", group_id: "render-cluster" },
  "blender-farm-02": { client_type: "blender", group_id: "render-cluster" },
  "blender-preview": { client_type: "blender", group_id: "studio" },
} as const;
const ALL = Object.keys(CLIENTS);

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  for (const [uuid, registration] of Object.entries(CLIENTS)) {
    const peer = await fabric.connectListening("erin");
    await peer.call("blender_register_client", { client_uuid: uuid, ...registration });
    peers.set(uuid, peer);
  }
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

let fenceCount = 0;
/**
 * Waits until every peer has received a fresh fence broadcast from a bystander; anything
 * routed before it has been delivered by then, so absences can be asserted.
 */
async function fence() {
  const fenceId = `fence-${(fenceCount += 1)}`;
  const bystander = await fabric.connect("erin");
  await bystander.call("blender_send_message", { payload: { fence: fenceId }, priority: "emergency" });
  await Promise.all([...peers.values()].map((peer) => peer.nextNotification((data) => data.payload.fence === fenceId)));
}

async function sendAndCollect(sender: string, args: Record<string, unknown>) {
  const marker = `m-${Math.random()}`;
  const sent = await peers.get(sender)!.call("blender_send_message", {
    from_uuid: sender,
    payload: { marker },
    ...args,
  });
  expect(sent.status).toBe("ok");
  await fence();
  const receivedBy = ALL.filter((uuid) => peers.get(uuid)!.received((data) => data.payload.marker === marker).length > 0);
  const copies = ALL.flatMap((uuid) => peers.get(uuid)!.received((data) => data.payload.marker === marker));
  return { sent, receivedBy: receivedBy.sort(), copies };
}

test("direct reaches exactly the named client", async () => {
  const { sent, receivedBy, copies } = await sendAndCollect("llm-coordinator", { target_uuid: "blender-farm-02" });
  expect(receivedBy).toEqual(["blender-farm-02"]);
  expect(sent.targets).toEqual(["blender-farm-02"]);
  expect(sent.routing).toEqual({ type: "direct", target_uuid: "blender-farm-02" });
  expect(copies[0]?.data).toMatchObject({ routing: sent.routing, target_uuid: "blender-farm-02" });
});

test("target_uuid wins over group_id and client_type", async () => {
  const { sent, receivedBy } = await sendAndCollect("llm-coordinator", {
    target_uuid: "llm-helper",
    group_id: "render-cluster",
    client_type: "blender",
  });
  expect(sent.routing.type).toBe("direct");
  expect(receivedBy).toEqual(["llm-helper"]);
});

test("group reaches every member; a member sender gets its own copy", async () => {
  const { sent, receivedBy, copies } = await sendAndCollect("blender-preview", { group_id: "studio", client_type: "blender" });
  expect(sent.routing).toEqual({ type: "group", group_id: "studio" });
  expect(receivedBy).toEqual(["blender-preview", "llm-coordinator"]);
  expect(sent.targets).toEqual(receivedBy);
  expect(copies.every((copy) => (copy.data as { routing: { type: string } }).routing.type === "group")).toBe(true);
});

test("type_filter reaches every client of the type, the sender included", async () => {
  const { sent, receivedBy } = await sendAndCollect("blender-farm-01", { client_type: "blender" });
  expect(sent.routing).toEqual({ type: "type_filter", client_type: "blender" });
  expect(receivedBy).toEqual(["blender-farm-01", "blender-farm-02", "blender-preview"]);
  expect(sent.targets).toEqual(receivedBy);
});

test("broadcast reaches everyone but the sender", async () => {
  const { sent, receivedBy, copies } = await sendAndCollect("llm-helper", { priority: "warning" });
  expect(sent.routing).toEqual({ type: "broadcast" });
  const everyoneElse = ALL.filter((uuid) => uuid !== "llm-helper").sort();
  expect(receivedBy).toEqual(everyoneElse);
  expect(sent.targets).toEqual(everyoneElse);
  expect(copies.every((copy) => copy.level === "warning")).toBe(true);
});

test("a group nobody is in reaches nobody and says so", async () => {
  const { sent, receivedBy } = await sendAndCollect("llm-coordinator", { group_id: "empty-group" });
  expect(sent.targets).toEqual([]);
  expect(receivedBy).toEqual([]);
});

test("logging/setLevel filters by priority on whichever replica holds the stream", async () => {
  const helper = peers.get("llm-helper")!;
  await helper.client.setLoggingLevel("warning");
  const quiet = await sendAndCollect("llm-coordinator", { target_uuid: "llm-helper", priority: "info" });
  expect(quiet.receivedBy).toEqual([]);
  const loud = await sendAndCollect("llm-coordinator", { target_uuid: "llm-helper", priority: "error" });
  expect(loud.receivedBy).toEqual(["llm-helper"]);
  await helper.client.setLoggingLevel("debug");
});
