// The bridge reads what a sandboxed Blender wrote only as a regular file really inside the
// folder they share (work-root.ts): against the real filesystem, the tricks code in Blender
// can play with that folder (a symlink in place of a file, a folder swapped for a symlink,
// a FIFO) to make the bridge, outside the sandbox, read its own secrets for the tenant.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { OutsideWorkRoot, bridgeWorkRoot, distrustBlenderPaths, privateCopyOf, readBlenderFile, removeBlenderFile } from "../src/work-root.js";

let outside: string;
let secret: string;
let shared: string;

beforeAll(async () => {
  outside = await mkdtemp(join(tmpdir(), "fabric-outside-"));
  secret = join(outside, "bridge.nk");
  await writeFile(secret, "SUSECRET\n");
  shared = await mkdtemp(join(bridgeWorkRoot(), "task-"));
});

afterAll(async () => {
  await rm(outside, { recursive: true, force: true });
});

test("Blender unsandboxed (the guard off): any path is read and removed as given", async () => {
  expect((await readBlenderFile(secret)).toString()).toBe("SUSECRET\n");
  const copy = await privateCopyOf(secret);
  expect(copy.path).toBe(secret);
  await copy.remove();
  expect(existsSync(secret)).toBe(true);
  const screenshot = join(outside, "shot.png");
  await writeFile(screenshot, "png");
  await removeBlenderFile(screenshot);
  expect(existsSync(screenshot)).toBe(false);
});

test("sandboxed: a regular file Blender wrote in the shared folder is read, and copied where Blender cannot change it", async () => {
  distrustBlenderPaths();
  const frame = join(shared, "frame-0001.png");
  await writeFile(frame, "frame one");
  expect((await readBlenderFile(frame)).toString()).toBe("frame one");
  const copy = await privateCopyOf(frame);
  expect(copy.path.startsWith(bridgeWorkRoot())).toBe(false);
  await writeFile(frame, "changed by Blender afterwards");
  expect(await readFile(copy.path, "utf8")).toBe("frame one");
  await copy.remove();
  expect(existsSync(copy.path)).toBe(false);
  expect(existsSync(frame)).toBe(true);
});

test("sandboxed: a symlink in place of a file, a folder swapped for a symlink, a path outside and a FIFO are refused", async () => {
  const link = join(shared, "frame-0002.png");
  await symlink(secret, link);
  const swapped = join(bridgeWorkRoot(), "task-swapped");
  await symlink(outside, swapped);
  const fifo = join(shared, "frame-0003.png");
  execFileSync("mkfifo", [fifo]);
  await mkdir(join(shared, "folder"));
  for (const path of [link, join(swapped, "bridge.nk"), secret, fifo, join(shared, "folder")]) {
    await expect(readBlenderFile(path), path).rejects.toBeInstanceOf(OutsideWorkRoot);
    await expect(privateCopyOf(path), path).rejects.toBeInstanceOf(OutsideWorkRoot);
  }
  // The refusal names only the path Blender gave, never where it led.
  await expect(readBlenderFile(link)).rejects.not.toThrow(outside);
});

test("sandboxed: a file Blender names is never deleted by the bridge (it goes with Blender's home)", async () => {
  await removeBlenderFile(secret);
  expect(await readFile(secret, "utf8")).toBe("SUSECRET\n");
});
