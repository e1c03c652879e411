// `npm start`'s JWT secret: random per install, mode 0600, reused across restarts; and the
// secret `blender-fabric token` signs with, which is never a built-in one.
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { jwtSecretProblem } from "@blender-fabric/auth";
import { ensureLocalJwtSecret, findJwtSecret, jwtSecretFile } from "../src/jwt-secret.js";

let dataDirectory: string;
beforeEach(async () => {
  dataDirectory = join(await mkdtemp(join(tmpdir(), "fabric-jwt-secret-")), ".fabric");
});
afterEach(async () => {
  await rm(join(dataDirectory, ".."), { recursive: true, force: true });
});

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

test("the first start makes a random secret in a 0600 file; later starts reuse it and tighten a loosened mode", async () => {
  const secret = await ensureLocalJwtSecret(dataDirectory);
  const path = jwtSecretFile(dataDirectory);
  expect(path).toBe(join(dataDirectory, "jwt-secret"));
  expect(jwtSecretProblem(secret)).toBeUndefined();
  expect(await modeOf(path)).toBe(0o600);
  expect((await readFile(path, "utf8")).trim()).toBe(secret);

  expect(await ensureLocalJwtSecret(dataDirectory)).toBe(secret);
  await chmod(path, 0o644);
  expect(await ensureLocalJwtSecret(dataDirectory)).toBe(secret);
  expect(await modeOf(path)).toBe(0o600);

  // Another install gets another secret.
  const elsewhere = join(dataDirectory, "..", "other");
  expect(await ensureLocalJwtSecret(elsewhere)).not.toBe(secret);
});

test("a file holding the old public secret or too short a one is refused, not used", async () => {
  await ensureLocalJwtSecret(dataDirectory);
  await writeFile(jwtSecretFile(dataDirectory), "blender-fabric-dev-secret-change-me\n");
  await expect(ensureLocalJwtSecret(dataDirectory)).rejects.toThrow(/public dev secret/u);
  await writeFile(jwtSecretFile(dataDirectory), "short\n");
  await expect(findJwtSecret(dataDirectory, {})).rejects.toThrow(/fewer than 32/u);
});

test("token signs with FABRIC_JWT_SECRET, else the local file, else fails saying what to do", async () => {
  await expect(findJwtSecret(dataDirectory, {})).rejects.toThrow(/set FABRIC_JWT_SECRET .* or run `blender-fabric up`/u);
  const local = await ensureLocalJwtSecret(dataDirectory);
  expect(await findJwtSecret(dataDirectory, {})).toBe(local);
  const configured = "c".repeat(40);
  expect(await findJwtSecret(dataDirectory, { FABRIC_JWT_SECRET: configured })).toBe(configured);
  await expect(findJwtSecret(dataDirectory, { FABRIC_JWT_SECRET: "blender-fabric-dev-secret-change-me" })).rejects.toThrow(/FABRIC_JWT_SECRET is unusable/u);
});
