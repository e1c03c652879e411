/**
 * Gateway replicas as real child processes (the same entry point production runs), for
 * `blender-fabric up` and for tests, which kill and restart them. Each gets its own free
 * port; readiness is its /readyz.
 */
import type { ChildProcess } from "node:child_process";
import { serviceCommand, spawnTracked, stopChild } from "./child-processes.js";
import { findFreePort, waitFor } from "./ports.js";


export type GatewayProcess = AsyncDisposable & {
  /** e.g. `http://127.0.0.1:43121` */
  baseUrl: string;
  /** e.g. `http://127.0.0.1:43121/mcp` */
  mcpUrl: string;
  /** SIGKILL, like a crashed pod. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same environment. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** The last 8 KB of what it logged. */
  output(): string;
};

export type GatewayProcessOptions = {
  /** NATS server URLs the replica connects to. */
  natsUrls: string[];
  /** Extra FABRIC_* variables. */
  env?: Record<string, string>;
  /** HTTP port; default: a free one. */
  port?: number;
  /** Show the replica's log lines on this process's stderr (always on with FABRIC_TEST_VERBOSE). */
  showLogs?: boolean;
};

export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const port = options.port ?? (await findFreePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    const [command, ...args] = serviceCommand("gateway");
    child = spawnTracked(command!, args, {
      env: {
        ...process.env,
        FABRIC_NATS_URL: options.natsUrls.join(","),
        FABRIC_HTTP_PORT: String(port),
        FABRIC_LOG_LEVEL: process.env.FABRIC_LOG_LEVEL ?? "warn",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
      if (options.showLogs || process.env.FABRIC_TEST_VERBOSE) process.stderr.write(chunk);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const running = child;
    await waitFor(`gateway on ${baseUrl}`, async () => {
      if (running.exitCode !== null) throw new Error(`gateway exited:\n${output}`);
      return (await fetch(`${baseUrl}/readyz`)).ok;
    }, 30_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${output}`);
    });
  };

  const stopWith = async (signal: "SIGTERM" | "SIGKILL") => {
    const running = child;
    child = undefined;
    await stopChild(running, signal);
  };
  const kill = () => stopWith("SIGKILL");
  const stop = () => stopWith("SIGTERM");

  await start();
  return {
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop,
    output: () => output,
    [Symbol.asyncDispose]: stop,
  };
}
