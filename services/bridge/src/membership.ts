/**
 * The peer's place in the registry, through the peer API: it registers this boot (again
 * whenever Blender restarts with a new pid), heartbeats, and registers again if it was
 * evicted meanwhile.
 */
import { hostname } from "node:os";
import { PeerApiError, type PeerApiClient } from "@blender-fabric/engine";
import { PeerApiErrorCode } from "@blender-fabric/protocol";
import type { AddonHello } from "./addon-connection.js";
import type { BridgeEnv } from "./env.js";
import type { Logger } from "./logger.js";

/** Pause between registrations while no trusted replica answers. ms */
const REGISTER_RETRY_MS = 1_000;

export type Health = { queue_depth: number; active_jobs: number };

export class Membership {
  readonly #api: PeerApiClient;
  readonly #env: BridgeEnv;
  readonly #logger: Logger;
  readonly #health: () => Health;
  #heartbeat: NodeJS.Timeout | undefined;
  /** The Blender registered on the bus now; undefined while there is none (its /readyz). */
  #registered: { uuid: string; blender_pid: number; incarnation: string } | undefined;
  #lastHello: AddonHello | undefined;

  constructor(api: PeerApiClient, env: BridgeEnv, logger: Logger, health: () => Health) {
    this.#api = api;
    this.#env = env;
    this.#logger = logger;
    this.#health = health;
  }

  get registered() {
    return this.#registered;
  }

  /**
   * Registers this boot. While no trusted replica answers the peer API yet (a bridge started
   * before the gateways), it waits for one instead of failing.
   */
  async register(hello: AddonHello): Promise<void> {
    for (let waiting = false; ; waiting = true) {
      try {
        return await this.#registerOnce(hello);
      } catch (error) {
        if (!(error instanceof PeerApiError) || error.code !== PeerApiErrorCode.Unavailable) throw error;
        if (!waiting) this.#logger.warn({ err: error }, "no gateway answers the peer API yet; waiting for one");
        await new Promise((resolve) => setTimeout(resolve, REGISTER_RETRY_MS));
      }
    }
  }

  async #registerOnce(hello: AddonHello): Promise<void> {
    const env = this.#env;
    this.#lastHello = hello;
    await this.#api.call("register", {
      registration: {
        client_type: env.FABRIC_CLIENT_TYPE,
        label: env.FABRIC_LABEL ?? env.FABRIC_CLIENT_UUID,
        capabilities: env.FABRIC_CAPABILITIES,
        group_id: env.FABRIC_GROUP_ID ?? null,
        farm_worker: env.FABRIC_FARM_WORKER,
        ...(env.FABRIC_PROJECT_ID ? { project_id: env.FABRIC_PROJECT_ID } : {}),
        ...(hello.pid === undefined ? {} : { pid: hello.pid }),
        hostname: hostname(),
        blend_file: hello.blend_file ?? "",
        blender_version: hello.blender_version,
        health: this.#health(),
      },
    });
    this.#registered = { uuid: env.FABRIC_CLIENT_UUID, blender_pid: hello.pid ?? 0, incarnation: this.#api.incarnation };
    this.#logger.info(
      { uuid: env.FABRIC_CLIENT_UUID, user: env.FABRIC_USER, blender_pid: hello.pid, incarnation: this.#api.incarnation, uptime_ms: Math.round(process.uptime() * 1000) },
      "bridge ready",
    );
  }

  /** Blender went away: not on the bus until it is back. */
  lost(): void {
    this.#registered = undefined;
  }

  startHeartbeat(): void {
    this.#heartbeat = setInterval(() => void this.#beat(), this.#env.FABRIC_HEARTBEAT_SECONDS * 1000);
  }

  async #beat(): Promise<void> {
    try {
      const { alive } = await this.#api.call("heartbeat", { health: this.#health() });
      // Evicted or unregistered meanwhile: join again.
      if (!alive && this.#lastHello && this.#heartbeat) await this.#registerOnce(this.#lastHello);
    } catch (error) {
      this.#logger.warn({ err: error }, "heartbeat failed");
    }
  }

  stop(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
