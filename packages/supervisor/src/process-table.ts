/**
 * What runs on this machine, read from /proc (Linux): for telling that a supervised process
 * and everything it started have really ended, and for finding what an earlier run left.
 */
import { readFileSync, readdirSync } from "node:fs";

/** State letter and parent pid of a process, or undefined when there is none. */
export function processStat(pid: number): { state: string; parent: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0]!, parent: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** No such process, or only a zombie waiting to be reaped (a container's init may never reap it). */
export const isProcessGone = (pid: number) => (processStat(pid)?.state ?? "Z") === "Z";

/** A living process's command line, or its environment, as NUL-separated entries; [] when gone. */
export function processEntries(pid: number, what: "cmdline" | "environ"): string[] {
  if (isProcessGone(pid)) return [];
  try {
    return readFileSync(`/proc/${pid}/${what}`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/**
 * When a process started (clock ticks after boot), which tells a pid apart from a later
 * process that got the same pid; undefined when it is gone or a zombie.
 */
export function processStartTime(pid: number): string | undefined {
  if (isProcessGone(pid)) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Every living process below `root` in the process tree, children before grandchildren; [] off Linux. */
export function processDescendants(root: number): number[] {
  const children = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+$/u.test(name)) continue;
    const stat = processStat(Number(name));
    if (!stat || stat.state === "Z") continue;
    children.set(stat.parent, [...(children.get(stat.parent) ?? []), Number(name)]);
  }
  const found: number[] = [];
  for (let next = [root]; next.length > 0; ) {
    next = next.flatMap((pid) => children.get(pid) ?? []);
    found.push(...next);
  }
  return found;
}
