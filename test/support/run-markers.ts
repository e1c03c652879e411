/**
 * Proof of what really ran in Blender: code built by `code(token)` appends its token to a
 * file each time it runs, so a test can count runs without trusting any job record.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type RunMarkers = {
  /** Where the marker file is: a sandboxed Blender writes it only if its bridge shares this folder (FABRIC_SANDBOX_SHARE). */
  directory: string;
  /** Python for execute_code: sleeps `seconds`, then appends `token` to the marker file. */
  code(token: string, seconds?: number): string;
  /** How many times the code of `token` ran. */
  runs(token: string): number;
  /** Every token that ran, with its count. */
  counts(): Map<string, number>;
  remove(): void;
};

export function createRunMarkers(): RunMarkers {
  const directory = mkdtempSync(join(tmpdir(), "fabric-markers-"));
  const file = join(directory, "runs");
  const counts = () => {
    const seen = new Map<string, number>();
    const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
    for (const line of lines) seen.set(line, (seen.get(line) ?? 0) + 1);
    return seen;
  };
  return {
    directory,
    code: (token, seconds = 0) =>
      `import time\ntime.sleep(${seconds})\nopen(${JSON.stringify(file)}, "a").write(${JSON.stringify(`${token}\n`)})`,
    runs: (token) => counts().get(token) ?? 0,
    counts,
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
