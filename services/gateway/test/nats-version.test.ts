// The version check behind the gateway's warning about an old nats-server.
import { expect, test } from "vitest";
import { MINIMUM_NATS_SERVER_VERSION, isOlderServerVersion, parseServerVersion } from "../src/nats-version.js";

test("versions are compared by number, not as text", () => {
  expect(isOlderServerVersion("2.9.10", MINIMUM_NATS_SERVER_VERSION)).toBe(true);
  expect(isOlderServerVersion("2.9.25", "2.10.0")).toBe(true);
  expect(isOlderServerVersion("1.99.99", "2.10.0")).toBe(true);
  expect(isOlderServerVersion("2.10.0", "2.10.0")).toBe(false);
  expect(isOlderServerVersion("2.12.6", "2.10.0")).toBe(false);
  expect(isOlderServerVersion("2.12.5", "2.12.6")).toBe(true);
  expect(isOlderServerVersion("2.14.0", "2.12.6")).toBe(false);
  expect(isOlderServerVersion("3.0.0", "2.12.6")).toBe(false);
});

test("image tags and pre-releases are read by their numbers; anything else is not judged", () => {
  expect(parseServerVersion("2.12.6-alpine")).toEqual([2, 12, 6]);
  expect(parseServerVersion("v2.10.0-RC.1")).toEqual([2, 10, 0]);
  expect(parseServerVersion("latest")).toBeUndefined();
  expect(isOlderServerVersion("latest", "2.10.0")).toBe(false);
});
