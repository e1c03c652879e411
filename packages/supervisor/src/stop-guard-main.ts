/**
 * The stop guard's process (stop-guard.ts): remembers the children named on its stdin and,
 * when its stdin ends (its supervisor exited, however), stops those still running, last
 * started first: SIGTERM, then SIGKILL after each one's grace. Then it exits.
 */
import { createInterface } from "node:readline";
import { processStartTime } from "./process-table.js";
import type { GuardedChild } from "./stop-guard.js";

/** How often a child that was told to stop is looked for in the process table. ms */
const POLL_MS = 100;

const children: GuardedChild[] = [];

function parseGuardedChild(line: string): GuardedChild | undefined {
  try {
    const named = JSON.parse(line) as Partial<GuardedChild>;
    const valid = Number.isInteger(named.pid) && typeof named.startTime === "string" && Number.isFinite(named.graceMs) && typeof named.command === "string";
    return valid ? (named as GuardedChild) : undefined;
  } catch {
    return undefined;
  }
}

const isRunning = (child: GuardedChild) => processStartTime(child.pid) === child.startTime;

function signal(child: GuardedChild, name: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(child.pid, name);
  } catch {
    // gone meanwhile
  }
}

async function stop(child: GuardedChild): Promise<void> {
  if (!isRunning(child)) return;
  signal(child, "SIGTERM");
  const deadline = Date.now() + child.graceMs;
  while (isRunning(child) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  if (isRunning(child)) signal(child, "SIGKILL");
}

async function stopWhatIsLeft(): Promise<void> {
  const left = children.filter(isRunning).reverse();
  if (left.length === 0) return;
  process.stderr.write(`\nthe supervisor ended before it stopped everything; stopping:\n${left.map((child) => `  ${child.pid} ${child.command}`).join("\n")}\n`);
  for (const child of left) await stop(child);
  process.stderr.write("stopped.\n");
}

// The terminal this was started from may be gone by now.
process.stderr.on("error", () => {});
createInterface({ input: process.stdin })
  .on("line", (line) => {
    const child = parseGuardedChild(line);
    if (child) children.push(child);
  })
  .once("close", () => void stopWhatIsLeft().finally(() => process.exit(0)));
