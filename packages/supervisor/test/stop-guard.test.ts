// The stop guard of `up` stops what its supervisor started when the supervisor is killed -9
// (tsx's CLI does that to a child slow to answer Ctrl-C): nats-server, in a process group of
// its own, cannot notice, and a child that ignores SIGTERM is killed after its grace.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { processDescendants, processStartTime, sourceCommand, waitFor } from "@blender-fabric/supervisor";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "guarded-supervisor.ts");
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");

test("a supervisor killed -9 leaves nothing running: its stop guard stops nats-server and kills what ignores SIGTERM", async () => {
  const directory = mkdtempSync(join(tmpdir(), "fabric-guarded-"));
  const [command, ...args] = sourceCommand(fixture);
  const supervisor = spawn(command!, [...args, directory], { stdio: ["ignore", "pipe", "inherit"] });
  let printed = "";
  supervisor.stdout!.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  await waitFor("the supervisor's children to run", () => printed.includes("running"), 30_000);
  const children = processDescendants(supervisor.pid!).map((pid) => ({ pid, startTime: processStartTime(pid)!, command: commandLine(pid) }));
  for (const program of ["stop-guard-main", "nats-server", "trap"]) {
    expect(children.some((child) => child.command.includes(program)), `${program} runs`).toBe(true);
  }

  supervisor.kill("SIGKILL");
  // The guard ends once everything it guards has ended: the SIGTERM ignored costs its 500 ms grace.
  await waitFor("every child of the killed supervisor, and its guard, to end", () => children.every((child) => processStartTime(child.pid) !== child.startTime), 10_000, 50);
  rmSync(directory, { recursive: true, force: true });
});
