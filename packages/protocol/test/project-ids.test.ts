// Issue 17: one rule for project ids (a DNS label, at most 40 characters), enforced where a
// project id enters: a dispatch's target_uuid, the bridge's FABRIC_PROJECT_ID, the CLI. An id
// such as `a/b`, `CAPS` or unicode used to be accepted and then made an invalid Knative host.
import { expect, test } from "vitest";
import { DispatchCommonArgsSchema, MAX_PROJECT_ID_LENGTH, PROJECT_ID_RULE, ProjectIdSchema, isValidProjectId, toInvalidParamsResult } from "@blender-fabric/protocol";

const accepted = ["a", "lobby", "studio-scene", "p6", "x".repeat(MAX_PROJECT_ID_LENGTH), "a1-b2-c3"];
const refused = ["", "a/b", "CAPS", "Lobby", "ünicode", "-lead", "trail-", "1st", "under_score", "dot.ted", "x".repeat(MAX_PROJECT_ID_LENGTH + 1), "sp ace"];

test.each(accepted)("%s is a project id", (projectId) => {
  expect(isValidProjectId(projectId)).toBe(true);
  expect(ProjectIdSchema.safeParse(projectId).success).toBe(true);
});

test.each(refused)("%j is refused, with the rule named", (projectId) => {
  expect(isValidProjectId(projectId)).toBe(false);
  const parsed = ProjectIdSchema.safeParse(projectId);
  expect(parsed.success).toBe(false);
  expect(parsed.error?.issues[0]?.message).toBe(PROJECT_ID_RULE);
});

test("a dispatch naming a project by an id outside the rule is invalid_params on target_uuid, saying the rule", () => {
  const parsed = DispatchCommonArgsSchema.safeParse({ target_uuid: "project:CAPS" });
  expect(parsed.success).toBe(false);
  const result = toInvalidParamsResult(parsed.error!);
  expect(result).toMatchObject({ status: "invalid_params", field: "target_uuid" });
  expect(result.error).toContain(`40 characters of a-z, 0-9 and '-'`);
  // Other selectors are not project ids and keep their own rules.
  expect(DispatchCommonArgsSchema.safeParse({ target_uuid: "Blender-Peer_1" }).success).toBe(true);
  expect(DispatchCommonArgsSchema.safeParse({ target_uuid: "project:lobby" }).success).toBe(true);
});

test("every accepted id makes a DNS-label Service name with room for Knative's revision suffix", () => {
  const label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/u;
  for (const projectId of accepted) {
    const revision = `blender-${projectId}-00001`;
    expect(revision.length).toBeLessThanOrEqual(63);
    expect(label.test(revision)).toBe(true);
  }
});
