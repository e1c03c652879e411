// Acceptance 5: invalid inputs come back as structured results naming the problem, and
// nothing is published.
import { afterAll, beforeAll, expect, test } from "vitest";
import { recordTraffic, startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
beforeAll(async () => {
  fabric = await startFabric({ gateways: 1, gatewayEnv: { FABRIC_MAX_PAYLOAD_BYTES: "1024" } });
});
afterAll(async () => fabric?.[Symbol.asyncDispose]());

const CASES: { name: string; tool: string; args: Record<string, unknown>; field: string; mentions: string }[] = [
  { name: "missing payload", tool: "blender_send_message", args: { target_uuid: "x" }, field: "payload", mentions: "payload" },
  { name: "bad priority", tool: "blender_send_message", args: { payload: {}, priority: "urgent" }, field: "priority", mentions: "emergency" },
  { name: "target with '.'", tool: "blender_send_message", args: { payload: {}, target_uuid: "a.b" }, field: "target_uuid", mentions: "'.'" },
  { name: "group with '>'", tool: "blender_send_message", args: { payload: {}, group_id: "user.>" }, field: "group_id", mentions: "'>'" },
  { name: "type with '*'", tool: "blender_send_message", args: { payload: {}, client_type: "*" }, field: "client_type", mentions: "'*'" },
  { name: "sender with whitespace", tool: "blender_send_message", args: { payload: {}, from_uuid: "a b" }, field: "from_uuid", mentions: "whitespace" },
  { name: "job id with '.'", tool: "blender_send_message", args: { payload: { job_id: "j.1" } }, field: "payload", mentions: "job_id" },
  { name: "oversized payload", tool: "blender_send_message", args: { payload: { blob: "x".repeat(2048) } }, field: "payload", mentions: "1024 bytes" },
  { name: "payload not an object", tool: "blender_send_message", args: { payload: "hello" }, field: "payload", mentions: "record" },
  { name: "uuid with '>'", tool: "blender_register_client", args: { client_uuid: ">", client_type: "llm" }, field: "client_uuid", mentions: "'>'" },
  { name: "empty uuid", tool: "blender_register_client", args: { client_uuid: "", client_type: "llm" }, field: "client_uuid", mentions: "empty" },
  { name: "uuid too long", tool: "blender_register_client", args: { client_uuid: "x".repeat(257), client_type: "llm" }, field: "client_uuid", mentions: "256" },
  { name: "capabilities not a list", tool: "blender_register_client", args: { client_uuid: "c", client_type: "llm", capabilities: "gpu" }, field: "capabilities", mentions: "array" },
  { name: "job_update without status", tool: "blender_job_update", args: { job_id: "j-1" }, field: "status", mentions: "status" },
  { name: "job id with '*'", tool: "blender_job_update", args: { job_id: "j*", status: "completed" }, field: "job_id", mentions: "'*'" },
];

test("every invalid call names its field and publishes nothing", async () => {
  const client = await fabric.connect("frank");
  const traffic = recordTraffic(fabric.nc, ">");
  await fabric.nc.flush();
  for (const { name, tool, args, field, mentions } of CASES) {
    const result = await client.client.callTool({ name: tool, arguments: args });
    expect(result.isError, name).toBe(true);
    const body = JSON.parse((result.content as { text: string }[])[0]!.text);
    expect(body, name).toMatchObject({ status: "invalid_params", field });
    expect(body.error, name).toContain(mentions);
  }
  // A valid message through the same replica afterwards: everything published before it
  // (on the same connection) has reached the observer once it has.
  const sentinel = await client.call("blender_send_message", { payload: { sentinel: true } });
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (traffic.seen.some((message) => message.data?.message_id === sentinel.message_id)) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  traffic.stop();
  const published = traffic.seen.filter((message) => message.subject.startsWith("user."));
  expect(published.map((message) => message.data.message_id)).toEqual([sentinel.message_id]);
  const stateWrites = traffic.seen.filter((message) => /^\$KV\.fabric_(clients|jobs)\./.test(message.subject));
  expect(stateWrites).toEqual([]);
  expect((await client.call("blender_list_available_clients", { include_stale: true })).ephemeral).toEqual([]);
});
