/**
 * Handing a place over. With every place taken and a project's work waiting for a peer, the
 * pool stops the peer that has been idle longest (of another project or group; never a warm
 * peer, never one with work): it finishes, saves its project's scene and leaves (SIGTERM),
 * and the waiting project starts in its place when it has exited.
 *
 * Idle is read off the work stream, which the pool looks at every second anyway: a peer is
 * quiet while its lane holds no message (a running job's message stays until its end is
 * recorded). That needs no report from the peer, and no clock but the pool's own.
 */
import type { RunningPeer } from "./process-launcher.js";

/** A peer quiet for less than this is not handed over: its agent may be about to call again. ms */
export const HANDOVER_QUIET_MS = 2_000;

export class QuietPeers {
  /** Since when each purpose's lane has been empty (ms since the epoch). */
  readonly #quietSince = new Map<string, number>();
  /** Peers told to stop to make room, until they exit. */
  readonly #leaving = new Set<string>();

  /** Notes which purposes have work now; the others are quiet from now on (if not already). */
  observe(peers: RunningPeer[], busyPurposes: ReadonlySet<string>, now = Date.now()): void {
    const running = new Set(peers.map((peer) => peer.spec.purpose));
    for (const purpose of [...this.#quietSince.keys()]) if (!running.has(purpose) || busyPurposes.has(purpose)) this.#quietSince.delete(purpose);
    for (const purpose of running) if (!busyPurposes.has(purpose) && !this.#quietSince.has(purpose)) this.#quietSince.set(purpose, now);
    const uuids = new Set(peers.map((peer) => peer.spec.uuid));
    for (const uuid of this.#leaving) if (!uuids.has(uuid)) this.#leaving.delete(uuid);
  }

  /** The peer quiet longest among `candidates` (started, not warm, quiet long enough), or undefined. */
  longestQuiet(candidates: RunningPeer[], now = Date.now()): RunningPeer | undefined {
    let chosen: { peer: RunningPeer; since: number } | undefined;
    for (const peer of candidates) {
      const since = this.#quietSince.get(peer.spec.purpose);
      if (!peer.bridge || peer.spec.purpose.startsWith("warm:") || this.#leaving.has(peer.spec.uuid)) continue;
      if (since === undefined || now - since < HANDOVER_QUIET_MS) continue;
      if (!chosen || since < chosen.since) chosen = { peer, since };
    }
    return chosen?.peer;
  }

  /** Records that `peer` was told to leave to make room. */
  leave(peer: RunningPeer): void {
    this.#leaving.add(peer.spec.uuid);
  }
}
