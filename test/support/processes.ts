/** What runs on this machine: for tests that check no process outlives its owner. */
import { readdirSync } from "node:fs";
import { processStat } from "@blender-fabric/testkit";

/** Every living process below `root` in the process tree. */
export function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/u.test(name)) continue;
    const stat = processStat(Number(name));
    if (stat && stat.state !== "Z") parents.set(Number(name), stat.parent);
  }
  return [...parents.keys()].filter((pid) => {
    for (let parent = parents.get(pid); parent !== undefined; parent = parents.get(parent)) if (parent === root) return true;
    return false;
  });
}
