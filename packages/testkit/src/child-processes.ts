/**
 * Spawns the fabric's child processes (nats-server, gateways) so that none outlives the
 * process that started it, even when a test run is killed before its cleanup ran.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

const living = new Set<ChildProcess>();

process.once("exit", () => {
  for (const child of living) child.kill("SIGKILL");
});

export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options);
  living.add(child);
  child.once("exit", () => living.delete(child));
  return child;
}
