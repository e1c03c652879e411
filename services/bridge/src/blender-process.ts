/**
 * Spawn mode: starts `blender -b --factory-startup --python addon/headless.py` in a fresh
 * work dir of its own (its home, working directory and TMPDIR), maybe inside a sandbox
 * (blender-sandbox.ts), and waits for the addon's `FABRIC_ADDON_READY <where>` line.
 * Blender's environment is an allow-list, never the bridge's, and the token the bridge
 * authenticates with is the first line on Blender's stdin: code run in Blender finds neither.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import type { AddonEndpoint } from "./addon-connection.js";
import { blenderEnvironment, bwrapArguments, describeSandboxExit, needsNetwork, resolveExecutable, sandboxedPid, type Sandbox } from "./blender-sandbox.js";
import { bridgeWorkRoot } from "./work-root.js";

const addonFolder = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "addon");
const headlessScript = join(addonFolder, "headless.py");

/** How long Blender may take to start and listen. ms */
const START_TIMEOUT_MS = 60_000;
/** The longest path a Unix socket can have (sun_path, with its NUL). Bytes */
const MAX_SOCKET_PATH_BYTES = 107;

export type BlenderProcessOptions = {
  executable: string;
  blendFile: string;
  /** JSON object of addon preferences. */
  addonPreferences: string;
  /** Receives Blender's own output lines, for the bridge's log. */
  onOutput: (line: string) => void;
  /**
   * Where the addon listens: `unix`, a socket in Blender's work dir (always so in a sandbox,
   * whose loopback is its own); `tcp` (default), a free localhost port, as a GUI Blender does.
   */
  listen?: "unix" | "tcp";
  /** Start Blender in this sandbox (blender-sandbox.ts chooseSandbox); absent: unsandboxed. */
  sandbox?: Sandbox;
  /** Folders Blender reads but does not change (the farm's blend cache); created if missing, so a sandbox can show them. */
  readableFolders?: string[];
  /** Folders Blender reads and writes besides its own (FABRIC_SANDBOX_SHARE); created if missing. */
  sharedFolders?: string[];
  /** The peer's uuid: in Blender's environment, so the pool's crash clean-up knows a leftover Blender (launched-peers.ts). */
  clientUuid?: string;
  /** Called once the process is spawned, long before its addon is ready. */
  onSpawned?: (child: ChildProcess) => void;
};

export type RunningBlender = {
  /** The process the bridge started: Blender, or bubblewrap around it. */
  child: ChildProcess;
  /** Where its addon listens. */
  endpoint: AddonEndpoint;
  /** The addon's TCP port; 0 on a Unix socket. */
  port: number;
  token: string;
  /** Blender's pid on this machine (in a sandbox, not bubblewrap's): what the registry names. */
  pid: number;
  /** Signals Blender itself; a sandbox ends with it. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with a description of how the process ended. */
  exited: Promise<string>;
};

export async function startBlender(options: BlenderProcessOptions): Promise<RunningBlender> {
  const { sandbox } = options;
  const token = randomBytes(24).toString("hex");
  const root = bridgeWorkRoot();
  const home = await mkdtemp(join(root, "blender-"));
  const socket = sandbox || options.listen === "unix" ? join(home, "addon.sock") : undefined;
  if (socket && Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    await rm(home, { recursive: true, force: true });
    throw new Error(`the addon socket path ${socket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; set TMPDIR to a shorter folder`);
  }
  for (const folder of [...(options.readableFolders ?? []), ...(options.sharedFolders ?? [])]) await mkdir(folder, { recursive: true });
  // Blender's working directory is its home: a relative path means the bridge's.
  const blendFile = options.blendFile ? resolve(options.blendFile) : "";
  const environment = blenderEnvironment(process.env, {
    HOME: home,
    TMPDIR: home,
    FABRIC_ADDON_PREFS: options.addonPreferences,
    ...(socket ? { FABRIC_ADDON_SOCKET: socket } : { FABRIC_ADDON_PORT: "0" }),
    ...(options.clientUuid ? { FABRIC_CLIENT_UUID: options.clientUuid } : {}),
  });
  const blenderArgs = ["-b", ...(blendFile ? [blendFile] : []), "--factory-startup", "--python", headlessScript];
  let command = options.executable;
  let args = blenderArgs;
  if (sandbox) {
    const executable = resolveExecutable(options.executable) ?? options.executable;
    const view = {
      home,
      writable: [root, ...(options.sharedFolders ?? []).map((folder) => resolve(folder))],
      // Blender's own folder matters only for an install outside /usr and /opt (an official tarball).
      readable: [addonFolder, ...(options.readableFolders ?? []), ...(blendFile ? [blendFile] : []), dirname(executable)],
      network: needsNetwork(options.addonPreferences),
    };
    command = sandbox.bwrap;
    args = [...bwrapArguments(view), executable, ...blenderArgs];
  }
  const child = spawn(command, args, {
    env: environment,
    cwd: home,
    stdio: ["pipe", "pipe", "pipe"],
    // Its own session: a Ctrl-C in the bridge's terminal reaches every process of the
    // terminal's group, and bubblewrap would die of it while its bridge still saves a
    // project's scene through Blender (headless.py ignores SIGINT for the same reason).
    detached: !!sandbox,
  });
  options.onSpawned?.(child);
  child.stdin!.on("error", () => {}); // a Blender that dies at once: "exit" tells how
  child.stdin!.write(`${token}\n`);
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(sandbox ? describeSandboxExit(code, signal) : signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.once("error", (error) => resolve(`could not start: ${error.message}`));
  });
  void exited.then(() => rm(home, { recursive: true, force: true }));
  createInterface({ input: child.stderr! }).on("line", options.onOutput);
  const endpoint = await new Promise<AddonEndpoint>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL"); // the next attempt starts a fresh one; never leave this one behind
      reject(new Error("Blender did not start its addon server within 60 s"));
    }, START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const ready = /^FABRIC_ADDON_READY (?:unix:(.+)|(\d+))$/.exec(line.trim());
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1] ? { path: ready[1] } : { host: "127.0.0.1", port: Number(ready[2]) });
      } else {
        options.onOutput(line);
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`Blender ${how} before its addon server was ready`));
    });
  });
  const pid = (sandbox && (await sandboxedPid(child.pid!))) || child.pid!;
  const kill = (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return; // gone: its pid may be another process's now
    if (pid === child.pid) return void child.kill(signal);
    try {
      process.kill(pid, signal);
    } catch {
      child.kill(signal); // Blender went meanwhile; bubblewrap ends its sandbox
    }
  };
  return { child, endpoint, port: "port" in endpoint ? endpoint.port : 0, token, pid, kill, exited };
}
