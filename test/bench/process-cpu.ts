/**
 * CPU time the fabric's processes spend, read from /proc (Linux): what one call costs each of
 * them, which varies far less between runs than calls per second on a shared 2-core machine.
 */
import { readFileSync, readdirSync } from "node:fs";

/** The processes a benchmark reports, told apart by their command line. */
export const FABRIC_PROCESSES = {
  gateway: "services/gateway/src/main.ts",
  bridge: "services/bridge/src/main.ts",
  "nats-server": "nats-server",
  /** Headless Blender started by a bridge (its command line runs the addon's headless.py). */
  blender: "addon/headless.py",
} as const;

export type CpuSample = Record<keyof typeof FABRIC_PROCESSES, number>;

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) of each kind of fabric process, summed over its processes. ms */
export function sampleFabricCpu(): CpuSample {
  const sample = Object.fromEntries(Object.keys(FABRIC_PROCESSES).map((name) => [name, 0])) as CpuSample;
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/u.test(entry))) {
    try {
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      const kind = (Object.keys(FABRIC_PROCESSES) as (keyof typeof FABRIC_PROCESSES)[]).find((name) => commandLine.includes(FABRIC_PROCESSES[name]));
      if (!kind) continue;
      // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      sample[kind] += ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
    } catch {
      // The process ended while being read.
    }
  }
  return sample;
}

/** CPU ms per call of each process kind between two samples. */
export function cpuPerCall(before: CpuSample, after: CpuSample, calls: number): CpuSample {
  return Object.fromEntries(Object.keys(before).map((name) => [name, (after[name as keyof CpuSample] - before[name as keyof CpuSample]) / Math.max(1, calls)])) as CpuSample;
}
