/** The project's own CLI (`blender-fabric …`) as a child process, with its output collected. */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sourceCommand } from "@blender-fabric/testkit";

const cliEntry = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "services", "cli", "src", "main.ts");

export function runCli(args: string[], env: Record<string, string> = {}) {
  const [command, ...rest] = sourceCommand(cliEntry);
  const child = spawn(command!, [...rest, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => stdout, errors: () => stderr };
}
