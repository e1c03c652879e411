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
import { processEntries } from "@blender-fabric/supervisor";

const LaunchedPeerSchema = z.object({ uuid: z.string(), userId: z.string(), pid: z.number().int(), blenderPid: z.number().int() });
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

/**
 * Whether `pid` runs as the peer `uuid`: a bridge, or its Blender, carries the uuid in its
 * environment (FABRIC_CLIENT_UUID), so a pid the system has since given to another process
 * is never taken for it.
 */
export const isPeerProcess = (pid: number, uuid: string) => processEntries(pid, "environ").includes(`FABRIC_CLIENT_UUID=${uuid}`);
