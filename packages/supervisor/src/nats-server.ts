/**
 * Real nats-server processes: the local one of `blender-fabric up` (its own data folder and
 * port), and for tests one server or a 3-node JetStream cluster on random ports with a
 * temporary store directory each. No NATS mocks anywhere in the fabric's tests.
 */
import type { ChildProcess } from "node:child_process";
import { spawnTracked, stopChild } from "./child-processes.js";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Authenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { findProgram } from "./programs.js";
import { findFreePort, preferPort, waitFor } from "./ports.js";
import { isProcessGone, processEntries } from "./process-table.js";

export type NatsNode = {
  /** `nats://127.0.0.1:<port>` of this node's client listener. */
  url: string;
  /** The node's `server_name` (what clients see in their server info). */
  name: string;
  /** Kills the process (SIGKILL, like a crash); its store directory survives for restart(). */
  kill(): Promise<void>;
  /** Starts the node again with the same configuration and ports. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing is answered (a hung server). */
  pause(): void;
  /** SIGCONT a paused node. */
  resume(): void;
};

export type NatsServer = NatsNode & AsyncDisposable & { stop(): Promise<void> };

export type NatsCluster = AsyncDisposable & {
  nodes: NatsNode[];
  /** Every node's URL, for clients that should fail over. */
  urls: string[];
  stop(): Promise<void>;
};

type NodeConfig = {
  name: string;
  directory: string;
  clientPort: number;
  text: string;
  /** In a process group of its own: a terminal's Ctrl-C reaches its supervisor, not it. */
  ownProcessGroup?: boolean;
};

async function launch(config: NodeConfig): Promise<ChildProcess> {
  // A ports file left by a crashed run would look like readiness.
  for (const name of readdirSync(config.directory)) {
    if (name.endsWith(".ports")) rmSync(join(config.directory, name));
  }
  const configFile = join(config.directory, "server.conf");
  writeFileSync(configFile, config.text);
  const child = spawnTracked(findProgram("nats-server"), ["-c", configFile], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: config.ownProcessGroup ?? false,
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await Promise.race([
    waitFor(`nats-server on port ${config.clientPort}`, () => portsFileExists(config.directory)),
    exited.then(() => {
      throw new Error(`nats-server exited during start:\n${log}`);
    }),
  ]);
  return child;
}

function portsFileExists(directory: string): boolean {
  return readdirSync(directory).some((name) => name.endsWith(".ports"));
}

function createNode(
  config: NodeConfig,
  options: { keepDirectory?: boolean } = {},
): NatsNode & { stop(): Promise<void> } {
  let child: ChildProcess | undefined;
  const kill = async () => {
    const running = child;
    child = undefined;
    await stopChild(running, "SIGKILL");
  };
  return {
    url: `nats://127.0.0.1:${config.clientPort}`,
    name: config.name,
    kill,
    async restart() {
      await kill();
      child = await launch(config);
    },
    pause: () => void child?.kill("SIGSTOP"),
    resume: () => void child?.kill("SIGCONT"),
    async stop() {
      const running = child;
      child = undefined;
      // A server whose data outlives it (`up`) writes its JetStream state out first; a
      // temporary one is simply killed.
      await stopChild(running, options.keepDirectory ? "SIGTERM" : "SIGKILL");
      if (!options.keepDirectory) rmSync(config.directory, { recursive: true, force: true });
    },
  };
}

function nodeConfigText(name: string, directory: string, clientPort: number, extra = ""): string {
  return [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${clientPort}`,
    `ports_file_dir: ${JSON.stringify(directory)}`,
    `jetstream { store_dir: ${JSON.stringify(join(directory, "jetstream"))} }`,
    extra,
  ].join("\n");
}

export type NatsServerOptions = {
  /** Keep configuration and JetStream data here (kept on stop); default: a temp dir, removed. */
  directory?: string;
  /** Client port; default: a free one. */
  port?: number;
  /**
   * The port to use if it is free once a server left by an earlier run of the same
   * `directory` is stopped, else a free one (ignored with `port`).
   */
  preferredPort?: number;
  /**
   * Authentication settings: an `authorization { … }` block, or operator/resolver lines for JWT
   * auth. Default: none (tests that do not test auth).
   */
  authConfig?: string;
  /**
   * Run it in a process group of its own (`blender-fabric up`): Ctrl-C in the terminal then
   * reaches the supervisor, which stops NATS last, after every peer has saved its project.
   */
  ownProcessGroup?: boolean;
};

/** Starts one nats-server with JetStream. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), "fabric-nats-"));
  mkdirSync(directory, { recursive: true });
  const pidFile = join(directory, "nats-server.pid");
  // A server of an earlier run that outlived its supervisor (killed -9) still holds the data.
  // Before the port is chosen: that server holds the port this one should have again.
  if (options.directory) await stopLeftoverServer(pidFile, join(directory, "server.conf"));
  // A probed port is only free until someone binds it (any outgoing connection may take it as
  // its local port): a fresh one is tried then, unless the caller chose the port.
  for (let attempt = 1; ; attempt += 1) {
    const clientPort = options.port ?? (attempt === 1 && options.preferredPort !== undefined ? await preferPort(options.preferredPort) : await findFreePort());
    const name = `fabric-${clientPort}`;
    const text = [nodeConfigText(name, directory, clientPort, options.authConfig), `pid_file: ${JSON.stringify(pidFile)}`].join("\n");
    const node = createNode({ name, directory, clientPort, text, ownProcessGroup: options.ownProcessGroup }, { keepDirectory: options.directory !== undefined });
    try {
      await node.restart();
      return { ...node, [Symbol.asyncDispose]: () => node.stop() };
    } catch (error) {
      const portTaken = String(error).includes("address already in use");
      if (!portTaken || options.port !== undefined || attempt === 3) {
        await node.stop();
        throw error;
      }
    }
  }
}

/** Stops the nats-server named in `pidFile` if it still runs (and is a nats-server of `configFile`). */
async function stopLeftoverServer(pidFile: string, configFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return; // no pid file
  }
  // The pid may belong to another program, or another nats-server, by now.
  if (!processEntries(pid, "cmdline").includes(configFile)) return;
  process.kill(pid, "SIGTERM");
  await waitFor("the leftover nats-server to stop", () => isProcessGone(pid), 10_000, 100).catch(async () => {
    process.kill(pid, "SIGKILL");
    await waitFor("the leftover nats-server to be killed", () => isProcessGone(pid), 5_000, 50);
  });
}

export type NatsClusterOptions = {
  /** Authentication settings every node gets (as NatsServerOptions.authConfig); default: none. */
  authConfig?: string;
  /** How this process connects while it waits for the meta leader (needed with authConfig). */
  authenticator?: Authenticator;
};

/** Starts a 3-node JetStream cluster and waits until it has a meta leader. */
export async function startNatsCluster(size = 3, options: NatsClusterOptions = {}): Promise<NatsCluster> {
  // Route ports must be known before any node starts, so another process can take one
  // between probing and binding; a fresh set of ports fixes that.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await launchCluster(size, options);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

async function launchCluster(size: number, options: NatsClusterOptions): Promise<NatsCluster> {
  const clientPorts = await Promise.all(Array.from({ length: size }, findFreePort));
  const routePorts = await Promise.all(Array.from({ length: size }, findFreePort));
  const routes = routePorts.map((port) => `nats-route://127.0.0.1:${port}`);
  const nodes = clientPorts.map((clientPort, index) => {
    const directory = mkdtempSync(join(tmpdir(), `fabric-nats-${index}-`));
    const name = `n${index}`;
    const cluster = [
      `cluster { name: fabric, listen: 127.0.0.1:${routePorts[index]}, routes: ${JSON.stringify(routes)} }`,
      options.authConfig ?? "",
    ].join("\n");
    return createNode({ name, directory, clientPort, text: nodeConfigText(name, directory, clientPort, cluster) });
  });
  const started = await Promise.allSettled(nodes.map((node) => node.restart()));
  const failure = started.find((result) => result.status === "rejected");
  if (failure) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw failure.reason;
  }
  const urls = nodes.map((node) => node.url);
  await waitForJetStream(urls, undefined, options.authenticator);
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  return { nodes, urls, stop, [Symbol.asyncDispose]: stop };
}

/** Resolves once JetStream answers API requests (a cluster has elected its meta leader). */
export async function waitForJetStream(urls: string[], timeoutMs = 30_000, authenticator?: Authenticator): Promise<void> {
  const nc = await connect({ servers: urls, authenticator });
  try {
    // jetstreamManager() itself asks for the account info, which fails until a leader exists.
    await waitFor("the JetStream meta leader", async () => {
      await jetstreamManager(nc, { timeout: 1_000 });
      return true;
    }, timeoutMs, 250);
  } finally {
    await nc.close();
  }
}


/**
 * Starts nats-server with a configuration file of the project's own (deploy/nats), with
 * `NATS_SERVER_NAME`, `NATS_LISTEN` and `NATS_STORE_DIR` set for it; resolves once it accepts
 * connections. The caller owns the file's folder.
 */
export async function startNatsServerWithConfig(configFile: string, storeDirectory: string): Promise<Pick<NatsServer, "url" | "stop">> {
  const port = await findFreePort();
  const child = spawnTracked(findProgram("nats-server"), ["-c", configFile], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, NATS_SERVER_NAME: `fabric-${port}`, NATS_LISTEN: `127.0.0.1:${port}`, NATS_STORE_DIR: storeDirectory },
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4_000);
  });
  await waitFor(`nats-server from ${configFile}`, () => {
    if (child.exitCode !== null) throw new Error(`nats-server exited during start:\n${log}`);
    return log.includes("Server is ready");
  });
  return { url: `nats://127.0.0.1:${port}`, stop: () => stopChild(child) };
}
