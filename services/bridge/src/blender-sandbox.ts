/**
 * What code run in Blender can reach. Whoever holds a tenant's token runs any Python there
 * (`blender_execute_code`), so Blender must not see the bridge's secrets: its environment is
 * an allow-list (never the bridge's own), and on Linux it runs inside bubblewrap, which shows
 * it a minimal filesystem and nothing of the bridge's but the folders they share:
 *
 * - read-only: the system (/usr, /etc, /opt and the /bin, /lib… links), the addon, the farm's
 *   blend cache, the .blend file it opens, its own install folder when outside /usr or /opt;
 * - read-write: the bridge's work root (work-root.ts: Blender's home, its addon socket, farm
 *   outputs, snapshots, a project's scene) and the folders named in FABRIC_SANDBOX_SHARE,
 *   at the same path as outside;
 * - private: /proc (its own processes only), /dev (null, zero, random, tty…), /tmp (empty);
 * - no network (not even the host's loopback) unless a tier-3 integration is on, no
 *   capabilities, its own session (no terminal to inject keystrokes into).
 * So the bridge's credential files (`.fabric/`, the pool's minted `.creds`), the user's home
 * and other bridges' folders do not exist in there. /etc is shown whole: what the bridge's
 * user may read there, Blender may read too. It does not limit CPU, memory or disk, and the
 * kernel is shared (a kernel exploit escapes it).
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants as fsConstants, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { constants } from "node:os";
import { delimiter, isAbsolute, join, relative, resolve } from "node:path";

export type SandboxMode = "auto" | "bwrap" | "off";

/** bubblewrap, found on PATH and proven to work on this machine. */
export type Sandbox = { bwrap: string };

/** FABRIC_SANDBOX=bwrap, and bubblewrap is missing or does not work here. */
export class SandboxUnavailable extends Error {
  override name = "SandboxUnavailable";
}

/** Shown read-only (or as the same symlink) at their own paths when they exist. */
const SYSTEM_PATHS = ["/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/** Variables of the bridge's environment Blender gets too: nothing secret, only what Blender and its Python use. */
const PASSED_ON = /^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|DISPLAY)$/;

/** The addon preferences that make Blender call out to the internet (addon/PROTOCOL.md, tier 3). */
const NETWORK_PREFERENCES = ["enable_polyhaven", "enable_sketchfab", "enable_hyper3d"];

/** How long the start-up check of bubblewrap may take. ms */
const PROBE_TIMEOUT_MS = 10_000;

const isInside = (path: string, folder: string) => {
  const rest = relative(folder, path);
  return rest === "" || (!rest.startsWith("..") && !isAbsolute(rest));
};

/** `program` on PATH (only there: what spawn would run), or undefined. */
function findOnPath(program: string): string | undefined {
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (!folder) continue;
    const candidate = join(folder, program);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** What each bubblewrap found on PATH proved, once per process (a standby bridge finds out before it is needed). */
const probed = new Map<string, string | undefined>();

/** Why bubblewrap cannot sandbox here (user namespaces off, a container without /proc…), or undefined when it can. */
function probe(bwrap: string): string | undefined {
  if (!probed.has(bwrap)) probed.set(bwrap, runProbe(bwrap));
  return probed.get(bwrap);
}

function runProbe(bwrap: string): string | undefined {
  const args = ["--die-with-parent", "--unshare-all", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "true"];
  const run = spawnSync(bwrap, args, { encoding: "utf8", timeout: PROBE_TIMEOUT_MS });
  if (run.status === 0) return undefined;
  return `${bwrap} does not work here: ${(run.stderr || run.error?.message || `exit ${run.status}`).trim()}`;
}

/**
 * Decides once, when the bridge starts, whether its Blenders run in bubblewrap: `off` never;
 * `bwrap` always, or throws {@link SandboxUnavailable}; `auto` when bubblewrap works here,
 * else `warn` is told once and Blender runs unsandboxed.
 */
export function chooseSandbox(mode: SandboxMode, warn: (message: string) => void): Sandbox | undefined {
  if (mode === "off") return undefined;
  const bwrap = process.platform === "linux" ? findOnPath("bwrap") : undefined;
  const failure =
    process.platform !== "linux"
      ? `bubblewrap runs only on Linux, not on ${process.platform}`
      : bwrap
        ? probe(bwrap)
        : "bubblewrap (bwrap) is not on PATH; install it (Debian: apt-get install bubblewrap)";
  if (!failure) return { bwrap: bwrap! };
  if (mode === "bwrap") throw new SandboxUnavailable(`FABRIC_SANDBOX=bwrap, but ${failure}`);
  warn(
    `Blender runs WITHOUT a sandbox: ${failure}. Code run in it (blender_execute_code) can read every file this bridge can read, ` +
      "its credentials included. Set FABRIC_SANDBOX=off to run so on purpose, or FABRIC_SANDBOX=bwrap to refuse.",
  );
  return undefined;
}

/** Blender's whole environment: the allow-listed part of `source`, then `own` (its home, its addon settings). */
export function blenderEnvironment(source: NodeJS.ProcessEnv, own: Record<string, string>): Record<string, string> {
  const passed = Object.entries(source).filter((entry): entry is [string, string] => PASSED_ON.test(entry[0]) && entry[1] !== undefined);
  return { ...Object.fromEntries(passed), ...own };
}

/** Whether these addon preferences (JSON) turn on an integration that needs the internet. */
export function needsNetwork(addonPreferences: string): boolean {
  try {
    const preferences = JSON.parse(addonPreferences) as Record<string, unknown>;
    return NETWORK_PREFERENCES.some((name) => preferences[name] === true);
  } catch {
    return false; // headless.py refuses preferences that are not a JSON object
  }
}

/** The real path of an executable named as spawn would find it, or undefined. */
export function resolveExecutable(executable: string): string | undefined {
  const found = executable.includes("/") ? resolve(executable) : findOnPath(executable);
  try {
    return found && realpathSync(found);
  } catch {
    return undefined;
  }
}

export type SandboxView = {
  /** Blender's own folder: home, working directory and TMPDIR. Inside a writable folder. */
  home: string;
  /** Shown read-write at the same path. */
  writable: string[];
  /** Shown read-only at the same path when they exist (files or folders). */
  readable: string[];
  /** Share the host's network (tier-3 integrations); otherwise Blender has only its own loopback. */
  network: boolean;
};

/** bubblewrap's options for this view; the command and its arguments follow them. */
export function bwrapArguments(view: SandboxView): string[] {
  // --new-session: no controlling terminal to push keystrokes into (TIOCSTI).
  // --cap-drop ALL: run as root, bwrap would otherwise keep capabilities that let code in
  // Blender remount the read-only folders writable.
  const args = ["--die-with-parent", "--unshare-all", "--new-session", "--cap-drop", "ALL"];
  if (view.network) args.push("--share-net");
  const shown: string[] = [];
  for (const path of SYSTEM_PATHS) {
    try {
      const link = lstatSync(path).isSymbolicLink();
      args.push(...(link ? ["--symlink", readlinkSync(path), path] : ["--ro-bind", path, path]));
      if (!link) shown.push(path);
    } catch {
      // not on this system
    }
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  // The host's resolver, when /etc/resolv.conf points into /run (systemd-resolved).
  if (view.network) args.push("--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve");
  const binds = [
    ...view.writable.map((path) => ({ path, option: "--bind" })),
    // What the system or the writable folders show already needs no bind of its own.
    ...view.readable
      .filter((path) => ![...shown, ...view.writable].some((folder) => isInside(path, folder)))
      .map((path) => ({ path, option: "--ro-bind-try" })),
  ];
  // A folder before the folders inside it: a bind made later hides what was bound below it
  // (a read-only Blender folder that holds the writable work root must not cover it).
  binds.sort((a, b) => a.path.split("/").length - b.path.split("/").length);
  for (const { path, option } of binds) args.push(option, path, path);
  args.push("--chdir", view.home);
  return args;
}

/** NSpid of a process: its pid in each pid namespace from ours down to its own. */
function namespacePids(pid: number): string[] {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((entry) => entry.startsWith("NSpid:"));
    return line ? line.slice("NSpid:".length).trim().split(/\s+/) : [];
  } catch {
    return [];
  }
}

/**
 * The pid on this machine of the command bubblewrap (`bwrapPid`) runs: the first process below
 * it that lives in a deeper pid namespace and is not that namespace's init (bwrap itself).
 * Blender knows only its pid inside the sandbox; the registry and signals need this one.
 */
export async function sandboxedPid(bwrapPid: number): Promise<number | undefined> {
  // Imported only now: the supervisor package is not loaded before Blender starts (a cold start waits on that).
  const { processStat } = await import("@blender-fabric/supervisor");
  const outerDepth = namespacePids(bwrapPid).length;
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = processStat(Number(entry))?.parent;
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const queue = [...(children.get(bwrapPid) ?? [])];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    const ids = namespacePids(pid);
    if (ids.length > outerDepth && ids.at(-1) !== "1") return pid;
    queue.push(...(children.get(pid) ?? []));
  }
  return undefined;
}

/** How bubblewrap's exit reads: it exits with 128 + the signal that killed its command. */
export function describeSandboxExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by ${signal}`;
  if (code !== null && code > 128) {
    const name = Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0];
    if (name) return `killed by ${name}`;
  }
  return `exited with code ${code}`;
}
