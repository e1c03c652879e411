/**
 * The stop guard of `blender-fabric up`: a small process of its own that stops whatever the
 * supervisor started if the supervisor ends without stopping it, however it ends (SIGKILL,
 * a signal it had no listener for, a crash). Node cannot ask the kernel to end its children
 * with it (there is no prctl(PR_SET_PDEATHSIG) in Node), and nats-server and a gateway that
 * ignores SIGINT cannot notice on their own that their supervisor is gone.
 *
 * The supervisor names each child on the guard's stdin as it starts it; its end of that pipe
 * closes when it exits, whatever kills it. The guard then stops the children still running,
 * last started first, as the supervisor would have (the pool first, which lets its Blenders
 * save their projects, NATS last). It runs in a session of its own, so neither a terminal's
 * Ctrl-C nor a kill of the terminal's process group reaches it.
 */
import { spawn } from "node:child_process";
import { supervisorEntryCommand, watchSpawns } from "./child-processes.js";
import { processStartTime } from "./process-table.js";

/** One child as the supervisor names it to the guard: one JSON line on the guard's stdin. */
export type GuardedChild = {
  pid: number;
  /** Its start time (processStartTime), so a later process with the same pid is left alone. */
  startTime: string;
  /** How long it may take to exit after SIGTERM before SIGKILL. ms */
  graceMs: number;
  /** Its command line, for the guard's message. */
  command: string;
};

export type StopGuard = {
  pid: number;
  /** Everything is stopped: the guard reads the end of its stdin, finds nothing running and exits. */
  release(): void;
};

/** Starts the guard; every child spawnTracked starts from now on is named to it. */
export function startStopGuard(): StopGuard {
  const [command, ...args] = supervisorEntryCommand("stop-guard-main");
  const guard = spawn(command!, args, { stdio: ["pipe", "ignore", "inherit"], detached: true });
  // It must not keep this process alive, nor crash it once it is gone.
  guard.unref();
  guard.stdin!.on("error", () => {});
  watchSpawns((child, graceMs) => {
    const startTime = processStartTime(child.pid!);
    if (startTime === undefined) return; // gone already, or no /proc to tell a pid's reuse by
    const named: GuardedChild = { pid: child.pid!, startTime, graceMs, command: child.spawnargs.join(" ").slice(0, 200) };
    guard.stdin!.write(`${JSON.stringify(named)}\n`);
  });
  return {
    pid: guard.pid!,
    release: () => {
      watchSpawns(() => {});
      guard.stdin!.end();
    },
  };
}
