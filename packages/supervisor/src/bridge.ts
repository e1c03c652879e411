/**
 * Bridge processes (for `blender-fabric up` and for tests): each starts (spawn mode) a real
 * headless Blender with the addon and joins one user's bus. It is ready when its health
 * endpoint says its Blender is registered on the bus (/readyz), not when a log line says so.
 * Blender must be installed; a missing Blender fails whoever needs it (never a skip).
 */
import type { ChildProcess, StdioOptions } from "node:child_process";
import { closeSync, openSync, renameSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { serviceCommand, spawnTracked, stopChild } from "./child-processes.js";
import { currentBuildCommand } from "./current-build.js";
import { findProgram } from "./programs.js";
import { findFreePort } from "./ports.js";

/** How long a bridge may take to start Blender and register. ms */
const READY_TIMEOUT_MS = 90_000;

export type BridgeProcessOptions = {
  natsUrls: string[];
  user: string;
  uuid: string;
  groupId?: string;
  capabilities?: string[];
  /** Addon preferences, e.g. { enable_polyhaven: true, polyhaven_base_url: "http://127.0.0.1:…" }. */
  addonPreferences?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Show the bridge's log lines on this process's stderr (always on with FABRIC_TEST_VERBOSE). */
  showLogs?: boolean;
  /** How long to wait for the first registration. ms */
  readyTimeoutMs?: number;
  /**
   * The bridge ends when this process ends, however it ends (kill -9 too): it holds the
   * bridge's stdin, which closes with it (FABRIC_EXIT_WITH_STDIN).
   */
  exitWithParent?: boolean;
  /**
   * Write the bridge's output to this file instead of a pipe to this process, so it never
   * writes into a broken pipe once this process is gone.
   */
  logFile?: string;
  /**
   * Run the built bridge (`services/bridge/dist`) when its build is current with its sources,
   * even while this process runs from source: it starts without tsx transpiling it first
   * (the pool's peers on demand, which an agent waits for).
   */
  preferBuild?: boolean;
  /**
   * A bridge started ahead of demand ({@link startBridgeStandby}) to become this peer: it
   * skips Node's start and the bridge's module loading. Used only while it still waits and
   * runs the command a fresh start would; needs `exitWithParent` and `logFile` (it is renamed).
   */
  standby?: BridgeStandby;
};

/** A bridge process that has loaded all of itself and waits to be told which peer it is (FABRIC_STANDBY). */
export type BridgeStandby = {
  child: ChildProcess;
  /** What it runs: a peer may use it only if a fresh start would run the same. */
  command: string[];
  /** Where its output goes until it becomes a peer; then the file takes the peer's log name. */
  logFile: string;
  /** Claims it for one peer: false when it was taken already or has exited. */
  take(): boolean;
  /** Ends it (SIGKILL: it holds nothing) and removes its log, unless it was taken. */
  discard(): Promise<void>;
};

export type BridgeProcess = AsyncDisposable & {
  uuid: string;
  /** pid of the bridge process. */
  pid: number;
  /** Resolves when the bridge process has exited (e.g. by itself, idle). */
  exited: Promise<void>;
  /** pid of the Blender the bridge last registered. */
  blenderPid(): number;
  /** Resolves when the bridge has registered a Blender with a pid other than `previousPid`. */
  nextRegistration(previousPid: number, timeoutMs?: number): Promise<number>;
  /** SIGKILL the bridge itself (its Blender follows when it notices its parent is gone). */
  kill(): Promise<void>;
  /** SIGSTOP the bridge: it stays connected but does nothing (heartbeats stop). */
  pause(): void;
  /** SIGCONT a paused bridge. */
  resume(): void;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s); a project's peer needs longer to save. */
  stop(graceMs?: number): Promise<void>;
};

/** How often the supervisor asks a bridge's /readyz which Blender it has registered, while someone waits for a registration. ms */
const READINESS_POLL_MS = 100;
/** The same, while nobody waits (it keeps blenderPid() current at little cost). ms */
const IDLE_READINESS_POLL_MS = 1_000;

/** The pid of the Blender a bridge has registered on the bus (its /readyz), 0 while none. */
async function registeredBlenderPid(healthUrl: string): Promise<number> {
  try {
    const response = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
    if (!response.ok) return 0;
    return ((await response.json()) as { blender_pid?: number }).blender_pid ?? 0;
  } catch {
    return 0; // starting, paused or gone
  }
}

const bridgeCommand = (preferBuild: boolean | undefined) => (preferBuild && currentBuildCommand("bridge")) || serviceCommand("bridge");

/**
 * Starts a bridge ahead of demand: it loads all of itself, then waits (its parent holds its
 * stdin; it ends with it) until {@link startBridgeProcess} names the peer it is to be.
 */
export function startBridgeStandby(options: { logFile: string; preferBuild?: boolean }): BridgeStandby {
  const command = bridgeCommand(options.preferBuild);
  const logFd = openSync(options.logFile, "a");
  const child = spawnTracked(command[0]!, command.slice(1), { env: { ...process.env, FABRIC_STANDBY: "true" }, stdio: ["pipe", logFd, logFd] });
  closeSync(logFd);
  let taken = false;
  child.stdin!.on("error", () => {}); // an exited standby: take() says so
  return {
    child,
    command,
    logFile: options.logFile,
    take: () => {
      const waiting = !taken && child.exitCode === null && child.signalCode === null;
      taken = true;
      return waiting;
    },
    discard: async () => {
      if (taken) return; // a peer now, or discarded already
      taken = true;
      await stopChild(child, "SIGKILL");
      rmSync(options.logFile, { force: true });
    },
  };
}

/** The standby, taken, if it may become this peer: it runs what a fresh start would, and this peer ends with its parent and logs to a file. */
function takeStandby(options: BridgeProcessOptions, command: string[]): BridgeStandby | undefined {
  const standby = options.standby;
  const fits = standby && options.exitWithParent && options.logFile && standby.command.join("\0") === command.join("\0");
  if (!fits || !standby.take()) return undefined;
  renameSync(standby.logFile, options.logFile!);
  return standby;
}

export async function startBridgeProcess(options: BridgeProcessOptions): Promise<BridgeProcess> {
  const blender = findProgram("blender");
  const [command, ...args] = bridgeCommand(options.preferBuild);
  const healthPort = await findFreePort();
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  const environment = {
    ...process.env,
    FABRIC_NATS_URL: options.natsUrls.join(","),
    FABRIC_USER: options.user,
    FABRIC_CLIENT_UUID: options.uuid,
    FABRIC_BLENDER: blender,
    ...(options.groupId ? { FABRIC_GROUP_ID: options.groupId } : {}),
    ...(options.capabilities ? { FABRIC_CAPABILITIES: options.capabilities.join(",") } : {}),
    FABRIC_ADDON_PREFS: JSON.stringify(options.addonPreferences ?? {}),
    FABRIC_LOG_LEVEL: "info",
    ...(options.exitWithParent ? { FABRIC_EXIT_WITH_STDIN: "true" } : {}),
    ...options.env,
    // Readiness comes from the bridge's health endpoint: registered on the bus, with which Blender.
    FABRIC_HEALTH_PORT: String(healthPort),
    FABRIC_HEALTH_HOST: "127.0.0.1",
  };
  const standby = takeStandby(options, [command!, ...args]);
  if (options.standby && !standby) void options.standby.discard(); // it cannot become this peer, nor any later one
  let child: ChildProcess;
  if (standby) {
    child = standby.child;
    child.stdin!.write(`${JSON.stringify(environment)}\n`);
  } else {
    const logFd = options.logFile ? openSync(options.logFile, "a") : undefined;
    // stdin stays open (a pipe nobody writes to) only to close when this process ends.
    const stdio: StdioOptions = [options.exitWithParent ? "pipe" : "ignore", logFd ?? "pipe", logFd ?? "pipe"];
    child = spawnTracked(command!, args, { env: environment, stdio });
    if (logFd !== undefined) closeSync(logFd);
  }
  let output = "";
  const logs = () => (options.logFile ? `(its log: ${options.logFile})` : output);
  let pid = 0;
  const registrations: ((pid: number) => void)[] = [];
  const collect = (line: string) => {
    output = `${output}${line}\n`.slice(-8_000);
    if (options.showLogs || process.env.FABRIC_TEST_VERBOSE) process.stderr.write(`[${options.uuid}] ${line}\n`);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on("line", collect);
  if (child.stderr) createInterface({ input: child.stderr }).on("line", collect);
  let running = true;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      running = false;
      resolve();
    }),
  );
  // Follows the registered Blender: a restarted one registers with a new pid.
  void (async () => {
    while (running) {
      const registered = await registeredBlenderPid(healthUrl);
      if (registered && registered !== pid) {
        pid = registered;
        for (const notify of registrations.splice(0)) notify(pid);
      }
      const pause = registrations.length > 0 ? READINESS_POLL_MS : IDLE_READINESS_POLL_MS;
      await new Promise((resolve) => setTimeout(resolve, pause).unref());
    }
  })();

  const nextRegistration = (previousPid: number, timeoutMs = READY_TIMEOUT_MS) =>
    new Promise<number>((resolve, reject) => {
      if (pid && pid !== previousPid) return resolve(pid);
      const timer = setTimeout(() => reject(new Error(`bridge ${options.uuid} did not register within ${timeoutMs} ms:\n${logs()}`)), timeoutMs);
      const check = (next: number) => {
        if (next === previousPid) return void registrations.push(check);
        clearTimeout(timer);
        resolve(next);
      };
      registrations.push(check);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`bridge ${options.uuid} exited:\n${logs()}`));
      });
    });

  const stopWith = (signal: "SIGTERM" | "SIGKILL", graceMs?: number) => {
    child.kill("SIGCONT"); // a paused bridge must still end
    return stopChild(child, signal, graceMs);
  };
  try {
    await nextRegistration(0, options.readyTimeoutMs);
  } catch (error) {
    await stopWith("SIGKILL");
    throw error;
  }
  return {
    uuid: options.uuid,
    pid: child.pid!,
    exited,
    blenderPid: () => pid,
    nextRegistration,
    kill: () => stopWith("SIGKILL"),
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    stop: (graceMs) => stopWith("SIGTERM", graceMs),
    [Symbol.asyncDispose]: () => stopWith("SIGTERM"),
  };
}
