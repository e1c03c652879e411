/**
 * What a peer of a project (FABRIC_PROJECT_ID) does for its project, start to end:
 * - it takes the project's lease (project-lease.ts: one Blender per project) and renews it
 *   from then on; while it has to wait for the lease, it holds no Blender (the one started
 *   with the bridge, for a fast cold start, is stopped, and a fresh one starts with the lease);
 * - it downloads the scene the project's last peer saved (`<u>/projects/<id>/scene.blend` in
 *   the tenant's blend store) while Blender starts, and opens it as soon as both are there;
 *   the bridge takes no work before (`sceneOpened`);
 * - it saves the scene back every FABRIC_PROJECT_SAVE_SECONDS when a job that may change the
 *   scene ran since, and when it leaves, each time only while the lease is still its own (a
 *   peer that only read, or ran nothing, uploads nothing);
 * - the last saved copy is also kept on disk, and Blender restarts with it (a crashed Blender
 *   comes back with the saved scene, not the one the peer started with).
 * Losing the lease (another peer took the project over) is reported through `onLost`; the
 * peer must then stop without saving.
 */
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProjectLease, type BlendFiles, type PeerApiClient } from "@blender-fabric/engine";
import type { BlenderPeer } from "./blender-peer.js";
import type { BridgeEnv } from "./env.js";
import type { Logger } from "./logger.js";
import { bridgeWorkRoot, privateCopyOf } from "./work-root.js";

/** A lease not renewed for this many heartbeats belongs to a dead peer. */
const LEASE_STALE_HEARTBEATS = 3;
/** Longest a save may take (a Blender stuck in a script never answers). ms */
const SAVE_TIMEOUT_MS = 60_000;

export type ProjectKeeperOptions = {
  env: BridgeEnv;
  /** The peer API, as this boot of this peer (the lease names both). */
  api: PeerApiClient;
  blends: BlendFiles;
  /** The Blender started with the bridge. */
  peer: BlenderPeer;
  /** Starts another Blender, for a peer that stopped its first one while waiting for the lease. */
  newPeer: () => BlenderPeer;
  logger: Logger;
};

export class ProjectKeeper {
  readonly #options: ProjectKeeperOptions;
  readonly #lease: ProjectLease;
  /** The Blender that holds the project's scene. */
  readonly peer: BlenderPeer;
  /** The bridge's own folder: the last save, which Blender restarts with (read-only in a sandbox). */
  readonly #folder: string;
  /** The folder Blender opens the first scene from and saves into, shared with it (work-root.ts). */
  readonly #shared: string;
  #renewal: NodeJS.Timeout | undefined;
  #autosave: NodeJS.Timeout | undefined;
  #saving: Promise<unknown> = Promise.resolve();
  #savedAfterJobs = 0;
  #lost = false;
  /** Called once if another peer takes the project over. */
  onLost: () => void = () => {};
  /** Settles once Blender has the project's saved scene open (at once for a new project); rejects if it cannot. */
  sceneOpened: Promise<void> = Promise.resolve();

  private constructor(options: ProjectKeeperOptions, lease: ProjectLease, peer: BlenderPeer, folder: string, shared: string) {
    this.#options = options;
    this.#lease = lease;
    this.peer = peer;
    this.#folder = folder;
    this.#shared = shared;
  }

  get #projectId(): string {
    return this.#options.env.FABRIC_PROJECT_ID!;
  }

  /**
   * Waits for the project's lease, then downloads its saved scene while Blender may still be
   * starting; `sceneOpened` settles once Blender has it open (take no work before that).
   */
  static async start(options: ProjectKeeperOptions): Promise<ProjectKeeper> {
    const { env, logger } = options;
    const projectId = env.FABRIC_PROJECT_ID!;
    let waited: Promise<void> | undefined;
    const lease = await ProjectLease.acquire(options.api, projectId, {
      staleAfterMs: LEASE_STALE_HEARTBEATS * env.FABRIC_HEARTBEAT_SECONDS * 1000,
      onWait: (holder) => {
        logger.info({ project: projectId, holder: holder.holder_uuid }, "waiting for the project's previous peer to save and leave; no Blender meanwhile");
        waited ??= options.peer.stop();
      },
    });
    logger.info({ project: projectId, waited: !!waited }, "project lease held");
    if (waited) await waited;
    const peer = waited ? options.newPeer() : options.peer;
    const keeper = new ProjectKeeper(options, lease, peer, await mkdtemp(join(tmpdir(), "fabric-project-")), await mkdtemp(join(bridgeWorkRoot(), "project-")));
    keeper.#renewal = setInterval(() => void keeper.#renew(), env.FABRIC_HEARTBEAT_SECONDS * 1000);
    // Downloaded where the running Blender can open it, before it runs anyone's code.
    const scene = join(keeper.#shared, "scene.blend");
    const saved = await options.blends.downloadProjectScene(projectId, scene);
    logger.info({ project: projectId, saved }, "project scene downloaded");
    keeper.sceneOpened = keeper.#open(saved ? scene : undefined);
    keeper.sceneOpened.catch(() => {}); // whoever takes work awaits it and hears the failure
    return keeper;
  }

  async #open(scene: string | undefined): Promise<void> {
    if (scene) {
      await this.#run(`bpy.ops.wm.open_mainfile(filepath=${JSON.stringify(scene)})`, "open");
      this.#options.env.FABRIC_BLEND_FILE = scene;
    }
    this.#options.logger.info({ project: this.#projectId, scene: scene ? "saved scene" : "new" }, "project scene opened");
  }

  /** Saves every FABRIC_PROJECT_SAVE_SECONDS while jobs run; `sceneChanges` counts the jobs that may have changed the scene. */
  autosave(sceneChanges: () => number): void {
    const seconds = this.#options.env.FABRIC_PROJECT_SAVE_SECONDS;
    if (seconds > 0) this.#autosave = setInterval(() => void this.saveIfChanged(sceneChanges()), seconds * 1000);
  }

  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Saves the scene when a job that may have changed it ran since the last save (or since the
   * scene was opened), while the lease is still this peer's.
   */
  saveIfChanged(sceneChanges: number): Promise<unknown> {
    if (sceneChanges === this.#savedAfterJobs || this.#lost) return this.#saving;
    this.#saving = this.#saving.then(async () => {
      const { logger } = this.#options;
      try {
        // A peer that was paused past the lease's stale time must not save over its successor.
        if (!(await this.#renew())) return;
        const size = await this.#save();
        this.#savedAfterJobs = sceneChanges;
        logger.info({ project: this.#projectId, size }, "project scene saved");
      } catch (error) {
        logger.error({ err: error, project: this.#projectId }, "project scene NOT saved");
      }
    });
    return this.#saving;
  }

  async #save(): Promise<number> {
    const { blends, env } = this.#options;
    const saving = join(this.#shared, "saving.blend");
    // copy=True: Blender's own file name and state stay as they are.
    await this.#run(`bpy.ops.wm.save_as_mainfile(filepath=${JSON.stringify(saving)}, copy=True, compress=False)`, "save");
    // Stored and kept from where Blender can no longer swap it for a link to a file of the bridge's.
    const own = await privateCopyOf(saving);
    try {
      const { size } = await blends.putProjectScene(this.#projectId, own.path);
      const scene = join(this.#folder, "scene.blend");
      await rename(own.path, scene);
      env.FABRIC_BLEND_FILE = scene; // a Blender that restarts comes back with this save
      return size;
    } finally {
      await own.remove();
    }
  }

  async #run(script: string, what: string): Promise<void> {
    const { peer } = this;
    await peer.start();
    let timer: NodeJS.Timeout | undefined;
    const reply = await Promise.race([
      peer.request({ type: "script", script, job_id: `project-${what}-${Date.now()}` }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Blender did not ${what} the scene within ${SAVE_TIMEOUT_MS / 1000} s`)), SAVE_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!reply.ok) throw new Error(`Blender could not ${what} the project's scene: ${reply.error ?? "failed"}`);
  }

  /** True while the lease is this peer's; on losing it, reports once. KV trouble counts as still held. */
  async #renew(): Promise<boolean> {
    if (this.#lost) return false;
    const held = await this.#lease.renew().catch(() => true);
    if (!held) {
      this.#lost = true;
      this.#options.logger.error({ project: this.#projectId }, "another peer took this project over; stopping without saving");
      this.onLost();
    }
    return held;
  }

  /** Stops renewing and saving; after the last save, gives the project up. */
  async release(): Promise<void> {
    this.stop();
    if (!this.#lost) await this.#lease.release();
    await rm(this.#folder, { recursive: true, force: true });
    await rm(this.#shared, { recursive: true, force: true });
  }

  /** Stops renewing and saving without giving the lease up (a peer killed mid-start). */
  stop(): void {
    clearInterval(this.#renewal);
    clearInterval(this.#autosave);
  }
}
