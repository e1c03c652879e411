/**
 * Bridge processes (for `blender-fabric up` and for tests): each starts (spawn mode) a real
 * headless Blender with the addon and joins one user's bus. It is ready when its health
 * endpoint says its Blender is registered on the bus (/readyz), not when a log line says so.
 * Blender must be installed; a missing Blender fails whoever needs it (never a skip).
 */
import type { ChildProcess, StdioOptions } from "node:child_process";
import { openSync, closeSync } from "node:fs";
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

export async function startBridgeProcess(options: BridgeProcessOptions): Promise<BridgeProcess> {
  const blender = findProgram("blender");
  const [command, ...args] = (options.preferBuild && currentBuildCommand("bridge")) || serviceCommand("bridge");
  const healthPort = await findFreePort();
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  const logFd = options.logFile ? openSync(options.logFile, "a") : undefined;
  // stdin stays open (a pipe nobody writes to) only to close when this process ends.
  const stdio: StdioOptions = [options.exitWithParent ? "pipe" : "ignore", logFd ?? "pipe", logFd ?? "pipe"];
  const child: ChildProcess = spawnTracked(command!, args, {
    env: {
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
    },
    stdio,
  });
  if (logFd !== undefined) closeSync(logFd);
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
