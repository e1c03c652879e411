/**
 * The Blender behind a bridge, in either mode, always reconnecting:
 * - spawn: starts headless Blender (in a sandbox: FABRIC_SANDBOX) and starts it again
 *   whenever it dies;
 * - attach: connects to a GUI Blender's addon and reconnects when the connection drops.
 * Whatever was in flight when Blender went away fails with {@link AddonConnectionLost}.
 */
import {
  AddonConnection,
  AddonConnectionLost,
  type AddonHello,
  type AddonProgress,
  type AddonReply,
  type AddonRequest,
} from "./addon-connection.js";
import type { RunningBlender } from "./blender-process.js";
import { chooseSandbox, type Sandbox } from "./blender-sandbox.js";
import { blenderStartOf, sameStart, spawnBlender, type EarlyBlender } from "./blender-start.js";
import type { BridgeEnv } from "./env.js";
import type { Logger } from "./logger.js";
import { distrustBlenderPaths } from "./work-root.js";

/** Pause before starting or reconnecting again after a failure. ms */
const RETRY_DELAY_MS = 500;
/** How long a lost connection waits to learn how Blender ended. ms */
const EXIT_GRACE_MS = 1_000;
/** How long Blender gets to exit after SIGTERM before SIGKILL. ms */
const STOP_GRACE_MS = 3_000;
/** How long work waits for a Blender that went away to come back before it fails. ms */
const RETURN_TIMEOUT_MS = 60_000;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class BlenderPeer {
  readonly #env: BridgeEnv;
  readonly #logger: Logger;
  readonly #sandbox: Sandbox | undefined;
  /** Blender started as the process started (blender-start.ts): the first start uses it. */
  #early: EarlyBlender | undefined;
  #connection: AddonConnection | undefined;
  #blender: RunningBlender | undefined;
  #ready: Promise<AddonConnection>;
  #stopped = false;
  #onProgress: (progress: AddonProgress) => void = () => {};
  /** Called with the handshake each time Blender (re)connects. */
  onConnected: (hello: AddonHello) => void = () => {};
  /** Called with a reason each time Blender goes away. */
  onLost: (reason: string) => void = () => {};

  /**
   * Throws SandboxUnavailable when FABRIC_SANDBOX=bwrap and bubblewrap cannot run here.
   * `early`: a Blender already starting, used when it was started exactly as `env` asks.
   */
  constructor(env: BridgeEnv, logger: Logger, early?: EarlyBlender) {
    this.#env = env;
    this.#logger = logger;
    if (early && (env.FABRIC_MODE !== "spawn" || !sameStart(early.start, blenderStartOf(env)))) early.abandon();
    else this.#early = early;
    // Decided once per bridge, so an unsandboxed Blender is warned about once, not per start.
    if (this.#early?.sandboxWarning) logger.warn(this.#early.sandboxWarning);
    this.#sandbox = this.#early
      ? this.#early.sandbox
      : env.FABRIC_MODE === "spawn"
        ? chooseSandbox(env.FABRIC_SANDBOX, (message) => logger.warn(message))
        : undefined;
    if (this.#sandbox) distrustBlenderPaths();
    this.#ready = this.#connectUntilReady();
    this.#ready.catch(() => {}); // rejects only once stopped
  }

  /** Resolves once a Blender is connected the first time. */
  async start(): Promise<AddonHello> {
    return (await this.#ready).hello;
  }

  get hello(): AddonHello | undefined {
    return this.#connection?.hello;
  }

  async #connectUntilReady(): Promise<AddonConnection> {
    for (;;) {
      const startedAt = this.#early?.startedAt ?? Date.now();
      try {
        const connection = await this.#connectOnce();
        this.#connection = connection;
        this.#logger.info({ blender_pid: connection.hello.pid, ms: Date.now() - startedAt }, "Blender ready");
        connection.onProgress((progress) => this.#onProgress(progress));
        void this.#watch(connection);
        this.onConnected(connection.hello);
        return connection;
      } catch (error) {
        if (this.#stopped) throw error;
        this.#logger.warn({ err: error }, "Blender is not available yet; retrying");
        await delay(RETRY_DELAY_MS);
      }
    }
  }

  async #connectOnce(): Promise<AddonConnection> {
    if (this.#env.FABRIC_MODE === "attach") {
      return AddonConnection.open(this.#env.FABRIC_ADDON_HOST, this.#env.FABRIC_ADDON_PORT, this.#env.FABRIC_ADDON_TOKEN);
    }
    const logOutput = (line: string) => this.#logger.debug({ blender: line }, "blender output");
    const early = this.#early;
    this.#early = undefined; // used once: a Blender that dies is started again from here
    early?.followOutput(logOutput);
    // From the environment as it is now: a project's peer restarts Blender with its project's scene.
    const blender = await (early?.blender ?? spawnBlender(blenderStartOf(this.#env), this.#sandbox, logOutput));
    this.#blender = blender;
    if (this.#stopped) {
      // Told to stop while it was starting (a project's peer that must wait for its lease).
      blender.kill("SIGKILL");
      throw new Error("stopped while Blender was starting");
    }
    try {
      const connection = await AddonConnection.openAt(blender.endpoint, blender.token);
      // Blender knows its pid inside its sandbox; the registry names it by its pid here.
      connection.hello = { ...connection.hello, pid: blender.pid };
      return connection;
    } catch (error) {
      blender.kill("SIGKILL");
      throw error;
    }
  }

  /** When Blender goes away: report it, then bring it back (spawn) or reconnect (attach). */
  async #watch(connection: AddonConnection): Promise<void> {
    const blender = this.#blender;
    const reason = await Promise.race([
      connection.closed.then(() => "the addon connection closed"),
      ...(blender ? [blender.exited.then((how) => `Blender ${how}`)] : []),
    ]);
    connection.close();
    blender?.kill("SIGKILL");
    if (this.#stopped) return;
    this.#connection = undefined;
    this.#logger.warn({ reason }, "Blender went away; bringing it back");
    this.onLost(reason);
    this.#ready = this.#connectUntilReady();
    this.#ready.catch(() => {}); // rejects only once stopped
  }

  /**
   * Sends a request to the current Blender, waiting for one to be connected first. When
   * Blender dies meanwhile, the error says how (e.g. "Blender killed by SIGKILL").
   */
  async request(request: AddonRequest): Promise<AddonReply> {
    const connection = this.#connection ?? (await this.#waitForReturn());
    const blender = this.#blender;
    try {
      return await connection.request(request);
    } catch (error) {
      if (!(error instanceof AddonConnectionLost) || !blender) throw error;
      const how = await Promise.race([blender.exited, delay(EXIT_GRACE_MS).then(() => undefined)]);
      throw new AddonConnectionLost(how ? `Blender ${how}` : error.message);
    }
  }

  /** Waits for Blender to be connected again, but not forever: queued work then fails clearly. */
  async #waitForReturn(): Promise<AddonConnection> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AddonConnectionLost(`Blender has not come back within ${RETURN_TIMEOUT_MS / 1000} s`)),
        RETURN_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([this.#ready, gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends a Blender that is stuck (spawn mode): what it runs fails, and the watcher starts a
   * new one. An artist's GUI Blender (attach mode) is never killed: returns false there.
   */
  restart(): boolean {
    if (this.#env.FABRIC_MODE !== "spawn" || !this.#blender) return false;
    this.#blender.kill("SIGKILL");
    return true;
  }

  /** Fails at once when no Blender is connected (a cancel must not wait for a restart). */
  requestNow(request: AddonRequest): Promise<AddonReply> {
    return this.#connection?.request(request) ?? Promise.reject(new AddonConnectionLost("Blender is not connected"));
  }

  onProgress(listener: (progress: AddonProgress) => void): void {
    this.#onProgress = listener;
  }

  /** Ends Blender (spawn mode) and resolves once it has exited: SIGTERM, then SIGKILL after a grace. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#connection?.close();
    // A Blender still starting is killed as soon as it is up (#connectOnce sees the stop).
    if (!this.#blender) await this.#ready.catch(() => {});
    const blender = this.#blender;
    if (!blender || blender.child.exitCode !== null || blender.child.signalCode !== null) return;
    const killer = setTimeout(() => blender.kill("SIGKILL"), STOP_GRACE_MS);
    blender.kill("SIGTERM");
    await blender.exited;
    clearTimeout(killer);
  }
}
