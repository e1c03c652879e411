// A secret fit to sign tokens: random, long enough, and never the one this repository published.
import { expect, test } from "vitest";
import { MIN_JWT_SECRET_LENGTH, jwtSecretProblem, newJwtSecret } from "@blender-fabric/auth";

test("a new secret is 32 random bytes, different every time, and fit", () => {
  const secrets = new Set(Array.from({ length: 100 }, newJwtSecret));
  expect(secrets.size).toBe(100);
  for (const secret of secrets) {
    expect(Buffer.from(secret, "base64url")).toHaveLength(32);
    expect(jwtSecretProblem(secret)).toBeUndefined();
  }
});

test("the old public dev secret and short secrets are refused, saying why", () => {
  expect(jwtSecretProblem("blender-fabric-dev-secret-change-me")).toMatch(/public dev secret/u);
  expect(jwtSecretProblem("x".repeat(MIN_JWT_SECRET_LENGTH - 1))).toMatch(/fewer than 32/u);
  expect(jwtSecretProblem("x".repeat(MIN_JWT_SECRET_LENGTH))).toBeUndefined();
});
