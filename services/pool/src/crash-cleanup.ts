/**
 * What a pool killed -9 left behind, dealt with when it starts again. Its bridges end with it
 * (FABRIC_EXIT_WITH_STDIN) and save their projects' scenes as they go; anything the previous
 * run recorded that still runs (a bridge stuck in its drain, a Blender that outlived its
 * bridge) is stopped here, and registry records left by peers that could not leave the bus
 * are removed, so no caller waits for a peer that is gone.
 */
import type { KV } from "@nats-io/kv";
import { unregisterClient } from "@blender-fabric/bus";
import { isRunning, type LaunchedPeers } from "./launched-peers.js";
import type { Logger } from "./logger.js";

/** How long a leftover bridge gets to save and leave after SIGTERM. ms */
const LEAVE_GRACE_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function cleanUpAfterCrash(record: LaunchedPeers, clients: KV, logger: Logger): Promise<void> {
  const previous = record.previous();
  if (previous.length === 0) return;
  const stillRunning = (peer: (typeof previous)[number]) => isRunning(peer.pid, "bridge") || isRunning(peer.blenderPid, "blender");
  for (const peer of previous) {
    if (!isRunning(peer.pid, "bridge")) continue;
    process.kill(peer.pid, "SIGTERM");
    process.kill(peer.pid, "SIGCONT"); // a stopped bridge could not act on it otherwise
  }
  const deadline = Date.now() + LEAVE_GRACE_MS;
  while (previous.some(stillRunning) && Date.now() < deadline) await sleep(100);
  for (const peer of previous) {
    for (const [pid, needle] of [[peer.pid, "bridge"], [peer.blenderPid, "blender"]] as const) {
      if (isRunning(pid, needle)) process.kill(pid, "SIGKILL");
    }
    await unregisterClient(clients, peer.userId, peer.uuid).catch((error: unknown) =>
      logger.warn({ err: error, uuid: peer.uuid }, "could not remove a departed peer's registry record"),
    );
  }
  logger.info({ peers: previous.map((peer) => peer.uuid) }, "cleaned up after the previous run of the pool");
  record.reset();
}
