/**
 * Spawns the fabric's child processes (nats-server, gateways) so that none outlives the
 * process that started it, even when a test run is killed before its cleanup ran.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { processDescendants } from "./process-table.js";

const here = fileURLToPath(import.meta.url);
const repositoryRoot = join(dirname(here), "..", "..", "..");
const tsxLoader = join(repositoryRoot, "node_modules", "tsx", "dist", "esm", "index.mjs");

/** The command that runs a TypeScript entry point of this repository from source. */
export function sourceCommand(entry: string): string[] {
  return [process.execPath, "--conditions=fabric-source", "--import", tsxLoader, entry];
}

/**
 * The command that runs a service's `main`: from source (tsx) when this package runs from
 * source (`npm start`, tests), the built `dist/main.js` when it runs built (a container
 * image, which has no tsx).
 */
export function serviceCommand(service: "gateway" | "bridge" | "pool"): string[] {
  const fromSource = here.endsWith(".ts");
  const entry = join(repositoryRoot, "services", service, fromSource ? "src/main.ts" : "dist/main.js");
  return fromSource ? sourceCommand(entry) : [process.execPath, entry];
}

/** How long a child may take to exit after SIGTERM before it is killed. ms */
export const STOP_GRACE_MS = 5_000;

/** The command that runs one of this package's own entry points (`name`.ts from source, else `name`.js). */
export function supervisorEntryCommand(name: string): string[] {
  const fromSource = here.endsWith(".ts");
  const entry = join(dirname(here), `${name}${fromSource ? ".ts" : ".js"}`);
  return fromSource ? sourceCommand(entry) : [process.execPath, entry];
}

const living = new Set<ChildProcess>();

/**
 * Kills every child this process started and still runs, and everything each of them started
 * (a pool's bridges), at once: SIGKILL. For an exit that cannot wait (a crash of this process,
 * a second Ctrl-C); an orderly stop goes through each child's own stop().
 */
export function killChildrenNow(): void {
  const children = [...living].filter((child) => child.pid !== undefined);
  const trees = children.flatMap((child) => [child.pid!, ...processDescendants(child.pid!)]);
  for (const pid of trees) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

process.once("exit", killChildrenNow);

/** Told of every child spawnTracked starts, with how long it may take to stop (the stop guard of `up`). */
export type SpawnWatcher = (child: ChildProcess, stopGraceMs: number) => void;
let spawnWatcher: SpawnWatcher | undefined;

/** From now on, `watcher` hears of every child this process starts. */
export function watchSpawns(watcher: SpawnWatcher): void {
  spawnWatcher = watcher;
}

/** `stopGraceMs`: how long the child may take to exit after SIGTERM, for whoever stops it. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions, stopGraceMs = STOP_GRACE_MS): ChildProcess {
  const child = spawn(command, args, options);
  living.add(child);
  child.once("exit", () => living.delete(child));
  if (child.pid !== undefined) spawnWatcher?.(child, stopGraceMs);
  return child;
}

/**
 * Stops a child and resolves once it has exited: `SIGKILL` at once (a crash), or `SIGTERM`
 * with a grace period (ms) before SIGKILL.
 */
export async function stopChild(child: ChildProcess | undefined, signal: "SIGTERM" | "SIGKILL" = "SIGTERM", graceMs = STOP_GRACE_MS): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  if (signal === "SIGTERM") {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  } else {
    await exited;
  }
}
