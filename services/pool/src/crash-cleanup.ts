/**
 * What a pool killed -9 left behind, dealt with when it starts again. Its bridges end with it
 * (FABRIC_EXIT_WITH_STDIN) and save their projects' scenes as they go; anything the previous
 * run recorded that still runs (a bridge stuck in its drain, a stopped one, a Blender that
 * outlived its bridge) is stopped here, and registry records left by peers that could not
 * leave the bus are removed, so no caller waits for a peer that is gone.
 */
import type { KV } from "@nats-io/kv";
import { unregisterClient } from "@blender-fabric/bus";
import { waitFor } from "@blender-fabric/supervisor";
import { isPeerProcess, type LaunchedPeer, type LaunchedPeers } from "./launched-peers.js";
import type { Logger } from "./logger.js";

/** How long a leftover bridge gets to finish its job, save and leave after SIGTERM. ms */
const LEAVE_GRACE_MS = 90_000;

/** Sends a signal, ignoring a process that ended meanwhile (or was never ours to signal). */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

export async function cleanUpAfterCrash(record: LaunchedPeers, clients: KV, logger: Logger): Promise<void> {
  const previous = record.previous();
  if (previous.length === 0) return;
  // Only the processes recorded (their start times): a reused pid is left alone.
  const running = (peer: LaunchedPeer) => [peer.pid, peer.blenderPid].filter((pid) => isPeerProcess(pid, peer));
  for (const peer of previous) {
    if (!isPeerProcess(peer.pid, peer)) continue;
    signal(peer.pid, "SIGTERM");
    signal(peer.pid, "SIGCONT"); // a stopped bridge could not act on it otherwise
  }
  await waitFor("the previous run's peers to leave", () => previous.every((peer) => running(peer).length === 0), LEAVE_GRACE_MS, 100).catch(() => {});
  for (const peer of previous) {
    for (const pid of running(peer)) signal(pid, "SIGKILL");
    await unregisterClient(clients, peer.userId, peer.uuid).catch((error: unknown) =>
      logger.warn({ err: error, uuid: peer.uuid }, "could not remove a departed peer's registry record"),
    );
  }
  logger.info({ peers: previous.map((peer) => peer.uuid) }, "cleaned up after the previous run of the pool");
  record.reset();
}
