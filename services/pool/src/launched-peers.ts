/**
 * The pool's record of the peers it started, on disk (`<state dir>/peers.json`): a pool
 * that was killed -9 finds, when it starts again, what it had started. Its bridges end with
 * it anyway (they hold its pipe; FABRIC_EXIT_WITH_STDIN) and their Blenders with them
 * (PR_SET_PDEATHSIG), so this is the second line: whatever still runs is stopped, and the
 * registry forgets the peers, so nobody waits for them.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { processEntries, processStartTime } from "@blender-fabric/supervisor";

const LaunchedPeerSchema = z.object({
  uuid: z.string(),
  userId: z.string(),
  pid: z.number().int(),
  blenderPid: z.number().int(),
  /** When each started (processStartTime), which tells them apart from later processes with their pids. */
  startTimes: z.record(z.string(), z.string()).default({}),
});
export type LaunchedPeer = z.infer<typeof LaunchedPeerSchema>;

export class LaunchedPeers {
  readonly #file: string;
  readonly #peers = new Map<string, LaunchedPeer>();

  constructor(stateDirectory: string) {
    mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
    this.#file = join(stateDirectory, "peers.json");
  }

  /** What an earlier run of the pool recorded (empty when none, or unreadable). */
  previous(): LaunchedPeer[] {
    try {
      return z.array(LaunchedPeerSchema).parse(JSON.parse(readFileSync(this.#file, "utf8")));
    } catch {
      return [];
    }
  }

  add(peer: LaunchedPeer): void {
    this.#peers.set(peer.uuid, peer);
    this.#write();
  }

  remove(uuid: string): void {
    if (this.#peers.delete(uuid)) this.#write();
  }

  /** Forgets the earlier run's record: what it named has been dealt with. */
  reset(): void {
    this.#peers.clear();
    this.#write();
  }

  #write(): void {
    // Written whole, then renamed: a crash mid-write leaves the old record, never half a file.
    const partial = `${this.#file}.partial`;
    writeFileSync(partial, JSON.stringify([...this.#peers.values()]), { mode: 0o600 });
    renameSync(partial, this.#file);
  }
}

/** A peer as recorded when it started: its processes' start times come with their pids. */
export function launchedPeer(uuid: string, userId: string, pid: number, blenderPid: number): LaunchedPeer {
  const startTimes: Record<string, string> = {};
  for (const each of [pid, blenderPid]) {
    const started = processStartTime(each);
    if (started) startTimes[each] = started;
  }
  return { uuid, userId, pid, blenderPid, startTimes };
}

/**
 * Whether `pid` still runs as one of `peer`'s processes, never a process the system has since
 * given the pid: the same start time as recorded, or (a record without it) the peer's uuid in
 * its environment (FABRIC_CLIENT_UUID), which a Blender always has and a bridge has unless it
 * was a standby (its environment came later, on stdin).
 */
export function isPeerProcess(pid: number, peer: LaunchedPeer): boolean {
  const recorded = peer.startTimes[pid];
  if (recorded) return processStartTime(pid) === recorded;
  return processEntries(pid, "environ").includes(`FABRIC_CLIENT_UUID=${peer.uuid}`);
}
