/** What runs on this machine, read from /proc: for tests that check no process outlives its owner. */
import { readFileSync, readdirSync } from "node:fs";

/** State letter and parent pid of a process, or undefined when there is none. */
function statOf(pid: number): { state: string; parent: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0]!, parent: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** No such process, or only a zombie waiting to be reaped (a container's init may never reap it). */
export const isGone = (pid: number) => (statOf(pid)?.state ?? "Z") === "Z";

/** Every living process below `root` in the process tree. */
export function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/u.test(name)) continue;
    const stat = statOf(Number(name));
    if (stat && stat.state !== "Z") parents.set(Number(name), stat.parent);
  }
  return [...parents.keys()].filter((pid) => {
    for (let parent = parents.get(pid); parent !== undefined; parent = parents.get(parent)) if (parent === root) return true;
    return false;
  });
}
