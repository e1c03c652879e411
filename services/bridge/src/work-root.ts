/**
 * The one folder a bridge shares with its Blender: every file both sides touch lives under it
 * (each Blender's home and addon socket, farm output folders, scene snapshots, a project's
 * scene). A sandboxed Blender sees this folder, read-write at the same path, and nothing
 * else of the bridge's (blender-sandbox.ts), so paths pass between the two unchanged.
 * One per bridge process, created on first use in the OS temp dir, removed when it exits.
 *
 * Code in a sandboxed Blender can put a symlink where the bridge expects a file, or swap a
 * folder of the shared one for a symlink, and the bridge, outside the sandbox, would follow
 * it to its own credentials and store them where the tenant reads them (an artifact, a
 * blend). So while Blender is sandboxed, the bridge reads what Blender wrote or named only
 * through the functions below: a regular file, actually inside this folder.
 */
import { createWriteStream, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { constants, mkdtemp, open, readlink, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { pipeline } from "node:stream/promises";

let root: string | undefined;
let guarded = false;

export function bridgeWorkRoot(): string {
  if (!root) {
    const created = mkdtempSync(join(tmpdir(), "fabric-bridge-"));
    root = created;
    process.once("exit", () => rmSync(created, { recursive: true, force: true }));
  }
  return root;
}

/** From now on (this bridge's Blender runs in a sandbox), files Blender names are read only inside the work root. */
export function distrustBlenderPaths(): void {
  guarded = true;
}

/** A file Blender named that is not a regular file inside the work root, while Blender is sandboxed. */
export class OutsideWorkRoot extends Error {
  override name = "OutsideWorkRoot";
}

/**
 * Opens a file Blender wrote. Sandboxed, the check is made on the file actually opened (its
 * /proc/self/fd link, which no later swap of a folder changes), and never follows a symlink
 * at the end; O_NONBLOCK so that a FIFO put in its place cannot block the bridge.
 */
async function openBlenderFile(path: string): Promise<FileHandle> {
  if (!guarded) return open(path, "r");
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: unknown) => {
    throw new OutsideWorkRoot(`${path} is not a file Blender wrote in the folder it shares with the bridge`, { cause: error });
  });
  const real = await readlink(`/proc/self/fd/${handle.fd}`);
  const rest = relative(realpathSync(bridgeWorkRoot()), real);
  if ((await handle.stat()).isFile() && rest !== "" && !rest.startsWith("..") && !isAbsolute(rest)) return handle;
  await handle.close();
  // The message goes back to the tenant: it names only the path Blender gave.
  throw new OutsideWorkRoot(`${path} is not a file Blender wrote in the folder it shares with the bridge`);
}

/** The contents of a file Blender wrote (farm outputs, a screenshot). */
export async function readBlenderFile(path: string): Promise<Buffer> {
  const handle = await openBlenderFile(path);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * A file Blender wrote, where Blender cannot change it any more: sandboxed, a copy in a
 * folder of the bridge's own (the bridge then reads and moves it by path safely); else the
 * file itself. `remove` deletes the copy (never Blender's file) if it is still there.
 */
export async function privateCopyOf(path: string): Promise<{ path: string; remove(): Promise<void> }> {
  if (!guarded) return { path, remove: async () => {} };
  const handle = await openBlenderFile(path);
  const folder = await mkdtemp(join(tmpdir(), "fabric-private-"));
  const copy = join(folder, "copy");
  try {
    await pipeline(handle.createReadStream({ autoClose: false }), createWriteStream(copy, { flags: "wx", mode: 0o600 }));
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  } finally {
    await handle.close();
  }
  return { path: copy, remove: () => rm(folder, { recursive: true, force: true }) };
}

/**
 * Deletes a file Blender made for the bridge (a screenshot in its temp dir). Sandboxed, it is
 * left to go with Blender's home when Blender exits: a path Blender names could lead through
 * a swapped folder to a file of the bridge's.
 */
export async function removeBlenderFile(path: string): Promise<void> {
  if (!guarded) await rm(path, { force: true });
}
