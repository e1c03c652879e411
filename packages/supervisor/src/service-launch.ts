/**
 * Starting a service that reports readiness on /readyz (a gateway replica, the pool) as a
 * child process: spawn it, keep what it logs, and wait until it is ready or gone.
 */
import type { ChildProcess } from "node:child_process";
import { serviceCommand, spawnTracked } from "./child-processes.js";
import { waitFor } from "./ports.js";

export type ServiceLaunchOptions = {
  service: "gateway" | "pool";
  env: NodeJS.ProcessEnv;
  /** Its /readyz. */
  readyUrl: string;
  /** What is awaited, for the timeout's message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** How long it may take to exit after SIGTERM (for the stop guard of `up`). ms */
  stopGraceMs?: number;
  /** Receives everything it writes to stdout and stderr. */
  onOutput: (chunk: Buffer) => void;
};

/**
 * `exited`: it ended before it was ready, with what it wrote meanwhile. Throws when it is
 * neither ready nor gone within the timeout.
 */
export type ServiceLaunch = { child: ChildProcess } & ({ outcome: "ready" } | { outcome: "exited"; log: string });

export async function launchService(options: ServiceLaunchOptions): Promise<ServiceLaunch> {
  const [command, ...args] = serviceCommand(options.service);
  const child = spawnTracked(command!, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"] }, options.stopGraceMs);
  let log = "";
  const collect = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8_000);
    options.onOutput(chunk);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  // The probe has its own timeout: whatever holds the port may accept and never answer.
  const ready = async () => (await fetch(options.readyUrl, { signal: AbortSignal.timeout(1_000) })).ok;
  // An exit ends the wait at once: no point polling a service that is gone.
  await waitFor(options.what, async () => exited() || (await ready()), options.timeoutMs, options.intervalMs).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${log}`);
  });
  return exited() ? { child, outcome: "exited", log } : { child, outcome: "ready" };
}
