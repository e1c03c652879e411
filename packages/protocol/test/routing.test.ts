import { expect, test } from "vitest";
import {
  IdentifierSchema,
  createSendMessageInputSchema,
  priorityPassesLevel,
  resolveRouting,
  toInvalidParamsResult,
} from "@blender-fabric/protocol";

test("routing precedence is target_uuid > group_id > client_type > broadcast", () => {
  expect(resolveRouting({ target_uuid: "t", group_id: "g", client_type: "c" })).toEqual({
    type: "direct",
    target_uuid: "t",
  });
  expect(resolveRouting({ group_id: "g", client_type: "c" })).toEqual({ type: "group", group_id: "g" });
  expect(resolveRouting({ client_type: "c" })).toEqual({ type: "type_filter", client_type: "c" });
  expect(resolveRouting({})).toEqual({ type: "broadcast" });
});

test("priorities filter like MCP log levels", () => {
  expect(priorityPassesLevel("error", "warning")).toBe(true);
  expect(priorityPassesLevel("info", "warning")).toBe(false);
  expect(priorityPassesLevel("debug", "debug")).toBe(true);
});

test("identifiers refuse NATS metacharacters and whitespace", () => {
  for (const bad of ["a.b", "a>", "*", "a b", ""]) expect(IdentifierSchema.safeParse(bad).success).toBe(false);
  for (const good of ["blender-demo01", "server:alice", "llm@host", "pid:42"]) {
    expect(IdentifierSchema.safeParse(good).success).toBe(true);
  }
});

test("invalid send_message arguments name the field", () => {
  const schema = createSendMessageInputSchema(64);
  const missing = schema.safeParse({ target_uuid: "x" });
  expect(missing.success).toBe(false);
  expect(toInvalidParamsResult(missing.error!).field).toBe("payload");
  const oversized = schema.safeParse({ payload: { text: "x".repeat(100) } });
  expect(toInvalidParamsResult(oversized.error!)).toMatchObject({
    status: "invalid_params",
    field: "payload",
    error: expect.stringContaining("64 bytes"),
  });
  const badPriority = schema.safeParse({ payload: {}, priority: "urgent" });
  expect(toInvalidParamsResult(badPriority.error!).field).toBe("priority");
});
