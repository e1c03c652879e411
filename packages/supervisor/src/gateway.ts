/**
 * Gateway replicas as real child processes (the same entry point production runs), for
 * `blender-fabric up` and for tests, which kill and restart them. Each gets its own free
 * port; readiness is its /readyz.
 */
import type { ChildProcess } from "node:child_process";
import { stopChild } from "./child-processes.js";
import { findFreePort } from "./ports.js";
import { launchService } from "./service-launch.js";

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

/** Attempts at a fresh free port when the one probed was taken before the replica bound it. */
const PORT_ATTEMPTS = 3;

export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  let port = options.port ?? (await findFreePort());
  let child: ChildProcess | undefined;
  let output = "";

  /** Starts the replica on `port`; "port taken" when it could not listen there. */
  const launch = async (): Promise<"ready" | "port taken"> => {
    const baseUrl = `http://127.0.0.1:${port}`;
    const launched = await launchService({
      service: "gateway",
      env: {
        ...process.env,
        FABRIC_NATS_URL: options.natsUrls.join(","),
        FABRIC_HTTP_PORT: String(port),
        FABRIC_LOG_LEVEL: process.env.FABRIC_LOG_LEVEL ?? "warn",
        ...options.env,
      },
      readyUrl: `${baseUrl}/readyz`,
      what: `gateway on ${baseUrl}`,
      timeoutMs: 30_000,
      onOutput: (chunk) => {
        output = (output + chunk.toString()).slice(-8_000);
        if (options.showLogs || process.env.FABRIC_TEST_VERBOSE) process.stderr.write(chunk);
      },
    });
    child = launched.child;
    if (launched.outcome === "ready") return "ready";
    if (launched.log.includes("EADDRINUSE")) return "port taken";
    throw new Error(`the gateway on ${baseUrl} exited before it was ready:\n${launched.log}`);
  };

  // A probed port is only free until someone binds it: any process's outgoing connection may
  // take it as its local port in between. A port the caller chose is not changed.
  const start = async () => {
    for (let attempt = 1; ; attempt += 1) {
      if ((await launch()) === "ready") return;
      if (options.port !== undefined || attempt === PORT_ATTEMPTS) {
        throw new Error(`the gateway could not listen on port ${port}:\n${output}`);
      }
      port = await findFreePort();
    }
  };

  const stopWith = async (signal: "SIGTERM" | "SIGKILL") => {
    const running = child;
    child = undefined;
    await stopChild(running, signal);
  };
  const kill = () => stopWith("SIGKILL");
  const stop = () => stopWith("SIGTERM");

  await start();
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    kill,
    restart: async () => {
      await kill();
      // Clients know this URL: a restart keeps the port.
      if ((await launch()) !== "ready") throw new Error(`the restarted gateway could not listen on port ${port} again:\n${output}`);
    },
    stop,
    output: () => output,
    [Symbol.asyncDispose]: stop,
  };
}
