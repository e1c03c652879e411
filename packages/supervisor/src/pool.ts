/**
 * The peer pool as a real child process (the same entry point production runs), for
 * `blender-fabric up` and for tests, which kill it -9 and start it again. Readiness is its
 * /readyz: its warm peers are registered on the bus. Its peers are its own children.
 */
import type { ChildProcess } from "node:child_process";
import { stopChild } from "./child-processes.js";
import { findFreePort } from "./ports.js";
import { launchService } from "./service-launch.js";

/** How long the pool may take to connect and bring its warm peers up. ms */
const READY_TIMEOUT_MS = 120_000;

/** One peer as the pool's /readyz lists it. */
export type PoolPeer = { uuid: string; user: string; purpose: string; state: "starting" | "running"; pid: number | null; blender_pid: number | null };

export type PoolProcess = AsyncDisposable & {
  /** pid of the pool process. */
  pid(): number;
  /** The peers the pool runs now. */
  peers(): Promise<PoolPeer[]>;
  /** SIGKILL, like a crashed pod (its peers end with it). */
  kill(): Promise<void>;
  /** Starts it again with the same environment (and state folder). */
  restart(): Promise<void>;
  /** SIGTERM: its peers save their projects' scenes and leave. */
  stop(): Promise<void>;
  /** The last 16 KB of what it logged. */
  output(): string;
};

export type PoolProcessOptions = {
  natsUrls: string[];
  /** FABRIC_POOL_* and other variables (PoolEnvSchema). */
  env?: Record<string, string>;
  /** Show the pool's log lines on this process's stderr (always on with FABRIC_TEST_VERBOSE). */
  showLogs?: boolean;
};

/** How long the pool gets to stop its peers (each finishes its job and saves its project) before SIGKILL. ms */
const STOP_GRACE_MS = 120_000;

export async function startPoolProcess(options: PoolProcessOptions): Promise<PoolProcess> {
  const healthPort = await findFreePort();
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    const launched = await launchService({
      service: "pool",
      env: {
        ...process.env,
        FABRIC_NATS_URL: options.natsUrls.join(","),
        FABRIC_LOG_LEVEL: process.env.FABRIC_LOG_LEVEL ?? "info",
        ...options.env,
        FABRIC_HEALTH_PORT: String(healthPort),
        FABRIC_HEALTH_HOST: "127.0.0.1",
      },
      readyUrl: `${healthUrl}/readyz`,
      what: "the pool's warm peers",
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 200,
      stopGraceMs: STOP_GRACE_MS,
      onOutput: (chunk) => {
        output = (output + chunk.toString()).slice(-16_000);
        if (options.showLogs || process.env.FABRIC_TEST_VERBOSE) process.stderr.write(chunk);
      },
    });
    child = launched.child;
    if (launched.outcome === "exited") throw new Error(`pool exited:\n${output}`);
  };

  // Longer than a gateway's grace: each peer finishes its job and saves its project first.
  const stopWith = async (signal: "SIGTERM" | "SIGKILL") => {
    const running = child;
    child = undefined;
    await stopChild(running, signal, STOP_GRACE_MS);
  };

  await start();
  return {
    pid: () => child?.pid ?? 0,
    async peers() {
      const response = await fetch(`${healthUrl}/readyz`);
      return ((await response.json()) as { peers: PoolPeer[] }).peers;
    },
    kill: () => stopWith("SIGKILL"),
    restart: async () => {
      await stopWith("SIGKILL");
      await start();
    },
    stop: () => stopWith("SIGTERM"),
    output: () => output,
    [Symbol.asyncDispose]: () => stopWith("SIGTERM"),
  };
}
