// The Python Blender addon's own suites, run from vitest: plain-Python unit tests, tests inside
// real background Blender, and an end-to-end check of headless.py over its socket. Blender is
// required: without it these tests fail, they never skip.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const addonTests = path.join(repoRoot, "addon", "tests");

/** How long one suite may run before it is killed and reported (ms). */
const SUITE_TIMEOUT_MS = 50_000;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `blender` from PATH, else /usr/bin/blender; throws (failing the test) when neither exists. */
function findBlender(): string {
  const candidates = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, "blender"));
  const found = [...candidates, "/usr/bin/blender"].find(isExecutable);
  if (!found) throw new Error("blender is not on PATH nor at /usr/bin/blender; install it (Debian: apt install blender)");
  return found;
}

type SuiteRun = { code: number | null; signal: NodeJS.Signals | null; output: string };

/** Runs a suite to completion, collecting stdout and stderr together; kills it on timeout. */
function runSuite(command: string, args: string[], env: Record<string, string> = {}): Promise<SuiteRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n[killed after ${SUITE_TIMEOUT_MS} ms]`;
      child.kill("SIGKILL");
    }, SUITE_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

function expectPassed(run: SuiteRun): void {
  if (run.code !== 0) console.error(run.output);
  expect(run.code, run.output.slice(-4000)).toBe(0);
}

test("addon plain-Python unit tests (protocol, console, jobs, paging)", async () => {
  expectPassed(await runSuite("python3", ["-m", "unittest", "discover", "-s", addonTests, "-p", "test_plain_*.py"]));
});

test("addon tests inside background Blender (24 commands, gates, fixtures, scripts, undo)", async () => {
  const blender = findBlender();
  const run = await runSuite(blender, [
    "-b",
    "--factory-startup",
    "--python-exit-code",
    "1",
    "--python",
    path.join(addonTests, "run_in_blender.py"),
  ]);
  expectPassed(run);
  expect(run.output).toMatch(/Ran \d+ tests/);
});

test("addon headless.py end to end over its socket", async () => {
  const run = await runSuite("python3", [path.join(addonTests, "headless_socket_test.py")], { BLENDER: findBlender() });
  expectPassed(run);
  expect(run.output).toMatch(/Ran \d+ tests/);
});
