// Seed 000, use case 5: a proposer LLM sends a proposal to an approver LLM over the bus; the
// approver applies it to Blender. The proposer never sees the dispatch itself.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBridgeProcess, type BridgeProcess } from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let blender: BridgeProcess;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  blender = await startBridgeProcess({ natsUrls: fabric.natsUrls, user: "review", uuid: "blender-target" });
});
afterAll(async () => {
  await blender?.stop();
  await fabric?.[Symbol.asyncDispose]();
});

test("proposal -> approval -> applied, over one bus", async () => {
  const proposer = await fabric.connectListening("review");
  await proposer.call("blender_register_client", { client_uuid: "llm-proposer", client_type: "llm" });
  const approver = await fabric.connectListening("review");
  await approver.call("blender_register_client", { client_uuid: "llm-approver", client_type: "llm" });

  const proposal = {
    kind: "proposal",
    proposal_id: "prop-001",
    script: "import bpy\nbpy.data.objects['Cube'].scale = (2, 2, 2)\nprint('scaled')",
    rationale: "The cube reads too small next to the camera.",
  };
  const sent = await proposer.call("blender_send_message", { target_uuid: "llm-approver", from_uuid: "llm-proposer", payload: proposal });
  expect(sent).toMatchObject({ status: "ok", targets: ["llm-approver"], routing: { type: "direct", target_uuid: "llm-approver" } });

  const received = await approver.nextNotification((data) => data.payload.kind === "proposal");
  expect(received.data).toMatchObject({ from_uuid: "llm-proposer", payload: proposal });

  // Approved: the approver applies the proposed script itself.
  const applied = await approver.dispatch("blender_execute_code", { code: received.data.payload.script });
  expect(applied).toMatchObject({ status: "completed", data: { result: "scaled\n" } });
  const cube = await approver.dispatch("blender_get_object_info", { name: "Cube" });
  expect(cube.data.scale).toEqual([2, 2, 2]);

  // The approver reports back over the same primitive; the proposer saw no dispatch traffic.
  await approver.call("blender_send_message", {
    target_uuid: "llm-proposer",
    from_uuid: "llm-approver",
    payload: { kind: "approval", proposal_id: "prop-001", approved: true, job_id: applied.job_id },
  });
  const verdict = await proposer.nextNotification((data) => data.payload.kind === "approval");
  expect(verdict.data.payload).toMatchObject({ approved: true, job_id: applied.job_id });
  expect(proposer.received((data) => data.payload.message_type === "command_dispatch")).toEqual([]);
  expect(proposer.notifications).toHaveLength(1);
});
