/**
 * What starting headless Blender depends on, and the bridge's very first step: Blender starts
 * straight from the raw environment, before the bridge loads its environment's schema (zod)
 * and its logger (pino), about 0.15-0.25 s of module loading on a 2-core machine that a cold
 * start on demand would otherwise spend before Blender's own 0.8 s. This module therefore
 * loads nothing but Node's own modules and the spawn code.
 *
 * The raw reading is a shortcut, never a second source of truth: it starts Blender only when
 * every variable involved is plainly valid, with the same defaults the schema uses (env.ts
 * takes them from here), and BlenderPeer uses the early Blender only when the checked
 * environment asks for exactly the same start; otherwise that Blender is killed and the
 * bridge starts its own (or exits with the schema's error).
 */
import type { ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import { blendCacheFolder } from "./blend-cache.js";
import { startBlender, type RunningBlender } from "./blender-process.js";
import { chooseSandbox, type Sandbox, type SandboxMode } from "./blender-sandbox.js";
import type { BridgeEnv } from "./env.js";

/** The defaults of the Blender-start variables, for env.ts's schema and the early start alike. */
export const BLENDER_START_DEFAULTS = {
  FABRIC_BLENDER: "blender",
  FABRIC_BLEND_FILE: "",
  FABRIC_ADDON_PREFS: "{}",
  FABRIC_SANDBOX: "auto",
  FABRIC_BLEND_CACHE: "",
  FABRIC_SANDBOX_SHARE: "",
} as const;
export const SANDBOX_MODES = ["auto", "bwrap", "off"] as const satisfies readonly SandboxMode[];

/** A peer's uuid when FABRIC_CLIENT_UUID is unset (the same all through one process). */
export const defaultClientUuid = () => `blender-${hostname()}-${process.pid}`;

/** `a, b,,c` → [a, b, c]: how FABRIC_SANDBOX_SHARE (and the schema's other lists) read. */
export const splitList = (value: string) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

/** Everything a spawn-mode start of Blender depends on. */
export type BlenderStart = {
  executable: string;
  blendFile: string;
  /** JSON object of addon preferences. */
  addonPreferences: string;
  sandbox: SandboxMode;
  /** Folders Blender may also read and write (FABRIC_SANDBOX_SHARE). */
  sharedFolders: string[];
  clientUuid: string;
  /** The farm's blend cache, which Blender reads. */
  blendCache: string;
};

export const sameStart = (a: BlenderStart, b: BlenderStart) => JSON.stringify(a) === JSON.stringify(b);

/** Blender started before the bridge's modules loaded, waiting for its BlenderPeer. */
export type EarlyBlender = {
  start: BlenderStart;
  sandbox: Sandbox | undefined;
  /** Why Blender runs unsandboxed (FABRIC_SANDBOX=auto without a working bubblewrap), for the log. */
  sandboxWarning?: string;
  /** When it was started: Date.now() */
  startedAt: number;
  /** Settles once the process is spawned (or its start failed): what the bridge loads next must not delay the spawn. */
  spawned: Promise<void>;
  blender: Promise<RunningBlender>;
  /** Where Blender's output lines go from now on (those so far come first). */
  followOutput(sink: (line: string) => void): void;
  /** Kills it (the checked environment wants another start, or none). */
  abandon(): void;
};

/** Blender's output kept until the logger exists: a start prints a few dozen lines at most. */
const MAX_HELD_LINES = 200;

/** Starts Blender through the spawn code BlenderPeer uses for every later start. */
export function spawnBlender(
  start: BlenderStart,
  sandbox: Sandbox | undefined,
  onOutput: (line: string) => void,
  onSpawned?: (child: ChildProcess) => void,
): Promise<RunningBlender> {
  return startBlender({
    executable: start.executable,
    blendFile: start.blendFile,
    addonPreferences: start.addonPreferences,
    onOutput,
    // No localhost port that any local process could knock on: a socket in Blender's own folder.
    listen: "unix",
    sandbox,
    readableFolders: [blendCacheFolder(start.blendCache, start.clientUuid)],
    sharedFolders: start.sharedFolders,
    clientUuid: start.clientUuid,
    onSpawned,
  });
}

/** The Blender start the checked environment asks for (spawn mode). */
export function blenderStartOf(env: BridgeEnv): BlenderStart {
  return {
    executable: env.FABRIC_BLENDER,
    blendFile: env.FABRIC_BLEND_FILE,
    addonPreferences: env.FABRIC_ADDON_PREFS,
    sandbox: env.FABRIC_SANDBOX,
    sharedFolders: env.FABRIC_SANDBOX_SHARE,
    clientUuid: env.FABRIC_CLIENT_UUID,
    blendCache: env.FABRIC_BLEND_CACHE,
  };
}

/** The start the raw environment asks for, or undefined when it is not spawn mode or anything is unusual (the schema then decides). */
export function rawBlenderStart(raw: Record<string, string | undefined>): BlenderStart | undefined {
  const mode = raw.FABRIC_MODE ?? "spawn";
  const sandbox = (raw.FABRIC_SANDBOX ?? BLENDER_START_DEFAULTS.FABRIC_SANDBOX) as SandboxMode;
  if (mode !== "spawn" || !SANDBOX_MODES.includes(sandbox) || raw.FABRIC_CLIENT_UUID === "") return undefined;
  return {
    executable: raw.FABRIC_BLENDER ?? BLENDER_START_DEFAULTS.FABRIC_BLENDER,
    blendFile: raw.FABRIC_BLEND_FILE ?? BLENDER_START_DEFAULTS.FABRIC_BLEND_FILE,
    addonPreferences: raw.FABRIC_ADDON_PREFS ?? BLENDER_START_DEFAULTS.FABRIC_ADDON_PREFS,
    sandbox,
    sharedFolders: splitList(raw.FABRIC_SANDBOX_SHARE ?? BLENDER_START_DEFAULTS.FABRIC_SANDBOX_SHARE),
    clientUuid: raw.FABRIC_CLIENT_UUID ?? defaultClientUuid(),
    blendCache: raw.FABRIC_BLEND_CACHE ?? BLENDER_START_DEFAULTS.FABRIC_BLEND_CACHE,
  };
}

/**
 * Starts Blender now when the raw environment plainly asks for a spawn-mode start, else
 * undefined. A bridge that exits before a BlenderPeer took it (a bad environment) leaves
 * nothing behind: headless.py ends Blender when its parent goes (PR_SET_PDEATHSIG, stdin).
 */
export function startBlenderEarly(raw: Record<string, string | undefined> = process.env): EarlyBlender | undefined {
  const start = rawBlenderStart(raw);
  if (!start) return undefined;
  let sandbox: Sandbox | undefined;
  let sandboxWarning: string | undefined;
  try {
    sandbox = chooseSandbox(start.sandbox, (message) => (sandboxWarning = message));
  } catch {
    return undefined; // FABRIC_SANDBOX=bwrap without a working bubblewrap: the peer says so
  }
  const held: string[] = [];
  let sink: (line: string) => void = (line) => void (held.length < MAX_HELD_LINES && held.push(line));
  const startedAt = Date.now();
  let child: ChildProcess | undefined;
  let spawned!: () => void;
  const spawnedOrFailed = new Promise<void>((resolve) => (spawned = resolve));
  const blender = spawnBlender(start, sandbox, (line) => sink(line), (started) => {
    child = started;
    spawned();
  });
  blender.catch(spawned); // a failed early start is retried by the peer, which logs why
  return {
    start,
    sandbox,
    sandboxWarning,
    startedAt,
    spawned: spawnedOrFailed,
    blender,
    followOutput(next) {
      for (const line of held.splice(0)) next(line);
      sink = next;
    },
    abandon() {
      // Blender, or bubblewrap, whose sandbox ends with it.
      child?.kill("SIGKILL");
    },
  };
}
