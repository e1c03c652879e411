import { expect, test } from "vitest";
import { WorkQueue } from "../src/work-queue.js";

test("most urgent priority first, arrival order within a priority; removal by job id", () => {
  const queue = new WorkQueue<string>();
  const push = (jobId: string, priority: "debug" | "info" | "warning" | "emergency") => queue.push({ jobId, priority, item: jobId });
  push("a-info", "info");
  push("b-debug", "debug");
  push("c-emergency", "emergency");
  push("d-info", "info");
  push("e-warning", "warning");
  push("f-emergency", "emergency");
  expect(queue.remove("d-info")?.jobId).toBe("d-info");
  expect(queue.has("d-info")).toBe(false);
  expect(queue.remove("d-info")).toBeUndefined();
  expect(queue.size).toBe(5);
  const order: string[] = [];
  for (let next = queue.shift(); next; next = queue.shift()) order.push(next.jobId);
  expect(order).toEqual(["c-emergency", "f-emergency", "e-warning", "a-info", "b-debug"]);
});
